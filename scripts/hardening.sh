#!/usr/bin/env bash
# C++ hardening, run by scripts/test.sh before the main suite (and on its own):
#   1. every C++ test under AddressSanitizer + UndefinedBehaviorSanitizer;
#   2. the threaded tests (queue, pool, live reads, borrowed frames, streams)
#      under ThreadSanitizer;
#   3. the settings parser, the frame-metadata path and its quick JSON check
#      (against nlohmann::json) under libFuzzer (clang,
#      ASan + UBSan), FUZZ_SECONDS each (default 30), from tests/fuzz/corpus.
# Each uses its own build directory under build/ (kept: later runs rebuild only
# what changed). Needs scripts/setup.sh first (it installs clang).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds="${FUZZ_SECONDS:-30}"
# -O1 -g1: quick to build, fast enough to run, and reports name file and line.
common=(-G Ninja -DCMAKE_BUILD_TYPE= -DOME_WRITERS_BUILD_PYTHON=OFF
  -DOME_WRITERS_INSTALL=OFF -DPython3_EXECUTABLE=/nonexistent)

sanitized_build() {  # dir, sanitizer flags, [extra cmake args...]
  local dir="$1" flags="$2"
  shift 2
  cmake -S . -B "$dir" "${common[@]}" "-DCMAKE_CXX_FLAGS=$flags -O1 -g1 -fno-omit-frame-pointer" \
    "-DCMAKE_EXE_LINKER_FLAGS=$flags" "-DCMAKE_SHARED_LINKER_FLAGS=$flags" "$@" >/dev/null
}

echo "hardening: AddressSanitizer + UndefinedBehaviorSanitizer"
asan_flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
sanitized_build build/asan "$asan_flags"
cmake --build build/asan --target ome_writers_tests
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  build/asan/tests/ome_writers_tests --gtest_brief=1

echo "hardening: ThreadSanitizer"
sanitized_build build/tsan "-fsanitize=thread"
cmake --build build/tsan --target ome_writers_tests
TSAN_OPTIONS=halt_on_error=1 build/tsan/tests/ome_writers_tests --gtest_brief=1 \
  --gtest_filter='*LiveReads*:*LiveFrames*:*FrameQueue*:*BufferPool*:*MemoryBudget*:*TaskPool*:*Borrow*:StreamTest.*:*Checkpoint*:*CrashConsistency*'

echo "hardening: libFuzzer, ${fuzz_seconds} s per target"
sanitized_build build/fuzz "$asan_flags -fsanitize=fuzzer-no-link" \
  -DCMAKE_CXX_COMPILER=clang++-14 -DOME_WRITERS_FUZZ=ON
cmake --build build/fuzz --target settings_fuzz frame_metadata_fuzz json_check_fuzz
for target in settings frame_metadata json_check; do
  work="build/fuzz/corpus-$target"
  log="build/fuzz/$target.log"
  mkdir -p "$work"
  # libFuzzer exits non-zero on a finding: then show its whole report.
  if ! ASAN_OPTIONS=detect_leaks=1 "build/fuzz/tests/${target}_fuzz" "$work" \
    "tests/fuzz/corpus/$target" -max_total_time="$fuzz_seconds" -print_final_stats=1 >"$log" 2>&1; then
    cat "$log"
    echo "hardening: ${target}_fuzz found a failure (reproducer in the log above)"
    exit 1
  fi
  grep -E "^stat::number_of_executed_units|^Done" "$log" | sed "s/^/  $target: /"
done
rm -rf "${TMPDIR:-/tmp}"/ome_writers_fuzz_*
echo "hardening: all clean"
