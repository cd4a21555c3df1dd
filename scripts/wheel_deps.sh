#!/usr/bin/env bash
# Static, position-independent builds of the C libraries that go inside the
# wheels, from Debian's source packages (`apt-get source`; nothing from
# anywhere else), configured with only what ome_writers uses:
#   zlib       (zlib license)      libtiff's deflate codec
#   zstd       (BSD-3-Clause)      Zarr/TIFF zstd, blosc-zstd
#   libdeflate (MIT)               TIFF deflate
#   c-blosc    (BSD-3-Clause)      blosc-zstd and blosc-lz4; no snappy, no zlib
#   libtiff    (libtiff license)   zlib, zstd, libdeflate, LZW and packbits only:
#                                  no jpeg, jbig (GPL), lerc, lzma, webp, pixarlog
# libdeflate comes from the next Debian release's sources, CODEC_SUITE
# (scripts/debian_source.sh says why). Debian's own static archives of lz4
# (BSD-2-Clause) and pugixml (MIT) are position independent and are linked as
# they are.
#
# Usage: scripts/wheel_deps.sh PREFIX
# Leaves PREFIX/lib/*.a, PREFIX/include and PREFIX/licenses/<library>/ (the
# Debian copyright files, which hold each library's license text, or upstream's
# license files where only the upstream tarball could be had). Called by
# scripts/static_deps.sh, which caches PREFIX outside the repository.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="$1"
jobs="${JOBS:-2}"
work="$prefix.work"
rm -rf "$prefix" "$work"
mkdir -p "$prefix/lib" "$prefix/include" "$prefix/licenses" "$work"
cd "$work"

multiarch=$(gcc -print-multiarch)
flags="-O2 -fPIC -fvisibility=hidden -D_FORTIFY_SOURCE=2 -fstack-protector-strong"
export CFLAGS="$flags" CXXFLAGS="$flags"

# shellcheck source=scripts/debian_source.sh
source "$here/debian_source.sh"

license_from_source() {  # library name, unpacked source dir
  copy_license "$2" "$prefix/licenses/$1"
}

license_from_package() {  # library name, Debian binary package
  mkdir -p "$prefix/licenses/$1"
  cp "/usr/share/doc/$2/copyright" "$prefix/licenses/$1/copyright"
}

echo "wheel deps: zlib"
src=$(fetch zlib zlib)
(cd "$src" && ./configure --static --prefix="$prefix" >/dev/null && make -s -j"$jobs" libz.a >/dev/null &&
  make -s install >/dev/null)
license_from_source zlib "$src"

echo "wheel deps: zstd"
src=$(fetch libzstd libzstd)
make -s -C "$src/lib" -j"$jobs" libzstd.a ZSTD_LEGACY_SUPPORT=0 >/dev/null
make -s -C "$src/lib" install-static install-includes PREFIX="$prefix" >/dev/null
license_from_source zstd "$src"

echo "wheel deps: libdeflate"
src=$(fetch libdeflate libdeflate "$CODEC_SUITE")
# The library is a few files (its build systems differ between releases).
mkdir -p deflate-obj
for f in "$src"/lib/*.c "$src"/lib/*/*.c; do
  gcc $CFLAGS -I"$src" -c "$f" -o "deflate-obj/$(basename "$(dirname "$f")")_$(basename "$f" .c).o"
