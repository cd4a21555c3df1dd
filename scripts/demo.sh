#!/usr/bin/env bash
# Command 1 of the README: sets everything up, then runs a demo acquisition that
# writes an OME-Zarr store and an OME-TIFF file and says where they are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python examples/demo_acquisition.py "${1:-out}"
