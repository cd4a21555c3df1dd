# shellcheck shell=bash
# Sourced by scripts/wheel_deps.sh, scripts/mingw/deps.sh and
# scripts/static_deps.sh: Debian source packages, downloaded and unpacked with
# `apt-get source` into the current directory. Nothing comes from anywhere but
# Debian's mirrors.
#
# libdeflate, which compresses every TIFF deflate strip, comes from the next
# Debian release's sources (CODEC_SUITE): bookworm's 1.14 spends 8% more CPU
# per byte than 1.23, which made TIFF deflate slower than the codec alone
# (benchmarks/README.md, issue #20). libzstd stays bookworm's 1.5.4: trixie's
# 1.5.7 costs about 10% more CPU per byte at level 1, Zarr zstd's default, though it
# is faster for TIFF zstd and blosc-zstd. That suite is read through a private apt
# state (DEBIAN_SOURCE_STATE/<suite>), so the machine's own sources stay as
# they are. When it cannot be had, the machine's release's sources are used,
# with a warning.

CODEC_SUITE="${OME_WRITERS_CODEC_SUITE:-trixie}"
DEBIAN_SOURCE_STATE="${DEBIAN_SOURCE_STATE:-${OME_WRITERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ome-writers}/apt}"

# apt options reading only SUITE's deb-src index from the machine's Debian mirror.
_suite_apt_options() {  # suite -> options, one per line
  local state="$DEBIAN_SOURCE_STATE/$1"
  echo "-o" "Dir::Etc::sourcelist=$state/sources.list" "-o" "Dir::Etc::sourceparts=-"
  echo "-o" "Dir::State::Lists=$state/lists" "-o" "Dir::Cache=$state/cache"
}

# Fetches SUITE's source index (about a second; callers run in command
# substitutions, so no state is kept between calls); fails when the mirror has none.
_suite_prepare() {  # suite
  local state="$DEBIAN_SOURCE_STATE/$1" release mirror
  release=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' 2>/dev/null |
    awk -v r="$release" '$2 == r && $3 == "deb" {print $1; exit}')
  mirror="${mirror:-http://deb.debian.org/debian/}"
  mkdir -p "$state/lists/partial" "$state/cache/archives/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $1 main" \
    >"$state/sources.list"
  # shellcheck disable=SC2046
  apt-get $(_suite_apt_options "$1") update -qq >"$state/update.log" 2>&1
}

# Versions of a source package, newest first: the machine's release, or SUITE's.
debian_source_versions() {  # package [suite]
  if [ -n "${2:-}" ]; then
    _suite_prepare "$2" || return 0
    # shellcheck disable=SC2046
    apt-cache $(_suite_apt_options "$2") showsrc "$1" 2>/dev/null
  else
    apt-cache showsrc "$1"
  fi | awk '/^Version:/ {print $2}' | sort -rV | uniq
}

# SUITE's upstream tarball of PACKAGE=VERSION, when `apt-get source` could
# download it but not the Debian files beside it (a mirror that lacks them):
# checked against the SHA-256 of the signed index, then unpacked.
_unpack_upstream_tarball() {  # package version suite
  local sums name sum
  # shellcheck disable=SC2046
  sums=$(apt-cache $(_suite_apt_options "$3") showsrc "$1" 2>/dev/null | awk -v v="$2" '
    /^Version:/ {in_version = ($2 == v)} /^[^ ]/ {in_sums = /^Checksums-Sha256:/}
    in_version && in_sums && NF == 3 && $3 ~ /\.orig\.tar\./ {print $1, $3; exit}')
  [ -n "$sums" ] || return 1
  sum=${sums%% *}
  name=${sums#* }
  [ -f "$name" ] && [ "$(sha256sum "$name" | cut -d' ' -f1)" = "$sum" ] || return 1
  mkdir -p "upstream-$1"
  tar -xf "$name" -C "upstream-$1"
}

# Downloads and unpacks a source package, newest version first; prints the
# unpacked directory. A version the mirror does not serve (some security
# updates' sources) is skipped for the next one. With SUITE, that release's
# versions are tried first, then the machine's own.
fetch() {  # package, directory prefix, [suite] -> unpacked directory (printed)
  local version dir suite
  for suite in ${3:-} ""; do
    for version in $(debian_source_versions "$1" "$suite"); do
      # shellcheck disable=SC2046
      if apt-get $([ -z "$suite" ] || _suite_apt_options "$suite") source -qq "$1=$version" \
        >"$1.log" 2>&1; then
        echo "  $1 $version${suite:+ ($suite)}" >&2
        find . -maxdepth 1 -mindepth 1 -type d -name "$2-*" | head -n1
        return 0
      fi
      if [ -n "$suite" ] && _unpack_upstream_tarball "$1" "$version" "$suite"; then
        echo "  $1 $version ($suite; upstream tarball only: the mirror lacks its Debian files)" >&2
        dir=$(find "upstream-$1" -maxdepth 1 -mindepth 1 -type d | head -n1)
        [ -n "$dir" ] && { echo "$dir"; return 0; }
      fi
    done
    [ -z "$suite" ] ||
      echo "  WARNING: $1 from $suite's sources could not be downloaded: using the machine's release" >&2
  done
  cat "$1.log" >&2
  echo "cannot download the Debian source package $1 (is there a deb-src entry?)" >&2
  return 1
}

# A source tree's license: Debian's copyright file, or, for an upstream
# tarball alone, upstream's license files.
copy_license() {  # unpacked source dir, destination dir
  mkdir -p "$2"
  if [ -f "$1/debian/copyright" ]; then
    cp "$1/debian/copyright" "$2/copyright"
  else
    find "$1" -maxdepth 1 -type f \( -name 'COPYING*' -o -name 'LICENSE*' \) -exec cp {} "$2/" \;
  fi
}
