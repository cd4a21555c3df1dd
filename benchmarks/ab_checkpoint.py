"""The cost of crash safety: the default checkpoint (1 s) against checkpoints off.

    .venv/bin/python benchmarks/ab_checkpoint.py [--cases A,B,D] [--rounds 3] [--seconds 6]

run.py's cases last about a second each, too short for a periodic checkpoint to
show. Here each case streams for about `--seconds` (the frame count is scaled from
a first short run), so that every run holds several checkpoints, to the disk the
suite writes to (`benchmarks/results/tmp` by default): the checkpoint's cost is
mostly its syncs, which a memory file system would hide. Each round runs the
interval 1.0 and 0 back to back per case and format (alternating which goes
first); throughput is timed from the first append to the end of close() plus one
syncfs (durable), as in run.py. Prints medians, their ratio, and the share of
the writer's time spent in checkpoints (`stats()`).
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

# name -> (dimensions as (name, count, type) with the first count scaled, dtype, metadata)
CASES: dict[str, tuple[list[tuple[str, int | None, str | None]], str, bool]] = {
    "A": ([("t", 100, "time"), ("y", 2048, None), ("x", 2048, None)], "uint16", False),
    "B": ([("t", 2000, "time"), ("y", 512, None), ("x", 512, None)], "uint16", False),
    "D": ([("t", None, "time"), ("y", 512, None), ("x", 512, None)], "uint16", True),
}
INTERVALS = (1.0, 0.0)


def _syncfs(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # the directory itself
        if hasattr(os, "syncfs"):
            os.syncfs(fd)  # type: ignore[attr-defined]
        else:
            os.sync()
    finally:
        os.close(fd)


def stream_once(case: str, fmt: str, frames: int, interval: float, root: str) -> dict[str, float]:
    """Stream `frames` frames of a case to `root`; durable MB/s and checkpoint figures."""
    import ome_writers as ow
    from ab_memory import stream_inputs

    dims_spec, dtype, with_meta = CASES[case]
    # A bounded first axis holds the scaled frame count.
    name, count, typ = dims_spec[0]
    scaled = [(name, frames if count is not None else None, typ), *dims_spec[1:]]
    settings, pool, meta = stream_inputs(scaled, dtype, fmt, root)
    t0 = time.perf_counter()
    stream = ow.create_stream(settings, checkpoint_interval=interval)
    for i in range(frames):
        stream.append(pool[i % 16], frame_metadata={"a": i, **meta} if with_meta else None)
    stream.close()
    stats = stream.stats()
    _syncfs(os.path.dirname(root))
    seconds = time.perf_counter() - t0
    out = settings.output_path
    shutil.rmtree(out) if os.path.isdir(out) else os.remove(out)
    return {
        "mbps": frames * pool[0].nbytes / 1e6 / seconds,
        "seconds": seconds,
        "checkpoints": float(stats["checkpoints"]),
        "checkpoint_share": float(stats["checkpoint_seconds"]) / seconds,
    }


def run_child(case: str, fmt: str, frames: int, interval: float, root: str) -> dict[str, float]:
    """One run in a fresh interpreter (no state carried between runs)."""
    cmd = [sys.executable, __file__, "--one", case, fmt, str(frames), str(interval), root]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> int:
    """Alternate the two intervals over the cases; print medians and ratios."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cases", default=",".join(CASES), help="subset of " + ",".join(CASES))
    p.add_argument("--rounds", type=int, default=3, help="runs per interval, case and format")
    p.add_argument("--seconds", type=float, default=6.0, help="about how long each run streams")
    p.add_argument("--dir", default=str(HERE / "results" / "tmp"), help="where to write")
    p.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        case, fmt, frames, interval, root = args.one
        print(json.dumps(stream_once(case, fmt, int(frames), float(interval), root)))
        return 0
    os.makedirs(args.dir, exist_ok=True)
    root = str(Path(args.dir) / f"ab-checkpoint-{os.getpid()}")
    print(
        "| case | format | frames | ckpt 1.0 MB/s | ckpt 0 MB/s | ratio | checkpoints | "
        "share of time |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    worst = float("inf")
    for case in args.cases.split(","):
        for fmt in ("zarr", "tiff"):
            probe = run_child(case, fmt, 300, 0.0, root)
            dims_spec = CASES[case][0]
            frame_mb = dims_spec[-1][1] * dims_spec[-2][1] * 2 / 1e6  # type: ignore[operator]
            frames = max(300, int(args.seconds * probe["mbps"] / frame_mb))
            runs: dict[float, list[dict[str, float]]] = {iv: [] for iv in INTERVALS}
            for r in range(args.rounds):
                order = INTERVALS if r % 2 == 0 else INTERVALS[::-1]
                for iv in order:
                    runs[iv].append(run_child(case, fmt, frames, iv, root))
            on = statistics.median(x["mbps"] for x in runs[1.0])
            off = statistics.median(x["mbps"] for x in runs[0.0])
            cps = statistics.median(x["checkpoints"] for x in runs[1.0])
            share = statistics.median(x["checkpoint_share"] for x in runs[1.0])
            worst = min(worst, on / off)
            print(
                f"| {case} | {fmt} | {frames} | {on:.0f} | {off:.0f} | {on / off:.3f} | "
                f"{cps:.0f} | {100 * share:.2f}% |",
                flush=True,
            )
    print(f"\nworst ratio (checkpoint 1.0 ÷ off): {worst:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
