"""The soak in the test command (issue #16): 50,000 small frames with 6-key metadata.

benchmarks/soak.py runs a million for benchmarks/README.md; here the same harness
checks that memory stays flat while the metadata grows: no per-frame metadata is
held in memory (it is journaled, and the documents are written from the journal).
Times are reported by the benchmark, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("fmt", ["zarr", "tiff"])
def test_memory_stays_flat_over_50k_frames_with_metadata(tmp_path: Path, fmt: str) -> None:
    budget_mib = 16
    cmd = [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--one", fmt]
    cmd += ["--frames", "50000", "--flush-every", "5000", "--budget-mib", str(budget_mib)]
    cmd += ["--dir", str(tmp_path)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    growth = result["rss_growth_mib"]
    print(f"{fmt}: RSS growth at each flush (MiB): {growth}")
    assert max(growth) <= budget_mib + 64, growth
    # Flat: what the last 45k frames added. Frame metadata held in memory would add
    # about 1 KiB a frame here (45 MiB); the planes' IFD and journal offsets of an
    # OME-TIFF add 16 bytes a frame (0.7 MiB).
    assert growth[-1] - growth[0] <= 8, growth
    assert not list(tmp_path.iterdir()), "the output was not removed"
