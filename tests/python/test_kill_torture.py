"""Issue #14, crash safe by default: a writer killed with SIGKILL at any moment leaves
files that standard readers open, holding every frame appended `checkpoint_interval +
0.5 s` before the kill with its metadata, nothing garbled, and, after recover(), every
frame flush() acknowledged. The harness is kill_harness.py (also scripts/kill_torture.py);
KILL_TORTURE_SEED=<seed> repeats a run."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest

import kill_harness as kh

KILLS_PER_FORMAT = 50


def _seed() -> int:
    """A new seed per session (more moments tried over time), printed so a failure repeats."""
    text = os.environ.get("KILL_TORTURE_SEED")
    return int(text) if text else random.SystemRandom().randrange(1 << 31)


@pytest.mark.slow
def test_killed_writer_leaves_valid_files_with_every_due_frame(tmp_path: Path) -> None:
    seed = _seed()
    print(f"kill torture: seed {seed} (repeat: KILL_TORTURE_SEED={seed})")
    results = kh.run_all(kh.plan(seed, KILLS_PER_FORMAT), tmp_path)
    table = kh.summary(results)
    failed = [r for r in results if r.problems]
    print(table)
    print(kh.failure_report(failed))
    shown = kh.failure_report(failed[:10])
    more = f"\n... and {len(failed) - 10} more failed kills (stdout)" if len(failed) > 10 else ""
    assert not failed, (
        f"seed {seed}: {len(failed)} of {len(results)} kills failed\n{table}\n{shown}{more}"
    )
    for fmt in kh.FORMATS:
        assert sum(r.fmt == fmt for r in results) >= KILLS_PER_FORMAT


@pytest.mark.parametrize("layout", sorted(kh.LAYOUTS))
def test_harness_accepts_a_closed_output(tmp_path: Path, layout: str) -> None:
    """The control: an output closed normally passes every check the kills must pass
    (23 frames: partial time points, chunks and shards)."""
    lay = kh.LAYOUTS[layout]
    out = kh.write_closed(lay, tmp_path / f"closed{lay.suffix}", 23)
    problems = kh.Problems()
    kh.verify(lay, out, kh.Expectation("", list(range(23)), 22), problems)
    assert not problems, "\n".join(problems.lines())


def test_harness_reports_damaged_zarr(tmp_path: Path) -> None:
    """The checks can fail: a misplaced chunk, a lost chunk and a wrong metadata entry."""
    lay = kh.LAYOUTS["zarr-t"]
    out = kh.write_closed(lay, tmp_path / "d.ome.zarr", 12)
    chunks = out / "0" / "c"
    shutil.copy(chunks / "5" / "0" / "0", chunks / "3" / "0" / "0")
    (chunks / "7" / "0" / "0").unlink()
    meta = json.loads((out / "zarr.json").read_text())
    meta["attributes"]["ome_writers"]["frame_metadata"][9]["i"] = 10
    (out / "zarr.json").write_text(json.dumps(meta))
    problems = kh.Problems()
    kh.verify(lay, out, kh.Expectation("", list(range(12)), 11), problems)
    assert problems.frames == {
        "image group: holds another frame's pixels": [3],
        "image group: missing (all fill value)": [7],
        "image group: frame_metadata entry does not match its storage_index": [9],
    }
    assert problems.examples["image group: holds another frame's pixels"] == (
        "frame 3 holds frame 5"
    )


def test_harness_reports_damaged_tiff(tmp_path: Path) -> None:
    """The checks can fail: a plane with another frame's pixels, a blanked plane, and a
    file cut short (the state an unsynchronised writer leaves)."""
    import tifffile

    lay = kh.LAYOUTS["tiff-t"]
    out = kh.write_closed(lay, tmp_path / "d.ome.tiff", 12)
    with tifffile.TiffFile(out) as tf:
        offsets = {k: tf.pages[k].dataoffsets[0] for k in (3, 7)}
    with open(out, "r+b") as f:
        f.seek(offsets[3])
        f.write(kh.frame_pixels(5).astype("<u2").tobytes())
        f.seek(offsets[7])
        f.write(bytes(kh.frame_pixels(7).nbytes))
    problems = kh.Problems()
    kh.verify(lay, out, kh.Expectation("", list(range(12)), 11), problems)
    assert problems.frames == {
        "d.ome.tiff: holds another frame's pixels": [3],
        "d.ome.tiff: missing (blank page)": [7],
    }
    with open(out, "r+b") as f:
        f.truncate(offsets[7])
    problems = kh.Problems()
    kh.verify(lay, out, kh.Expectation("", list(range(12)), 11), problems)
    assert problems, "a truncated file passed"
    assert set(problems.failed("")) >= {7, 8, 9, 10, 11}, problems.lines()
