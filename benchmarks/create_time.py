"""How long `create_stream` takes, and whether the first appends pay for it (issue #20).

    .venv/bin/python benchmarks/create_time.py [--runs 15] [--frames 400] [--dir DIR]

Each run, in a fresh interpreter: `create_stream` for 2048x2048 uint16 frames with the
default budget (OME-Zarr and OME-TIFF alternately), then `--frames` appends of
distinct frames at 100 fps (a camera's pace, so that the writer keeps up and only the
slots' mapping is measured). Reported: create time median and p99 over the runs, and
the p99 of the first 100 appends against the p99 of the appends after them (a slot
mapped on the appending thread would show as first-100 latency).
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

HERE = Path(__file__).resolve().parent


def one_run(fmt: str, frames: int, out_dir: str) -> dict[str, float]:
    """One stream in this interpreter."""
    import numpy as np

    import ome_writers as ow

    root = os.path.join(
        out_dir, f"create-{os.getpid()}" + (".ome.zarr" if fmt == "zarr" else ".ome.tiff")
    )
    settings = ow.AcquisitionSettings(
        root_path=root,
        dimensions=[
            ow.Dimension(name="t", count=frames, type="time"),
            ow.Dimension(name="y", count=2048),
            ow.Dimension(name="x", count=2048),
        ],
        dtype="uint16",
        overwrite=True,
    )
    pool = [np.full((2048, 2048), i, "uint16") for i in range(8)]
    t0 = time.perf_counter()
    stream = ow.create_stream(settings)
    create_s = time.perf_counter() - t0
    lat = []
    for i in range(frames):
        a = time.perf_counter()
        stream.append(pool[i % 8])
        lat.append(time.perf_counter() - a)
        time.sleep(max(0.0, 0.01 - (time.perf_counter() - a)))
    stream.close()
    shutil.rmtree(root) if os.path.isdir(root) else os.remove(root)
    first, rest = sorted(lat[:100]), sorted(lat[100:])
    return {
        "create_s": create_s,
        "first100_p99_us": 1e6 * first[min(99, int(0.99 * len(first)))],
        "steady_p99_us": 1e6 * rest[int(0.99 * len(rest))],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--frames", type=int, default=400)
    p.add_argument("--dir", default=str(HERE / "results" / "tmp"))
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    if args.one:
        print(json.dumps(one_run(args.one, args.frames, args.dir)))
        return 0
    runs: dict[str, list[dict[str, float]]] = {"zarr": [], "tiff": []}
    for r in range(args.runs):
        for fmt in ("zarr", "tiff") if r % 2 == 0 else ("tiff", "zarr"):
            cmd = [sys.executable, __file__, "--one", fmt, "--frames", str(args.frames)]
            out = subprocess.run(
                [*cmd, "--dir", args.dir], check=True, capture_output=True, text=True
            )
            runs[fmt].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        "| format | create median (s) | create p99 (s) | first-100 append p99 (µs) "
        "| later appends p99 (µs) | ratio |"
    )
    print("|---|--:|--:|--:|--:|--:|")
    for fmt, rs in runs.items():
        creates = sorted(x["create_s"] for x in rs)
        first = statistics.median(x["first100_p99_us"] for x in rs)
        steady = statistics.median(x["steady_p99_us"] for x in rs)
        p99 = creates[min(len(creates) - 1, int(0.99 * len(creates)))]
        print(
            f"| {fmt} | {statistics.median(creates):.3f} | {p99:.3f} | {first:.0f} "
            f"| {steady:.0f} | {first / steady:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
