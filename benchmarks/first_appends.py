"""What an append costs when the machine has gone cold on it (issue #20's first-100 target).

    .venv/bin/python benchmarks/first_appends.py [--format ome-zarr] [--gap 0.05]
                                                 [--streams 5] [--frames 60]

Each stream appends `--frames` 512×512 uint16 frames with `copy=False`, pausing `--gap`
seconds before every tenth (a slow camera's frame interval). Reported, in µs, medians over
the streams: the first append after `create_stream`, an append right after a pause, and the
appends that follow another at once. Beside each, the same for two bare references timed
at the same moments: a `getppid()` system call and a 64 KiB `np.copyto` between two
buffers small enough to stay in the cache. When the references slow down after a pause as much as
the append does, the append is paying for cold caches and an idle vCPU, not for its
own work. Every frame is read back (zarr-python or tifffile) at its index.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from tyx_stream import open_stream, output, read_back

PX = 512


def timed(fn: object) -> float:
    t = time.perf_counter_ns()
    fn()  # type: ignore[operator]
    return (time.perf_counter_ns() - t) / 1e3


def one_stream(fmt: str, frames: int, gap: float, where: Path) -> dict[str, list[float]]:
    out = output(where, fmt)
    data = [np.full((PX, PX), k, np.uint16) for k in range(frames)]
    hot_src = np.ones(32 * 1024, np.uint16)  # 64 KiB each way: both fit in any L2
    hot_dst = np.zeros_like(hot_src)
    np.copyto(hot_dst, hot_src)
    stream = open_stream(out, fmt, frames, PX)
    got: dict[str, list[float]] = {}
    for i, frame in enumerate(data):
        kind = "first" if i == 0 else "after a pause" if i % 10 == 0 else "back to back"
        if kind == "after a pause":
            time.sleep(gap)
        # The references first, then the append: each finds the caches as a pause (or
        # the previous append) left them, as far as the one before it allows.
        ref_sys = timed(os.getppid)
        ref_copy = timed(lambda: np.copyto(hot_dst, hot_src))
        append = timed(lambda f=frame: stream.append(f, copy=False))  # type: ignore[misc]
        for name, value in (("append", append), ("getppid", ref_sys), ("copy", ref_copy)):
            got.setdefault(f"{kind}|{name}", []).append(value)
    stream.close()
    check(out, fmt, frames)
    return got


def check(out: Path, fmt: str, frames: int) -> None:
    read = read_back(out, fmt, frames, PX)
    if not np.array_equal(read[:, PX // 2, PX // 2], np.arange(frames)):
        raise SystemExit(f"{out}: frames out of place")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--format", default="ome-zarr", choices=["ome-zarr", "ome-tiff"])
    p.add_argument("--gap", type=float, default=0.05, help="pause before every tenth append (s)")
    p.add_argument("--streams", type=int, default=5)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--dir", default=None, help="where the streams write (default: a temp dir)")
    args = p.parse_args()
    runs: list[dict[str, list[float]]] = []
    for _ in range(args.streams):
        where = Path(tempfile.mkdtemp(dir=args.dir))
        try:
            runs.append(one_stream(args.format, args.frames, args.gap, where))
        finally:
            shutil.rmtree(where, ignore_errors=True)
        time.sleep(0.5)
    print(f"{args.format}, {args.streams} streams, pause {args.gap * 1e3:.0f} ms: median µs")
    print(f"{'':16s} {'append':>8s} {'getppid':>8s} {'64 KiB copy':>12s}")
    for kind in ("first", "after a pause", "back to back"):
        cells = [
            float(np.median([v for r in runs for v in r[f"{kind}|{name}"]]))
            for name in ("append", "getppid", "copy")
        ]
        print(f"{kind:16s} {cells[0]:8.1f} {cells[1]:8.1f} {cells[2]:12.1f}")


if __name__ == "__main__":
    main()
