"""Soak: a million small frames with 6-key metadata, both formats (issue #16).

    .venv/bin/python benchmarks/soak.py [--frames 1000000] [--formats zarr,tiff]
        [--flush-every 10000] [--budget-mib 64] [--dir benchmarks/results/tmp]

Each format runs in a fresh interpreter: 16x16 uint16 frames, unbounded t, as fast
as `append` goes, `flush()` every `--flush-every` frames. Reported: RSS growth over
the run (sampled at each flush: it must stay flat, within the budget + 64 MiB), the
median and p99 `flush()` time in the first and the last tenth of the run (constant,
not growing with the run), the close time, and the checkpoints' share of the time.
`--json` prints one machine-readable line per format (the test command runs 50k
frames this way: tests/python/test_soak.py).
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

HERE = Path(__file__).resolve().parent


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def soak(
    fmt: str, frames: int, flush_every: int, budget_mib: int, out_dir: str, t_chunk: int = 1
) -> dict[str, Any]:
    """Streams the run in this interpreter and measures it."""
    import numpy as np

    import ome_writers as ow

    suffix = ".ome.zarr" if fmt == "zarr" else ".ome.tiff"
    root = os.path.join(out_dir, f"soak-{os.getpid()}{suffix}")
    settings = ow.AcquisitionSettings(
        root_path=root,
        dimensions=[
            ow.Dimension(name="t", count=None, type="time", chunk_size=t_chunk),
            ow.Dimension(name="y", count=16),
            ow.Dimension(name="x", count=16),
        ],
        dtype="uint16",
        overwrite=True,
    )
    frame = np.zeros((16, 16), np.uint16)
    stream = ow.create_stream(settings, max_memory_bytes=budget_mib << 20)
    rss0 = _rss_mib()
    t0 = time.perf_counter()
    samples: list[tuple[int, float]] = []
    flushes: list[float] = []
    for i in range(frames):
        frame[0, 0] = i & 0xFFFF
        stream.append(
            frame,
            frame_metadata={
                "i": i,
                "exposure_time": 0.01,
                "delta_t": i * 0.01,
                "stage": "A1",
                "z_um": [1.5, 2.5],
                "ok": True,
            },
        )
        if (i + 1) % flush_every == 0:
            a = time.perf_counter()
            stream.flush()
            flushes.append(time.perf_counter() - a)
            samples.append((i + 1, _rss_mib() - rss0))
    streamed = time.perf_counter() - t0
    a = time.perf_counter()
    stream.close()
    close_s = time.perf_counter() - a
    stats = stream.stats()
    out = settings.output_path
    size = sum(p.stat().st_size for p in Path(out).rglob("*")) if os.path.isdir(out) else 0
    if not size and os.path.exists(out):
        size = os.path.getsize(out)
    shutil.rmtree(out) if os.path.isdir(out) else os.remove(out)
    tenth = max(1, len(flushes) // 10)
    first, last = sorted(flushes[:tenth]), sorted(flushes[-tenth:])

    def p99(xs: list[float]) -> float:
        return xs[min(len(xs) - 1, int(0.99 * len(xs)))]

    return {
        "format": fmt,
        "frames": frames,
        "fps": frames / streamed,
        "rss_growth_mib": [round(r, 1) for _, r in samples],
        "rss_growth_max_mib": max(r for _, r in samples),
        "rss_growth_first_mib": samples[0][1],
        "flush_median_ms_first": 1e3 * statistics.median(first),
        "flush_p99_ms_first": 1e3 * p99(first),
        "flush_median_ms_last": 1e3 * statistics.median(last),
        "flush_p99_ms_last": 1e3 * p99(last),
        "flush_p99_ms": 1e3 * p99(sorted(flushes)),
        "close_s": close_s,
        "checkpoint_share": float(stats["checkpoint_seconds"]) / streamed,
        "output_mib": size / 2**20,
        "budget_mib": budget_mib,
        "t_chunk": t_chunk,
    }


def main() -> int:
    """Runs each format in a child and prints the table."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--frames", type=int, default=1_000_000)
    p.add_argument("--formats", default="zarr,tiff")
    p.add_argument("--flush-every", type=int, default=10_000)
    p.add_argument("--budget-mib", type=int, default=64)
    p.add_argument(
        "--t-chunk",
        type=int,
        default=1,
        help="frames per Zarr chunk along t (1: a file and two directories per frame)",
    )
    p.add_argument("--dir", default=str(HERE / "results" / "tmp"))
    p.add_argument("--json", action="store_true", help="one JSON line per format")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    if args.one:
        res = soak(args.one, args.frames, args.flush_every, args.budget_mib, args.dir, args.t_chunk)
        print(json.dumps(res))
        return 0
    results = []
    for fmt in args.formats.split(","):
        cmd = [sys.executable, __file__, "--one", fmt, "--frames", str(args.frames)]
        cmd += ["--flush-every", str(args.flush_every), "--budget-mib", str(args.budget_mib)]
        cmd += ["--dir", args.dir, "--t-chunk", str(args.t_chunk)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        if args.json:
            print(out.strip().splitlines()[-1], flush=True)
    if args.json:
        return 0
    print(
        "| format | frames | frames/s | RSS growth max (MiB) | flush p99 first / last tenth (ms) "
        "| flush median first / last (ms) | close (s) | checkpoints' share |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for r in results:
        print(
            f"| {r['format']} | {r['frames']} | {r['fps']:.0f} | {r['rss_growth_max_mib']:.0f} "
            f"| {r['flush_p99_ms_first']:.0f} / {r['flush_p99_ms_last']:.0f} "
            f"| {r['flush_median_ms_first']:.0f} / {r['flush_median_ms_last']:.0f} "
            f"| {r['close_s']:.2f} | {100 * r['checkpoint_share']:.1f}% |"
        )
        print(f"RSS growth at each flush ({r['format']}): {r['rss_growth_mib']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
