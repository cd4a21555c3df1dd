"""The tail of copying appends from a caller faster than the disk (issue #20).

    .venv/bin/python benchmarks/copy_stalls.py [--format ome-zarr] [--frames 600] [--px 512]
                                               [--streams 4] [--dir DIR]

Each stream appends `--frames` frames of `--px`² uint16 with `append()` (a copy) as fast
as it goes, so the queue fills and the appends past its first slots populate their own
(the warmer thread cannot keep ahead). Reported per stream: append p50, p99 and max in µs
and the number of appends over 1 ms. Every frame is stamped with its index and read back
(zarr-python or tifffile) before the stream's figures count. Run it at two revisions (or
builds) one after the other to compare them; the machine's noise between streams is large.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from tyx_stream import open_stream, output, read_back


def one_stream(fmt: str, frames: int, px: int, where: Path) -> dict[str, float]:
    out = output(where, fmt)
    bases = [np.full((px, px), 1000 + k, np.uint16) for k in range(min(frames, 64))]
    stream = open_stream(out, fmt, frames, px)
    lat = np.zeros(frames)
    for i in range(frames):
        frame = bases[i % len(bases)]
        frame[0, 0] = i  # the stamp: append() copies before it returns
        t = time.perf_counter_ns()
        stream.append(frame)
        lat[i] = time.perf_counter_ns() - t
    stream.close()
    check(out, fmt, frames, px)
    lat /= 1e3
    return {
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "max": float(lat.max()),
        "over_1ms": int((lat > 1000).sum()),
    }


def check(out: Path, fmt: str, frames: int, px: int) -> None:
    """Each frame at its index, read by an independent reader."""
    data = read_back(out, fmt, frames, px)
    stamps = data[:, 0, 0].astype(np.int64)
    if not np.array_equal(stamps, np.arange(frames)):
        raise SystemExit(f"{out}: frames out of place: {stamps[:10]}...")
    expect = 1000 + np.arange(frames) % min(frames, 64)
    if not np.array_equal(data[:, -1, -1], expect):
        raise SystemExit(f"{out}: frame content differs")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--format", default="ome-zarr", choices=["ome-zarr", "ome-tiff"])
    p.add_argument("--frames", type=int, default=600)
    p.add_argument("--px", type=int, default=512)
    p.add_argument("--streams", type=int, default=4)
    p.add_argument("--dir", default=None, help="where the streams write (default: a temp dir)")
    args = p.parse_args()
    for k in range(args.streams):
        where = Path(tempfile.mkdtemp(dir=args.dir))
        try:
            r = one_stream(args.format, args.frames, args.px, where)
        finally:
            shutil.rmtree(where, ignore_errors=True)
        print(
            f"{args.format} {args.px}² × {args.frames}, stream {k + 1}: p50 {r['p50']:.0f} µs, "
            f"p99 {r['p99']:.0f} µs, max {r['max']:.0f} µs, {r['over_1ms']} over 1 ms",
            flush=True,
        )
        time.sleep(2)  # the previous stream's memory and files settle


if __name__ == "__main__":
    main()
