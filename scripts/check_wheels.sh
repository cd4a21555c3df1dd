#!/usr/bin/env bash
# Installs each wheel of dist/ (scripts/build_wheels.sh) into a fresh virtual
# environment of every Python it serves: cp310 -> 3.10, cp311 -> 3.11,
# cp312-abi3 -> 3.12 and 3.13. pip takes only wheels (--only-binary :all:), so
# nothing is compiled and no build tool or -dev package is used. In each:
#   1. with only the wheel and its dependencies: import it from the venv, run
#      examples/demo_acquisition.py and the 0.3.2 seed example (both formats),
#      then `ome-writers info` and `validate` on what they wrote;
#   2. with the test readers added (the wheel's [test] extra): a smoke subset of
#      pytest against the installed wheel (-m "not slow").
# The environments live in a temporary directory, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/pythons.sh
source scripts/pythons.sh
SMOKE_TESTS=(tests/python/test_examples.py tests/python/test_cli.py tests/python/test_logging.py
  tests/python/test_stream_api.py tests/python/test_tiff_engine.py tests/python/test_zarr_engine.py)
SEED="$ROOT/build/seed-cache/event_driven.py"
if [ ! -f "$SEED" ]; then
  echo "check_wheels: $SEED is missing (scripts/setup.sh provisions it)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ome_writers_wheels.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$SECONDS
results=()
for version in 3.10 3.11 3.12 3.13; do
  t0=$SECONDS
  case "$version" in
    3.10) pattern="dist/*-cp310-cp310-manylinux*.whl" ;;
    3.11) pattern="dist/*-cp311-cp311-manylinux*.whl" ;;
    *) pattern="dist/*-cp312-abi3-manylinux*.whl" ;;
  esac
  # shellcheck disable=SC2086
  whl=$(ls $pattern 2>/dev/null | head -n1 || true)
  if [ -z "$whl" ]; then
    echo "check_wheels: no wheel for Python $version in dist/ ($pattern)" >&2
    exit 1
  fi
  echo "check_wheels: Python $version <- $(basename "$whl")"
  venv="$work/venv-$version"
  "$(find_python "$version")" -m venv "$venv"
  py="$venv/bin/python"
  log="$work/pip-$version.log"
  # Nothing but pip: venv's setuptools (3.10, 3.11) goes too.
  { "$py" -m pip install -q --upgrade pip && "$py" -m pip uninstall -q -y setuptools wheel; } \
    >"$log" 2>&1 || { cat "$log"; exit 1; }
  "$py" -m pip install -q --only-binary :all: "$ROOT/$whl" >>"$log" 2>&1 || { cat "$log"; exit 1; }
  tools=$("$py" -m pip list --format=freeze 2>/dev/null |
    grep -iE '^(setuptools|wheel|cmake|ninja|scikit[-_]build[-_]core|nanobind|pybind11|cython|meson)==' || true)
  if [ -n "$tools" ]; then
    echo "check_wheels: build tools in the fresh venv: $tools" >&2
    exit 1
  fi

  # 1. The wheel alone.
  out="$work/out-$version"
  mkdir -p "$out"
  (
    cd "$out"
    "$py" - "$venv" <<'EOF'
import sys
from pathlib import Path

import ome_writers
import ome_writers._core as core

venv = Path(sys.argv[1]).resolve()
for module in (ome_writers, core):
    assert venv in Path(module.__file__).resolve().parents, (module.__file__, venv)
print(f"  imported {Path(core.__file__).name} from the venv, ome_writers {ome_writers.__version__}")
print("  linked: " + ", ".join(f"{k} {v}" for k, v in core.dependency_versions().items()))
EOF
    "$py" "$ROOT/examples/demo_acquisition.py" "$out/demo" | sed 's/^/  /'
    "$py" "$SEED" tiff >/dev/null
    "$py" "$SEED" zarr >/dev/null
    for target in demo/demo.ome.zarr demo/demo.ome.tiff example_event_driven.ome.tiff \
      example_event_driven.ome.zarr; do
      "$venv/bin/ome-writers" info "$target" >info.txt
      "$venv/bin/ome-writers" validate "$target" >validate.txt
      echo "  info: $(head -n1 info.txt)"
      echo "  validate: $(tail -n1 validate.txt)"
    done
  )

  # 2. The test readers, then the smoke subset against the installed wheel.
  "$py" -m pip install -q --only-binary :all: "$ROOT/$whl[test]" >>"$log" 2>&1 || { cat "$log"; exit 1; }
  summary=$(cd "$work" && "$py" -m pytest "${SMOKE_TESTS[@]/#/$ROOT/}" -q -m "not slow" \
    -p no:cacheprovider --rootdir="$ROOT" 2>&1 | tee "$work/pytest-$version.log" | tail -n1) || {
    cat "$work/pytest-$version.log"
    echo "check_wheels: pytest failed on Python $version" >&2
    exit 1
  }
  echo "  pytest (smoke, installed wheel): $summary"
  results+=("Python $version: $(basename "$whl"): both formats written; $summary ($((SECONDS - t0)) s)")
done
echo "check_wheels: every wheel installs and works in a fresh venv ($((SECONDS - start)) s):"
printf '  %s\n' "${results[@]}"
