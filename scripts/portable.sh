#!/usr/bin/env bash
# The portable fallback of the platform layer, on Linux: the core built with
# OME_WRITERS_PORTABLE_IO=ON (buffered POSIX I/O and standard C++ memory; no
# O_DIRECT, O_TMPFILE, pwritev, syncfs, sync_file_range, mmap or scheduler
# classes), the way a platform without those fast paths runs. Runs its C++
# tests and the consumer example through ctest, then (unless
# OME_WRITERS_PORTABLE_PYTEST=0) builds the Python module the same way and runs
# pytest against it. Prints the seconds each part took.
#
# Usage: bash scripts/portable.sh [pytest arguments]   (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${JOBS:-2}"
py="$PWD/.venv/bin/python"
start=$(date +%s)

cmake -S . -B build/portable -G Ninja -DCMAKE_BUILD_TYPE=Release -DOME_WRITERS_PORTABLE_IO=ON \
  -DPython3_EXECUTABLE="$py" >/dev/null
cmake --build build/portable -j"$jobs"
status=0
# The C++ tests and the consumer (pytest runs below, against this build).
ctest --test-dir build/portable -L 'cpp|consumer' --output-on-failure || status=$?
cpp_done=$(date +%s)
echo "portable: C++ build and tests $((cpp_done - start)) s"
[ "$status" -eq 0 ] || exit "$status"
[ "${OME_WRITERS_PORTABLE_PYTEST:-1}" = 1 ] || exit 0

cmake -S . -B build/portable-py -G Ninja -DCMAKE_BUILD_TYPE=Release -DOME_WRITERS_PORTABLE_IO=ON \
  -DOME_WRITERS_BUILD_PYTHON=ON -DOME_WRITERS_BUILD_TESTS=OFF -DOME_WRITERS_INSTALL=OFF \
  -DPython_EXECUTABLE="$py" >/dev/null
cmake --build build/portable-py -j"$jobs" --target _core
# The package as it is in the tree, with this build's module, first on the
# path of every Python the tests start; sitecustomize takes the editable
# install's import hook (which serves the regular build) out of the way.
stage=build/portable-py/stage
rm -rf "$stage"
mkdir -p "$stage/ome_writers"
ln -s "$PWD"/python/ome_writers/* "$stage/ome_writers/"
cp "$(find build/portable-py/python -maxdepth 2 -name '_core*.so' | head -n1)" "$stage/ome_writers/"
cat >"$stage/sitecustomize.py" <<'PY'
import sys

sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("_editable_")]
PY
export PYTHONPATH="$PWD/$stage"
core=$("$py" -c 'import ome_writers._core as c; print(c.__file__)')
case "$core" in
  "$PWD/$stage"/*) echo "portable: pytest against $core" ;;
  *) echo "portable: the portable module is not the one imported ($core)" >&2; exit 1 ;;
esac
py_built=$(date +%s)
PYTHONUNBUFFERED=1 "$py" -m pytest tests/python -q -p no:cacheprovider \
  --ignore=tests/python/test_kill_torture.py --ignore=tests/python/test_soak.py "$@" || status=$?
end=$(date +%s)
echo "portable: C++ $((cpp_done - start)) s, module build $((py_built - cpp_done)) s," \
  "pytest $((end - py_built)) s, total $((end - start)) s"
exit "$status"
