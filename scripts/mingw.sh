#!/usr/bin/env bash
# The Windows build, tested under wine: cross-compiles the library, the C++
# tests and the examples/cpp consumer with mingw-w64 against dependencies
# cross-built from Debian's source packages (scripts/mingw/deps.sh, cached
# outside the clone in ~/.cache/ome-writers/mingw/), then runs through ctest,
# under wine64: every gtest, the consumer example writing OME-Zarr and
# OME-TIFF to a Windows path (Z:\...), and pytest judging that output with
# zarr-python, tensorstore, tifffile and ome-types (tests/python/test_cpp_output.py).
#
# Usage: bash scripts/mingw.sh [ctest arguments]
# Needs: g++-mingw-w64-x86-64 and wine64 (Debian), deb-src entries for
# `apt-get source`, and the .venv of scripts/setup.sh (the Python readers).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
jobs="${JOBS:-2}"

missing=()
for pkg in g++-mingw-w64-x86-64 wine64 dpkg-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "mingw: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export OME_WRITERS_MINGW_CACHE="${OME_WRITERS_MINGW_CACHE:-$HOME/.cache/ome-writers/mingw}"
mkdir -p "$OME_WRITERS_MINGW_CACHE"
# The dependency build is keyed by its recipe and the compiler.
key=$( (cat scripts/mingw/deps.sh scripts/debian_source.sh scripts/mingw/toolchain.cmake; x86_64-w64-mingw32-g++-posix --version) |
  sha256sum | cut -c1-16)
prefix="$OME_WRITERS_MINGW_CACHE/deps-$key"
if [ ! -f "$prefix/.complete" ]; then
  echo "mingw: cross-building the dependencies into $prefix"
  JOBS="$jobs" bash scripts/mingw/deps.sh "$prefix"
  touch "$prefix/.complete"
else
  echo "mingw: dependencies from the cache ($prefix)"
fi
deps_done=$(date +%s)

export OME_WRITERS_MINGW_PREFIX="$prefix"
build=build/mingw
PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH="" cmake -S . -B "$build" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/scripts/mingw/toolchain.cmake" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DOME_WRITERS_STATIC_DEPS="$prefix" \
  -DPython3_EXECUTABLE="$PWD/.venv/bin/python" >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j"$jobs"
built=$(date +%s)

# One wine server for all the tests (each would otherwise start its own and
# wait for it), stopped at the end.
export WINEPREFIX="$OME_WRITERS_MINGW_CACHE/wineprefix"
wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver64)
if "$wineserver" -p 2>/dev/null; then
  trap '"$wineserver" -k 2>/dev/null || true' EXIT
else
  # One is running for this prefix already (an earlier run, or someone
  # debugging under wine): use it, and leave it running.
  echo "mingw: using the wine server already running for $WINEPREFIX"
fi
# Wine's services (services.exe, winedevice...) start with the first program
# and live as long as the server: started here, on /dev/null, so that they do
# not hold a test's output open (ctest would wait for them).
scripts/mingw/wine_run.sh wineboot </dev/null >/dev/null 2>&1
status=0
ctest --test-dir "$build" -L 'cpp|consumer' -j"$jobs" --output-on-failure "$@" || status=$?
end=$(date +%s)
echo "mingw: dependencies $((deps_done - start)) s, build $((built - deps_done)) s," \
  "tests under wine $((end - built)) s, total $((end - start)) s"
exit "$status"
