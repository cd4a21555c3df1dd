"""Alternating rounds of suite jobs, each with its own output place and environment.

    .venv/bin/python benchmarks/ab_jobs.py --rounds 5 \\
        codec=build/bench-data/jobs/C-codec-tiff-deflate-r0.job.json \\
        ours=build/bench-data/jobs/C-ours-nocopy-tiff-deflate-r0.job.json \\
        tmpfs=build/bench-data/jobs/C-ours-nocopy-tiff-deflate-r0.job.json@/dev/shm \\
        lib123=build/bench-data/jobs/C-ours-nocopy-tiff-deflate-r0.job.json+/opt/libdeflate \\
        long=build/bench-data/jobs/C-ours-nocopy-tiff-deflate-r0.job.json*16

A variant is NAME=JOB[*K][@DIR][+LIBDIR]: a job file that `run.py` wrote (build/bench-data/jobs),
with K times its frames (the outermost axis K times longer: what a cost paid once per stream
comes to per GB in a longer acquisition), written under DIR instead of its own place, with
LIBDIR first on LD_LIBRARY_PATH (another build of a shared library the engine links, same
soname). Rounds alternate the order, so
neither variant always runs first on this noisy VM; the first variant is the reference.
Prints each run, then medians of MB/s durable and CPU s/GB, and the median of per-round
ratios to the reference. Each run starts as the suite's do (`run.py`'s page-cache sync and
worker environment). Outputs are deleted after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import run as suite

Variant = tuple[str, Path, int, str | None, str | None]


def parse_variant(text: str) -> Variant:
    name, sep, rest = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"variant {text!r}: expected NAME=JOB[*K][@DIR][+LIBDIR]")
    rest, _, libdir = rest.partition("+")
    rest, _, out_root = rest.partition("@")
    job, star, times = rest.partition("*")
    if star and not (times.isdigit() and int(times) >= 1):
        raise SystemExit(f"variant {name!r}: *{times} is not a whole number of times ≥ 1")
    path = Path(job)
    if not path.is_file():
        raise SystemExit(f"variant {name!r}: no job file {job!r} (run.py writes them)")
    return name, path, int(times) if star else 1, out_root or None, libdir or None


def lengthen(job: dict[str, Any], times: int) -> None:
    """K times the frames: the outermost axis K times longer (an unbounded one has no count)."""
    case = job["case"]
    case["frames"] *= times
    outer = case["dims"][0]
    if outer["count"] is not None:
        outer["count"] *= times


def steal_share(before: list[int], after: list[int]) -> float:
    """Share of all CPU time the hypervisor stole between two reads of /proc/stat."""
    delta = [b - a for a, b in zip(before, after, strict=True)]
    return delta[7] / sum(delta) if sum(delta) else 0.0


def cpu_times() -> list[int]:
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


def run_one(variant: Variant, scratch: Path) -> dict[str, Any]:
    name, job_path, times, out_root, libdir = variant
    job = json.loads(job_path.read_text())
    lengthen(job, times)
    out = Path(out_root or Path(job["out_dir"]).parent) / f"ab-jobs-{name}"
    shutil.rmtree(out, ignore_errors=True)
    job["out_dir"] = str(out)
    job_file, result_file = scratch / f"{name}.job.json", scratch / f"{name}.result.json"
    job_file.write_text(json.dumps(job))
    env = suite.worker_env()
    if libdir:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [libdir, env.get("LD_LIBRARY_PATH")]))
    suite.sync_caches()
    before = cpu_times()
    try:
        subprocess.run(
            [sys.executable, str(suite.HERE / "worker.py"), str(job_file), str(result_file)],
            check=True, stdout=subprocess.DEVNULL, env=env,
        )  # fmt: skip
    finally:
        shutil.rmtree(out, ignore_errors=True)
    result: dict[str, Any] = json.loads(result_file.read_text())
    result["steal"] = steal_share(before, cpu_times())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "variants", nargs="+", help="NAME=JOB[*K][@DIR][+LIBDIR]; the first is the reference"
    )
    args = parser.parse_args()
    variants = [parse_variant(v) for v in args.variants]
    if len(variants) < 2:
        raise SystemExit("give at least two variants")
    runs: dict[str, list[dict[str, Any]]] = {v[0]: [] for v in variants}
    with tempfile.TemporaryDirectory() as scratch:
        for r in range(args.rounds):
            for variant in variants if r % 2 == 0 else variants[::-1]:
                name = variant[0]
                x = run_one(variant, Path(scratch))
                runs[name].append(x)
                print(
                    f"round {r} {name}: {x['total_bytes'] / 1e9:.2f} GB, "
                    f"{x['mbps_durable']:.0f} MB/s durable, "
                    f"{x['cpu_s_per_gb']:.2f} CPU s/GB, steal {100 * x['steal']:.1f}%",
                    flush=True,
                )
    reference = variants[0][0]
    for name, xs in runs.items():
        line = (
            f"{name}: median {statistics.median(x['mbps_durable'] for x in xs):.0f} MB/s, "
            f"{statistics.median(x['cpu_s_per_gb'] for x in xs):.2f} CPU s/GB"
        )
        if name != reference:
            pairs = zip(xs, runs[reference], strict=True)
            ratios = [x["mbps_durable"] / y["mbps_durable"] for x, y in pairs]
            line += f"; ÷ {reference} per round {[round(q, 2) for q in ratios]}, median "
            line += f"{statistics.median(ratios):.2f}"
        print(line)


if __name__ == "__main__":
    main()
