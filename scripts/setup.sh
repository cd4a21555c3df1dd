#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (or refreshes an existing checkout):
# Debian build dependencies, a virtual environment in .venv, the Python
# packages for building and testing, and an editable build of ome_writers
# linking the wheels' static C libraries (scripts/static_deps.sh).
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
    useq-schema acquire-zarr zarrs ruff mypy pre-commit \
    "moto[server]" boto3  # a local S3 server: tests/python/test_object_storage.py
  echo "$deps_hash" > "$stamp"
fi

# The seed example (examples/event_driven.py of the ome-writers 0.3.2 sdist),
# which tests/python/test_examples.py and scripts/check_wheels.sh run: fetched
# here once, so that no test downloads anything.
seed=build/seed-cache/event_driven.py
if [ ! -f "$seed" ]; then
  echo "setup: fetching the seed example from the ome-writers 0.3.2 sdist"
  mkdir -p build/seed-cache
  $VPY -m pip download -q --no-deps --no-binary :all: ome-writers==0.3.2 -d build/seed-cache
  $VPY -c 'import sys, tarfile
with tarfile.open("build/seed-cache/ome_writers-0.3.2.tar.gz") as tar:
    data = tar.extractfile("ome_writers-0.3.2/examples/event_driven.py").read()
open(sys.argv[1], "wb").write(data)' "$seed"
fi

# The module links the same static builds of its C libraries as the wheels
# (scripts/static_deps.sh), so that tests and benchmarks run the codecs users
# install. OME_WRITERS_SYSTEM_DEPS=1 links Debian's shared libraries instead.
static_deps=""
if [ "${OME_WRITERS_SYSTEM_DEPS:-0}" != 1 ]; then
  static_deps=$(bash scripts/static_deps.sh)
fi
echo "setup: building ome_writers (incremental)"
$VPY -m pip install -q --no-build-isolation --no-deps -e . \
  -C "cmake.define.OME_WRITERS_STATIC_DEPS=$static_deps" 2>&1 | grep -v "^WARNING: Location" || true
$VPY -c "import ome_writers, ome_writers._core; print('setup: ome_writers', ome_writers.__version__, 'ready')"