done
ar rcs "$prefix/lib/libdeflate.a" deflate-obj/*.o
cp "$src/libdeflate.h" "$prefix/include/"
license_from_source libdeflate "$src"

echo "wheel deps: c-blosc (lz4 and zstd only)"
src=$(fetch c-blosc c-blosc)
cmake -S "$src" -B blosc-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DBUILD_SHARED=OFF -DBUILD_STATIC=ON -DBUILD_TESTS=OFF -DBUILD_FUZZERS=OFF -DBUILD_BENCHMARKS=OFF \
  -DDEACTIVATE_SNAPPY=ON -DDEACTIVATE_ZLIB=ON -DPREFER_EXTERNAL_LZ4=ON -DPREFER_EXTERNAL_ZSTD=ON \
  -DZSTD_INCLUDE_DIR="$prefix/include" -DZSTD_LIBRARY="$prefix/lib/libzstd.a" -Wno-dev -Wno-deprecated \
  >blosc-configure.log 2>&1 || { cat blosc-configure.log; exit 1; }
cmake --build blosc-build -j"$jobs" >/dev/null
cmake --install blosc-build >/dev/null
license_from_source blosc "$src"

echo "wheel deps: libtiff (zlib, zstd, libdeflate; no jpeg, jbig, lerc, lzma, webp)"
src=$(fetch tiff tiff)
cmake -S "$src" -B tiff-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DBUILD_SHARED_LIBS=OFF -Dtiff-tools=OFF -Dtiff-tests=OFF -Dtiff-contrib=OFF -Dtiff-docs=OFF \
  -Dtiff-deprecated=OFF -Dcxx=OFF -Djpeg=OFF -Dold-jpeg=OFF -Djpeg12=OFF -Djbig=OFF -Dlerc=OFF \
  -Dlzma=OFF -Dwebp=OFF -Dpixarlog=OFF -Dzlib=ON -Dzstd=ON -Dlibdeflate=ON \
  -DCMAKE_POLICY_DEFAULT_CMP0074=NEW -DZLIB_ROOT="$prefix" -DZLIB_INCLUDE_DIR="$prefix/include" \
  -DZLIB_LIBRARY="$prefix/lib/libz.a" -DZSTD_INCLUDE_DIR="$prefix/include" -DZSTD_LIBRARY="$prefix/lib/libzstd.a" \
  -DDeflate_INCLUDE_DIR="$prefix/include" -DDeflate_LIBRARY="$prefix/lib/libdeflate.a" \
  -Wno-dev -Wno-deprecated >tiff-configure.log 2>&1 || { cat tiff-configure.log; exit 1; }
cmake --build tiff-build -j"$jobs" --target tiff >/dev/null
cmake --install tiff-build >/dev/null 2>&1 || true  # no tools/docs were built: install what exists
cp tiff-build/libtiff/libtiff.a "$prefix/lib/"
cp "$src"/libtiff/tiff.h "$src"/libtiff/tiffio.h "$src"/libtiff/tiffvers.h tiff-build/libtiff/tiffconf.h \
  "$prefix/include/"
license_from_source libtiff "$src"
echo "  libtiff codecs: $(grep -hE '^#define [A-Z_]+_SUPPORT 1' tiff-build/libtiff/tif_config.h \
  tiff-build/libtiff/tiffconf.h | awk '{print $2}' | sort | tr '\n' ' ')"

# Debian's static archives that link into a shared object as they are.
for pair in lz4:liblz4-dev pugixml:libpugixml-dev; do
  lib=${pair%%:*}
  cp "/usr/lib/$multiarch/lib$lib.a" "$prefix/lib/"
  license_from_package "$lib" "${pair#*:}"
done
# Compiled in from headers: nlohmann/json (MIT), nanobind's robin_map (MIT);
# the C++ runtime, linked statically (GPL-3.0 with the GCC Runtime Library
# Exception, which sets no terms on the program it is linked into).
license_from_package nlohmann_json nlohmann-json3-dev
license_from_package robin_map robin-map-dev
license_from_package libstdc++ libstdc++6
cp /usr/include/lz4.h /usr/include/lz4hc.h "$prefix/include/"
cp /usr/include/pugixml.hpp /usr/include/pugiconfig.hpp "$prefix/include/"

cd "$prefix"
rm -rf "$work" "$prefix/lib/pkgconfig" "$prefix/lib/cmake" "$prefix/share" "$prefix/bin"
echo "wheel deps: done in $prefix"
ls -l "$prefix/lib"
