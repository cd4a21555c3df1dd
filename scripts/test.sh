#!/usr/bin/env bash
# Command 2 of the README: sets everything up, then runs every test through
# ctest: the C++ unit tests, the find_package consumer example, and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
cmake -S . -B build/cpp -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython3_EXECUTABLE="$PWD/.venv/bin/python" >/dev/null
cmake --build build/cpp
ctest --test-dir build/cpp --output-on-failure "$@"
