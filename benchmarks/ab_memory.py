"""Before/after of our engine's own cost, with the disk taken out: streams to tmpfs.

    .venv/bin/python benchmarks/ab_memory.py --baseline REV [--cases A,B,D,G,H] [--rounds 3]

On this shared virtual disk, durable throughput of one and the same build swings by
±15% from run to run (see README.md), more than a 3% regression target can resolve.
Writing to /dev/shm leaves only the engine: copies, routing, encoding, system calls.
Each round runs the current tree (`.venv`) and the package built from REV
(`run.py --baseline`'s environment) back to back, per case and format, and prints
the medians and their ratio. Frames are constant (no compression cases here: the
codec's own speed is measured by run.py), outputs are deleted after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import run as suite

HERE = Path(__file__).resolve().parent

# name -> (dimensions as (name, count, type), dtype, frames, with 6-key metadata)
CASES: dict[str, tuple[list[tuple[str, int | None, str | None]], str, int, bool]] = {
    "A": ([("t", 100, "time"), ("y", 2048, None), ("x", 2048, None)], "uint16", 100, False),
    "B": ([("t", 2000, "time"), ("y", 512, None), ("x", 512, None)], "uint16", 2000, False),
    "D": ([("t", None, "time"), ("y", 512, None), ("x", 512, None)], "uint16", 2000, True),
    "G": ([("t", 1000, "time"), ("y", 1024, None), ("x", 1024, None)], "uint8", 1000, False),
    "H": (
        [("t", 500, "time"), ("p", 4, "position"), ("y", 512, None), ("x", 512, None)],
        "uint16",
        2000,
        False,
    ),
}


def stream_inputs(
    dims_spec: list[tuple[str, int | None, str | None]], dtype: str, fmt: str, root: str
) -> tuple[Any, list[Any], dict[str, Any]]:
    """A case's settings, 16 constant frames to cycle through, and 5 of its 6 metadata
    keys (the caller adds the frame number)."""
    import numpy as np

    import ome_writers as ow

    dims = [ow.Dimension(name=n, count=c, type=t) for n, c, t in dims_spec]  # type: ignore[arg-type]
    shape = (dims[-2].count, dims[-1].count)
    pool = [np.full(shape, i, dtype) for i in range(16)]
    suffix = ".ome.zarr" if fmt == "zarr" else ".ome.tiff"
    settings = ow.AcquisitionSettings(
        root_path=root + suffix, dimensions=dims, dtype=dtype, overwrite=True
    )
    return settings, pool, {"b": 0.5, "c": "x", "d": [1, 2], "e": True, "f": None}


def stream_once(case: str, fmt: str, root: str) -> dict[str, float]:
    """Stream one case to `root` in this interpreter; MB/s and CPU seconds."""
    import ome_writers as ow

    dims_spec, dtype, frames, with_meta = CASES[case]
    settings, pool, meta = stream_inputs(dims_spec, dtype, fmt, root)
    t0, c0 = time.perf_counter(), time.process_time()
    with ow.create_stream(settings) as stream:
        for i in range(frames):
            stream.append(pool[i % 16], frame_metadata={"a": i, **meta} if with_meta else None)
    t1, c1 = time.perf_counter(), time.process_time()
    out = settings.output_path
    shutil.rmtree(out) if os.path.isdir(out) else os.remove(out)
    return {"mbps": frames * pool[0].nbytes / 1e6 / (t1 - t0), "cpu_s": c1 - c0}


def main() -> int:
    """Alternate the two builds over the cases; print medians and ratios."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--baseline", required=True, metavar="REV", help="git revision to compare")
    p.add_argument("--cases", default=",".join(CASES), help="subset of " + ",".join(CASES))
    p.add_argument("--rounds", type=int, default=3, help="runs per build, case and format")
    p.add_argument("--dir", default="/dev/shm", help="a memory file system to write to")
    p.add_argument("--one", nargs=2, metavar=("CASE", "FORMAT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    root = str(Path(args.dir) / f"ab-memory-{os.getpid()}")
    if args.one:
        print(json.dumps(stream_once(args.one[0], args.one[1], root)))
        return 0
    builds = {"current": sys.executable, "baseline": str(suite.ensure_baseline_env(args.baseline))}
    print(f"{'case':6s} {'current MB/s':>13s} {'baseline MB/s':>14s} {'ratio':>6s} {'CPU s':>12s}")
    for case in [c.strip() for c in args.cases.split(",") if c.strip()]:
        for fmt in ("zarr", "tiff"):
            got: dict[str, list[dict[str, float]]] = {b: [] for b in builds}
            for _ in range(args.rounds):
                for build, python in builds.items():
                    cmd = [python, str(Path(__file__)), "--baseline", args.baseline,
                           "--dir", args.dir, "--one", case, fmt]  # fmt: skip
                    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
                    got[build].append(json.loads(done.stdout.strip().splitlines()[-1]))
            med = {
                b: (
                    statistics.median(r["mbps"] for r in runs),
                    statistics.median(r["cpu_s"] for r in runs),
                )
                for b, runs in got.items()
            }
            (cur, cur_cpu), (base, base_cpu) = med["current"], med["baseline"]
            print(f"{case} {fmt:4s} {cur:13.0f} {base:14.0f} {cur / base:6.3f} "
                  f"{cur_cpu:5.2f} / {base_cpu:4.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
