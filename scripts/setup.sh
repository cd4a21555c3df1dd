#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (or refreshes an existing checkout):
# Debian build dependencies, a virtual environment in .venv, the Python
# packages for building and testing, and an editable build of ome_writers.
# Idempotent: when everything is in place it only checks, and the build is
# incremental (build/<wheel tag>).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential pkg-config git
  libtiff-dev libdeflate-dev libpugixml-dev nlohmann-json3-dev libzstd-dev libblosc-dev liblz4-dev
  libgtest-dev python3-venv python3-dev clang-format
  clang-14 libclang-rt-14-dev  # libFuzzer and the sanitizer runtimes (scripts/hardening.sh)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
VPY=.venv/bin/python

stamp=.venv/.ome_writers_deps
deps_hash=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$deps_hash" ]; then
  echo "setup: installing Python packages"
  $VPY -m pip install -q --upgrade pip
  $VPY -m pip install -q "nanobind>=2.9,<2.10" "scikit-build-core>=0.10" cmake ninja \
    numpy pydantic pydantic-extra-types typing-extensions \
    pytest tifffile imagecodecs ome-types xmlschema zarr tensorstore ome-zarr-models \
    useq-schema acquire-zarr zarrs ruff mypy pre-commit
  echo "$deps_hash" > "$stamp"
fi

echo "setup: building ome_writers (incremental)"
$VPY -m pip install -q --no-build-isolation --no-deps -e . 2>&1 | grep -v "^WARNING: Location" || true
$VPY -c "import ome_writers, ome_writers._core; print('setup: ome_writers', ome_writers.__version__, 'ready')"
