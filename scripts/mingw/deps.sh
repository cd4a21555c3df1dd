#!/usr/bin/env bash
# Cross-builds, for 64-bit Windows (mingw-w64), the static libraries the core
# links, from Debian's source packages (`apt-get source`; nothing is vendored
# or committed), configured with only what ome_writers uses:
#   zlib, zstd, lz4, libdeflate, c-blosc (lz4 and zstd only), libtiff (zlib,
#   zstd, libdeflate, LZW, packbits; no jpeg, jbig, lerc, lzma, webp),
#   pugixml, and googletest for the C++ tests. libdeflate comes from the next
#   Debian release's sources, as in the wheels (scripts/debian_source.sh).
# nlohmann/json is header-only: its headers come from Debian's
# nlohmann-json3-dev (architecture independent).
#
# Usage: scripts/mingw/deps.sh PREFIX
# Leaves PREFIX/lib/*.a, PREFIX/include, PREFIX/lib/pkgconfig/nlohmann_json.pc
# and PREFIX/lib/cmake/GTest. scripts/mingw.sh calls it and caches PREFIX.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="$1"
jobs="${JOBS:-2}"
work="$prefix.work"
rm -rf "$prefix" "$work"
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include" "$work"
cd "$work"

host=x86_64-w64-mingw32
export CC=$host-gcc-posix CXX=$host-g++-posix AR=$host-gcc-ar-posix RANLIB=$host-gcc-ranlib-posix
export CFLAGS="-O2" CXXFLAGS="-O2"
toolchain="$here/toolchain.cmake"
cmake_cross=(-G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_POLICY_VERSION_MINIMUM=3.5 -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_PREFIX_PATH="$prefix"
  -DCMAKE_FIND_ROOT_PATH="/usr/$host;$prefix" -DBUILD_SHARED_LIBS=OFF -Wno-dev -Wno-deprecated)

# shellcheck source=scripts/debian_source.sh
source "$here/../debian_source.sh"

quiet() {  # runs a build step, shows its output only when it fails
  local log="$work/step.log"
  "$@" >"$log" 2>&1 || { tail -n 40 "$log"; return 1; }
}

echo "mingw deps: zlib"
src=$(fetch zlib zlib)
# (Debian's source drops zlib's win32 makefiles: the library is a few files.)
mkdir -p zlib-obj
for f in adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback inffast inflate \
  inftrees trees uncompr zutil; do
  $CC $CFLAGS -c "$src/$f.c" -o "zlib-obj/$f.o"
done
$AR rcs "$prefix/lib/libz.a" zlib-obj/*.o
cp "$src/zlib.h" "$src/zconf.h" "$prefix/include/"

echo "mingw deps: zstd"
src=$(fetch libzstd libzstd)
quiet make -C "$src/lib" -j"$jobs" libzstd.a ZSTD_LEGACY_SUPPORT=0 CC="$CC" AR="$AR"
cp "$src/lib/libzstd.a" "$prefix/lib/"
cp "$src/lib/zstd.h" "$src/lib/zstd_errors.h" "$src/lib/zdict.h" "$prefix/include/"

echo "mingw deps: lz4"
src=$(fetch lz4 lz4)
quiet make -C "$src/lib" -j"$jobs" liblz4.a CC="$CC" AR="$AR"
cp "$src/lib/liblz4.a" "$prefix/lib/"
cp "$src/lib/lz4.h" "$src/lib/lz4hc.h" "$prefix/include/"

echo "mingw deps: libdeflate"
src=$(fetch libdeflate libdeflate "$CODEC_SUITE")
# (The library is a few files; its build systems differ between releases.)
mkdir -p deflate-obj
for f in "$src"/lib/*.c "$src"/lib/*/*.c; do
  $CC $CFLAGS -I"$src" -c "$f" -o "deflate-obj/$(basename "$(dirname "$f")")_$(basename "$f" .c).o"
