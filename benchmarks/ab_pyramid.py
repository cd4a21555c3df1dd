"""The cost of a pyramid written during acquisition, and ours against acquire-zarr's.

    .venv/bin/python benchmarks/ab_pyramid.py [--frames 200] [--size 2048] [--rounds 3]
                                              [--levels 4] [--root benchmarks/results/tmp]

Cases (uint16 frames of --size x --size, uncompressed, a bounded t axis):

- plain: the default layout (one chunk per frame, unsharded), ours with no
  pyramid against ours with a --levels mean pyramid: the cost of the pyramid
  on the fastest full-resolution path (issue #18's target: at most 15%).
- tiled: y/x chunks of size/8, one shard per frame (acquire-zarr always
  shards), ours and acquire-zarr, each without and with the same pyramid
  (--levels datasets, mean; acquire-zarr stops where a level fits one chunk,
  so the chunk is chosen to give both the same levels).

Each round runs every row once, in a rotated order; each run is a fresh
interpreter, timed from stream creation to the end of close() plus one syncfs
(durable), as run.py does. Prints median MB/s of full-resolution frames, and
the ratios: pyramid / no pyramid (per writer), ours / acquire-zarr (with the
pyramid). Do not run it while other heavy work shares the machine.
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

ROWS = [
    ("plain", "ours", 1),
    ("plain", "ours", 0),  # 0: --levels
    ("tiled", "ours", 1),
    ("tiled", "ours", 0),
    ("tiled", "acquire-zarr", 1),
    ("tiled", "acquire-zarr", 0),
]


def _syncfs(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        if hasattr(os, "syncfs"):
            os.syncfs(fd)  # type: ignore[attr-defined]
        else:
            os.sync()
    finally:
        os.close(fd)


def _frames(n: int, size: int):  # type: ignore[no-untyped-def]
    import numpy as np

    rng = np.random.default_rng(0)
    # A few distinct frames, reused: content costs nothing uncompressed.
    return [rng.integers(0, 4096, (size, size), dtype=np.uint16) for _ in range(min(n, 8))]


def run_ours(case: str, levels: int, frames: int, size: int, root: str) -> float:
    import ome_writers as ow

    tiled = case == "tiled"
    chunk = size // 8 if tiled else None
    shard = 8 if tiled else None
    settings = ow.AcquisitionSettings(
        root_path=os.path.join(root, "ours.ome.zarr"),
        dtype="uint16",
        dimensions=[
            ow.Dimension(name="t", count=frames, type="time"),
            ow.Dimension(
                name="y", count=size, type="space", chunk_size=chunk, shard_size_chunks=shard
            ),
            ow.Dimension(
                name="x", count=size, type="space", chunk_size=chunk, shard_size_chunks=shard
            ),
        ],
        overwrite=True,
        pyramid=ow.Pyramid(levels=levels, method="mean") if levels > 1 else None,
    )
    pool = _frames(frames, size)
    t0 = time.perf_counter()
    stream = ow.create_stream(settings)
    for i in range(frames):
        stream.append(pool[i % len(pool)])
    stream.close()
    _syncfs(root)
    seconds = time.perf_counter() - t0
    if levels > 1:  # the pyramid was written
        assert os.path.isdir(os.path.join(settings.output_path, str(levels - 1)))
    shutil.rmtree(settings.output_path)
    return frames * pool[0].nbytes / 1e6 / seconds


def run_acquire(levels: int, frames: int, size: int, root: str) -> float:
    import acquire_zarr as aqz
    import numpy as np

    chunk = size // 8

    def dim(name: str, kind, count: int, c: int, s: int):  # type: ignore[no-untyped-def]
        return aqz.Dimension(
            name=name, kind=kind, array_size_px=count, chunk_size_px=c, shard_size_chunks=s
        )

    dims = [
        dim("t", aqz.DimensionType.TIME, frames, 1, 1),
        dim("y", aqz.DimensionType.SPACE, size, chunk, 8),
        dim("x", aqz.DimensionType.SPACE, size, chunk, 8),
    ]
    kw: dict = {"output_key": "0", "dimensions": dims, "data_type": np.uint16}
    if levels > 1:
        kw["downsampling_method"] = aqz.DownsamplingMethod.MEAN
        kw["max_levels"] = levels
    store = os.path.join(root, "acquire.zarr")
    pool = _frames(frames, size)
    t0 = time.perf_counter()
    stream = aqz.ZarrStream(
        aqz.StreamSettings(store_path=store, arrays=[aqz.ArraySettings(**kw)], overwrite=True)
    )
    for i in range(frames):
        stream.append(pool[i % len(pool)], key="0")
    stream.close()
    _syncfs(root)
    seconds = time.perf_counter() - t0
    written = sorted(p.name for p in Path(store, "0").iterdir() if p.is_dir())
    shutil.rmtree(store)
    # Without a pyramid the array is the group itself (its chunks under "c").
    want = [str(i) for i in range(levels)] if levels > 1 else ["c"]
    if written != want:
        raise SystemExit(f"acquire-zarr wrote levels {written}, not {want}")
    return frames * pool[0].nbytes / 1e6 / seconds


def child(args: argparse.Namespace) -> None:
    case, writer, levels = args.child.split(":")
    n = int(levels) or args.levels
    if writer == "ours":
        mbps = run_ours(case, n, args.frames, args.size, args.root)
    else:
        mbps = run_acquire(n, args.frames, args.size, args.root)
    print(json.dumps({"mbps": mbps}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--levels", type=int, default=4)
    p.add_argument("--root", default=str(HERE / "results" / "tmp"))
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.size % 8 or (args.size // 8) << (args.levels - 1) > args.size:
        raise SystemExit("--size must be a multiple of 8 with size/8 * 2^(levels-1) <= size")
    os.makedirs(args.root, exist_ok=True)
    if args.child:
        child(args)
        return
    results: dict[tuple[str, str, int], list[float]] = {row: [] for row in ROWS}
    for r in range(args.rounds):
        order = ROWS[r % len(ROWS) :] + ROWS[: r % len(ROWS)]
        for case, writer, levels in order:
            cmd = [sys.executable, __file__, "--child", f"{case}:{writer}:{levels}"]
            cmd += ["--frames", str(args.frames), "--size", str(args.size)]
            cmd += ["--levels", str(args.levels), "--root", args.root]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(f"{case} {writer} levels={levels or args.levels}: failed\n{out.stderr}")
                continue
            results[(case, writer, levels)].append(json.loads(out.stdout.splitlines()[-1])["mbps"])
    med = {k: statistics.median(v) for k, v in results.items() if v}
    print(f"{args.frames} frames of {args.size}x{args.size} uint16, {args.rounds} rounds, medians:")
    for case, writer, levels in ROWS:
        key = (case, writer, levels)
        label = "no pyramid" if levels == 1 else f"{args.levels}-level mean pyramid"
        value = f"{med[key]:9.1f} MB/s" if key in med else "   failed"
        print(f"  {case:6s} {writer:13s} {label:24s} {value}")

    def ratio(a: tuple[str, str, int], b: tuple[str, str, int]) -> str:
        return f"{med[a] / med[b]:.3f}" if a in med and b in med else "n/a"

    print("ratios:")
    print(f"  plain ours   pyramid / none      {ratio(ROWS[1], ROWS[0])}  (target >= 0.85)")
    print(f"  tiled ours   pyramid / none      {ratio(ROWS[3], ROWS[2])}")
    print(f"  tiled acquire-zarr pyramid / none {ratio(ROWS[5], ROWS[4])}")
    print(f"  tiled pyramid ours / acquire-zarr {ratio(ROWS[3], ROWS[5])}  (target > 1)")


if __name__ == "__main__":
    main()
