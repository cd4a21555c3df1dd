#!/usr/bin/env bash
# Command 2 of the README: sets everything up, runs the C++ hardening checks
# (sanitizers, fuzzing: scripts/hardening.sh), builds the wheels and tries each
# in fresh virtual environments (scripts/build_wheels.sh, scripts/check_wheels.sh),
# the portable-fallback and Windows builds (scripts/portable.sh, scripts/mingw.sh),
# then every test through ctest: the C++ unit tests, the find_package consumer
# example, and pytest (whose own summary line is printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
# Sanitizer builds and the fuzz run first, so that ctest's summary closes the output.
bash scripts/hardening.sh
# The wheels users install: built from the sdist, then each installed in fresh
# venvs of Python 3.10-3.13 and tried there.
bash scripts/build_wheels.sh
bash scripts/check_wheels.sh
# The platform layer's portable fallback on Linux (C++ tests, consumer, pytest
# against a fallback-built module), then the Windows build: cross-built with
# mingw-w64, its C++ tests and the consumer example run under wine, the
# example's output read back by the Python readers.
bash scripts/portable.sh
bash scripts/mingw.sh
cmake -S . -B build/cpp -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython3_EXECUTABLE="$PWD/.venv/bin/python" >/dev/null
cmake --build build/cpp
status=0
ctest --test-dir build/cpp --output-on-failure "$@" || status=$?
# pytest's summary line, from ctest's log of the run.
grep -hE '^(=+ )?[0-9]+ (passed|failed|errors?)\b.* in [0-9.]+s' build/cpp/Testing/Temporary/LastTest.log |
  sed 's/^/pytest (ctest entry): /' || true
exit "$status"
