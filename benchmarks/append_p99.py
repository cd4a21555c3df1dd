"""How the copy=False append's tail varies between identical runs (issue #20).

    .venv/bin/python benchmarks/append_p99.py [--runs 5] [--frames 1000] [--dir DIR]

Each run, in a fresh interpreter: case D's stream (512x512 uint16, unbounded t, the
6-key frame metadata of the suite), `--frames` appends with `copy=False` as fast as they
go, once from a page-aligned buffer and once from numpy's heap (whose frames the Zarr
writer copies, as `O_DIRECT` needs alignment), with and without metadata. Reported per
format and variant: append p50, and the p99 and max over the runs (min / median / max),
with the p99 as a multiple of a hot memcpy of one frame (the suite's target: <= 2x).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from worker import frame_metadata  # the suite's metadata, the same keys

PX = 512
FRAME = PX * PX * 2


def one_run(fmt: str, aligned: bool, metadata: bool, frames: int, out: str) -> dict:
    import mmap

    import ome_writers as ow

    if aligned:
        block = mmap.mmap(-1, frames * FRAME)
        buf = np.frombuffer(block, np.uint16).reshape(frames, PX, PX)
    else:
        buf = np.empty((frames, PX, PX), np.uint16)
    buf[:] = np.random.default_rng(0).integers(0, 60000, (1, PX, PX), dtype=np.uint16)
    buf[:, 0, 0] = np.arange(frames)  # each frame unique
    root = os.path.join(out, "run.ome.zarr" if fmt == "zarr" else "run.ome.tiff")
    settings = ow.AcquisitionSettings(
        root_path=root,
        dimensions=[
            ow.Dimension(name="t", count=None, type="time"),
            ow.Dimension(name="y", count=PX, type="space"),
            ow.Dimension(name="x", count=PX, type="space"),
        ],
        dtype="uint16",
        format="ome-zarr" if fmt == "zarr" else "ome-tiff",
        overwrite=True,
    )
    stream = ow.create_stream(settings)
    lat = np.empty(frames, np.int64)
    for i in range(frames):
        meta = frame_metadata(i) if metadata else None
        t0 = time.perf_counter_ns()
        stream.append(buf[i], frame_metadata=meta, copy=False)
        lat[i] = time.perf_counter_ns() - t0
    stream.close()
    hot = np.empty(FRAME, np.uint8)
    src = np.ones(FRAME, np.uint8)
    copies = np.empty(200, np.int64)
    for k in range(copies.size):
        t0 = time.perf_counter_ns()
        np.copyto(hot, src)
        copies[k] = time.perf_counter_ns() - t0
    return {
        "p50": float(np.percentile(lat, 50)) / 1e3,
        "p99": float(np.percentile(lat, 99)) / 1e3,
        "max": float(lat.max()) / 1e3,
        "memcpy": float(np.median(copies)) / 1e3,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--dir", default=None, help="where runs write (default: a temp dir under .)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        fmt, aligned, metadata, out = json.loads(args.child)
        print(json.dumps(one_run(fmt, aligned, metadata, args.frames, out)))
        return
    base = tempfile.mkdtemp(prefix="append_p99_", dir=args.dir or ".")
    variants = [(f, a, m) for f in ("zarr", "tiff") for a in (True, False) for m in (True, False)]
    results: dict[tuple, list[dict]] = {v: [] for v in variants}
    try:
        for _ in range(args.runs):
            for v in variants:  # interleaved, so that a noisy minute hits every variant
                out = os.path.join(base, "out")
                shutil.rmtree(out, ignore_errors=True)
                os.makedirs(out)
                child = json.dumps([*v, out])
                cmd = [sys.executable, __file__, "--frames", str(args.frames), "--child", child]
                proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
                results[v].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(base, ignore_errors=True)

    def spread(values: list[float]) -> str:
        v = sorted(values)
        return f"{v[0]:.0f} / {v[len(v) // 2]:.0f} / {v[-1]:.0f}"

    print(
        "| format | frames from | metadata | p50 µs | p99 µs (min / median / max) "
        "| p99 ÷ hot memcpy | max µs |"
    )
    print("|---|---|---|--:|--:|--:|--:|")
    for (fmt, aligned, metadata), runs in results.items():
        p50 = float(np.median([r["p50"] for r in runs]))
        ratios = [r["p99"] / r["memcpy"] for r in runs]
        print(f"| {fmt} | {'page-aligned' if aligned else 'numpy heap'} "
              f"| {'6 keys' if metadata else 'none'} | {p50:.1f} "
              f"| {spread([r['p99'] for r in runs])} "
              f"| {min(ratios):.1f} / {sorted(ratios)[len(ratios) // 2]:.1f} / {max(ratios):.1f} "
              f"| {spread([r['max'] for r in runs])} |")  # fmt: skip


if __name__ == "__main__":
    main()
