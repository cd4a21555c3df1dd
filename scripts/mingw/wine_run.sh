#!/usr/bin/env bash
# Runs a Windows program built by scripts/mingw.sh under wine64, with the
# mingw-w64 runtime DLLs (libstdc++, libgcc, winpthread) and the cross-built
# library on its DLL search path. The wine prefix lives in the cache.
set -euo pipefail
cache="${OME_WRITERS_MINGW_CACHE:-$HOME/.cache/ome-writers/mingw}"
export WINEPREFIX="${WINEPREFIX:-$cache/wineprefix}"
mkdir -p "$(dirname "$WINEPREFIX")"
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"  # no Mono/Gecko installer prompts
gcc_dir=$(dirname "$(x86_64-w64-mingw32-g++-posix -print-libgcc-file-name)")
winpath() { local p; p=$(cd "$1" && pwd); echo "Z:${p//\//\\}"; }  # wine's Z: is /
dirs="$(winpath "$gcc_dir");$(winpath /usr/x86_64-w64-mingw32/lib)"
# OME_WRITERS_WINE_DLLS: more directories (Unix paths, ':'-separated), such as
# where ome_writers.dll is.
IFS=: read -r -a extra <<<"${OME_WRITERS_WINE_DLLS:-}"
for d in "${extra[@]}"; do [ -n "$d" ] && dirs="$(winpath "$d");$dirs"; done
export WINEPATH="$dirs"
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
# A program that crashes under wine can still exit 0 (wine's debugger ends
# it): its "Unhandled exception" report on stderr makes the run fail.
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
status=0
# Without address-space randomisation: otherwise wine now and then fails to
# start ("failed to map the shared user data: c0000018": the kernel had put
# something at the fixed address Windows programs expect) and exits 1 with
# nothing else said, failing whichever test it was.
norandom=()
if setarch "$(uname -m)" -R true 2>/dev/null; then norandom=(setarch "$(uname -m)" -R); fi
"${norandom[@]}" "$wine" "$@" 2> >(tee "$errors" >&2) || status=$?
wait
if [ "$status" -eq 0 ] && grep -qE 'Unhandled (exception|page fault)' "$errors"; then
  echo "wine_run: $1 crashed" >&2
  status=134
fi
exit "$status"
