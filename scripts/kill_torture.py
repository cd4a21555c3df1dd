#!/usr/bin/env python
"""Kill torture (issue #14, crash safe by default) for a longer run than the test suite's.

Streams frames in a child process, SIGKILLs it at a random moment, and checks what standard
readers see (before and after recover()); the harness is tests/python/kill_harness.py, the
same one tests/python/test_kill_torture.py runs. Examples:

    .venv/bin/python scripts/kill_torture.py --kills 500 --seed 1
    .venv/bin/python scripts/kill_torture.py --kills 20 --formats ome-tiff --layouts tiff-tp
    .venv/bin/python scripts/kill_torture.py --seed 1 --kills 50 --only 17 --keep

Exits 1 when any kill fails; failed runs' outputs stay in --workdir.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "python"))

import kill_harness as kh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200, help="kills per format (200)")
    parser.add_argument("--seed", type=int, default=None, help="RNG seed (default: random)")
    parser.add_argument("--formats", nargs="+", default=list(kh.FORMATS), choices=kh.FORMATS)
    parser.add_argument("--layouts", nargs="+", choices=sorted(kh.LAYOUTS), help="only these")
    parser.add_argument("--only", nargs="+", type=int, help="only these run numbers of the plan")
    parser.add_argument("--workers", type=int, default=2, help="children at once (2)")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary dir")
    parser.add_argument("--keep", action="store_true", help="keep passing runs' outputs too")
    parser.add_argument("--quiet", action="store_true", help="no line per passing run")
    args = parser.parse_args(argv)

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    runs = kh.plan(seed, args.kills, args.formats, args.layouts)
    if args.only:
        runs = [r for r in runs if r.number in set(args.only)]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kill_torture_"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"seed {seed}, {len(runs)} kills, outputs under {workdir}", flush=True)

    def show(result: kh.RunResult) -> None:
        if result.problems:
            print("FAIL", result.report(), flush=True)
        elif not args.quiet:
            print(f"ok   {result.report()}", flush=True)

    started = time.monotonic()
    results = kh.run_all(runs, workdir, workers=args.workers, on_result=show, keep=args.keep)
    elapsed = time.monotonic() - started
    failed = [r for r in results if r.problems]
    print(f"\nseed {seed}: {len(results)} kills in {elapsed:.0f} s, {len(failed)} failed\n")
    print(kh.summary(results))
    if failed:
        print("\nFailed kills:\n" + kh.failure_report(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