done
$AR rcs "$prefix/lib/libdeflate.a" deflate-obj/*.o
cp "$src/libdeflate.h" "$prefix/include/"

echo "mingw deps: c-blosc (lz4 and zstd only)"
src=$(fetch c-blosc c-blosc)
# -mxsave: its CPU detection calls _xgetbv, which mingw's headers declare for
# xsave targets only (the instruction runs only where CPUID reports it).
CFLAGS="$CFLAGS -mxsave" quiet cmake -S "$src" -B blosc-build "${cmake_cross[@]}" -DBUILD_SHARED=OFF -DBUILD_STATIC=ON \
  -DBUILD_TESTS=OFF -DBUILD_FUZZERS=OFF -DBUILD_BENCHMARKS=OFF -DDEACTIVATE_SNAPPY=ON \
  -DDEACTIVATE_ZLIB=ON -DPREFER_EXTERNAL_LZ4=ON -DPREFER_EXTERNAL_ZSTD=ON \
  -DLZ4_INCLUDE_DIR="$prefix/include" -DLZ4_LIBRARY="$prefix/lib/liblz4.a" \
  -DZSTD_INCLUDE_DIR="$prefix/include" -DZSTD_LIBRARY="$prefix/lib/libzstd.a"
quiet cmake --build blosc-build -j"$jobs"
quiet cmake --install blosc-build
# c-blosc names its static archive libblosc.a on MinGW too; check.
[ -f "$prefix/lib/libblosc.a" ] || cp "$(find blosc-build -name 'libblosc*.a' | head -n1)" "$prefix/lib/libblosc.a"

echo "mingw deps: libtiff (zlib, zstd, libdeflate; no jpeg, jbig, lerc, lzma, webp)"
src=$(fetch tiff tiff)
quiet cmake -S "$src" -B tiff-build "${cmake_cross[@]}" -Dtiff-tools=OFF -Dtiff-tests=OFF \
  -Dtiff-contrib=OFF -Dtiff-docs=OFF -Dtiff-deprecated=OFF -Dcxx=OFF -Djpeg=OFF -Dold-jpeg=OFF \
  -Djpeg12=OFF -Djbig=OFF -Dlerc=OFF -Dlzma=OFF -Dwebp=OFF -Dpixarlog=OFF -Dzlib=ON -Dzstd=ON \
  -Dlibdeflate=ON -DCMAKE_POLICY_DEFAULT_CMP0074=NEW -DZLIB_ROOT="$prefix" \
  -DZLIB_INCLUDE_DIR="$prefix/include" -DZLIB_LIBRARY="$prefix/lib/libz.a" \
  -DZSTD_INCLUDE_DIR="$prefix/include" -DZSTD_LIBRARY="$prefix/lib/libzstd.a" \
  -DDeflate_INCLUDE_DIR="$prefix/include" -DDeflate_LIBRARY="$prefix/lib/libdeflate.a"
quiet cmake --build tiff-build -j"$jobs" --target tiff
cp tiff-build/libtiff/libtiff.a "$prefix/lib/"
cp "$src"/libtiff/tiff.h "$src"/libtiff/tiffio.h "$src"/libtiff/tiffvers.h \
  tiff-build/libtiff/tiffconf.h "$prefix/include/"
echo "  libtiff codecs: $(grep -hE '^#define [A-Z_]+_SUPPORT 1' tiff-build/libtiff/tif_config.h \
  tiff-build/libtiff/tiffconf.h | awk '{print $2}' | sort | tr '\n' ' ')"

echo "mingw deps: pugixml"
src=$(fetch pugixml pugixml)
quiet cmake -S "$src" -B pugixml-build "${cmake_cross[@]}" -DPUGIXML_BUILD_TESTS=OFF
quiet cmake --build pugixml-build -j"$jobs"
cp pugixml-build/libpugixml.a "$prefix/lib/"
cp "$src/src/pugixml.hpp" "$src/src/pugiconfig.hpp" "$prefix/include/"

echo "mingw deps: googletest"
src=$(fetch googletest googletest)
quiet cmake -S "$src" -B gtest-build "${cmake_cross[@]}" -DBUILD_GMOCK=OFF -DINSTALL_GTEST=ON
quiet cmake --build gtest-build -j"$jobs"
quiet cmake --install gtest-build

echo "mingw deps: nlohmann/json headers (nlohmann-json3-dev)"
cp -r /usr/include/nlohmann "$prefix/include/"
cat >"$prefix/lib/pkgconfig/nlohmann_json.pc" <<PC
Name: nlohmann_json
Description: JSON for Modern C++ (headers of Debian's nlohmann-json3-dev)
Version: $(dpkg-query -W -f='${Version}' nlohmann-json3-dev | cut -d- -f1)
Cflags: -I$prefix/include
PC

cd "$prefix"
rm -rf "$work"
echo "mingw deps: done in $prefix"
ls "$prefix/lib"
