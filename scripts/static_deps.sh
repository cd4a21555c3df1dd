#!/usr/bin/env bash
# The static, position-independent builds of the C libraries that the Python
# module links (scripts/wheel_deps.sh), built once and cached outside the
# repository under ${OME_WRITERS_CACHE:-~/.cache/ome-writers}/deps-<key>, keyed
# by the recipe, the compiler and the Debian versions it builds from. The
# wheels (scripts/build_wheels.sh) and the editable build of scripts/setup.sh
# both link them, so the benchmarks measure the codecs users install.
#
# Usage: prefix=$(bash scripts/static_deps.sh)   (progress goes to stderr)
# Needs root (or sudo) for apt on a fresh Debian 12 machine: it installs the
# build packages and adds a deb-src entry for `apt-get source`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec 3>&1 1>&2  # stdout carries the prefix alone
CACHE="${OME_WRITERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ome-writers}"
mkdir -p "$CACHE"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# --- Debian packages: the compiler, headers, and Debian's PIC static archives
APT_PACKAGES=(build-essential pkg-config dpkg-dev nlohmann-json3-dev liblz4-dev
  libpugixml-dev robin-map-dev libstdc++-12-dev)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# `apt-get source` needs deb-src entries: the same mirrors as the deb entries.
if [ -z "$(apt-cache showsrc tiff 2>/dev/null | head -n1)" ]; then
  echo "static deps: adding deb-src entries (/etc/apt/sources.list.d/ome-writers-deb-src.*)"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
      $SUDO tee /etc/apt/sources.list.d/ome-writers-deb-src.sources >/dev/null
  else
    grep -h '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
      $SUDO tee /etc/apt/sources.list.d/ome-writers-deb-src.list >/dev/null
  fi
  apt_updated=1
  $SUDO apt-get update -qq
fi
if ((${#missing[@]})); then
  echo "static deps: installing Debian packages: ${missing[*]}"
  [ -n "${apt_updated:-}" ] || $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- the build, cached by its recipe, the compiler and the Debian versions
# shellcheck source=scripts/debian_source.sh
source scripts/debian_source.sh
key=$( (cat scripts/wheel_deps.sh scripts/debian_source.sh; gcc -dumpfullversion
  for p in tiff libzstd c-blosc zlib; do debian_source_versions "$p" | head -n3; done
  echo "$CODEC_SUITE"; debian_source_versions libdeflate "$CODEC_SUITE" | head -n3
  dpkg-query -W liblz4-dev libpugixml-dev nlohmann-json3-dev robin-map-dev libstdc++6) |
  sha256sum | cut -c1-16)
DEPS="$CACHE/deps-$key"
if [ ! -f "$DEPS/.complete" ]; then
  t0=$SECONDS
  bash scripts/wheel_deps.sh "$DEPS"
  touch "$DEPS/.complete"
  echo "static deps: built in $((SECONDS - t0)) s"
else
  echo "static deps: cached in $DEPS"
fi
# No GPL (or unused) codec in libtiff: its init functions must be absent.
if nm -A "$DEPS/lib/libtiff.a" 2>/dev/null | grep -E " T TIFFInit(JBIG|JPEG|OJPEG|LERC|LZMA|WebP|PixarLog)\b"; then
  echo "static deps: libtiff.a contains a codec that must not be bundled" >&2
  exit 1
fi
echo "$DEPS" >&3
