# Sourced by scripts/build_wheels.sh and scripts/check_wheels.sh.
# find_python X.Y prints an interpreter of CPython X.Y that can create virtual
# environments: pyenv's newest X.Y.*, else python X.Y from PATH or /usr/bin.
find_python() {
  local v="$1" c
  local candidates=()
  mapfile -t candidates < <(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -rV)
  candidates+=("$(command -v "python$v" 2>/dev/null || true)" "/usr/bin/python$v" "/usr/local/bin/python$v")
  for c in "${candidates[@]}"; do
    if [ -n "$c" ] && [ -x "$c" ] && "$c" -c "import sys, venv, ensurepip
sys.exit(sys.version_info[:2] != tuple(int(x) for x in '$v'.split('.')))" 2>/dev/null; then
      echo "$c"
      return 0
    fi
  done
  echo "no CPython $v with venv found (install it, e.g. 'pyenv install $v')" >&2
  return 1
}
