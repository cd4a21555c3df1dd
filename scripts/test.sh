#!/usr/bin/env bash
# Command 2 of the README: sets everything up, runs the C++ hardening checks
# (sanitizers, fuzzing: scripts/hardening.sh), then every test through ctest:
# the C++ unit tests, the find_package consumer example, and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
# Sanitizer builds and the fuzz run first, so that ctest's summary closes the output.
bash scripts/hardening.sh
cmake -S . -B build/cpp -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython3_EXECUTABLE="$PWD/.venv/bin/python" >/dev/null
cmake --build build/cpp
ctest --test-dir build/cpp --output-on-failure "$@"
