"""Benchmark suite: our engine against its peers and the disk, in one run.

    .venv/bin/python benchmarks/run.py [--quick] [--cases A,B,...] [--engines ...]
                                       [--repeats N] [--out benchmarks/results]

Creates (once, cached under build/bench-envs/<name>/) one virtual environment per peer,
then runs every (case, engine) pair in a fresh process of the right interpreter
(`worker.py`), verifies each run's output with independent readers (`verify.py`, in this
environment), repeats each pair N times with the engines interleaved, and writes the
medians to `<out>/latest.md`, `<out>/latest.json` and `<out>/latest.png`.
See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENVS_DIR = ROOT / "build" / "bench-envs"
MIB = 1 << 20
GIB = 1 << 30
DEFAULT_BUDGET = 512 * MIB  # create_stream's default max_memory_bytes (README)
RSS_SLACK = 64 * MIB

# Peer environments: name -> pip requirements.
PEER_ENVS: dict[str, list[str]] = {
    "tensorstore": ["tensorstore", "numpy"],
    "acquire-zarr": ["acquire-zarr==0.10.0", "numpy"],
    "tifffile": ["tifffile", "imagecodecs", "numpy"],
    "ome-writers-0.3.2": ["ome-writers[tensorstore,tifffile]==0.3.2", "numpy"],
}

# --engines names -> (worker engine, output format) rows.
ENGINE_GROUPS: dict[str, list[tuple[str, str]]] = {
    "ours": [("ours", "zarr"), ("ours", "tiff"), ("ours-nocopy", "zarr"), ("ours-nocopy", "tiff")],
    "tensorstore": [
        ("tensorstore", "zarr"),
        ("tensorstore-await", "zarr"),
        ("tensorstore-ourparams", "zarr"),
        ("tensorstore-ourparams-copied", "zarr"),
    ],
    "acquire-zarr": [("acquire-zarr", "zarr")],
    "tifffile": [("tifffile", "tiff")],
    "0.3.2": [("ome-writers-0.3.2", "zarr"), ("ome-writers-0.3.2", "tiff")],
    # The floors: the page cache, the disk (O_DIRECT), the disk behind a copy into fresh
    # memory (a copying writer's), the disk with a file per frame (chunk-per-frame Zarr's).
    "raw": [
        ("raw", "raw"),
        ("raw-direct", "raw"),
        ("raw-direct-fresh", "raw"),
        ("raw-direct-files", "raw"),
    ],
    # Case C only: our codec and parameters on every core, no I/O (the compressed ceiling).
    # With "-copied": each frame first copied on the caller's thread, as a copying append
    # must (the ceiling of a writer whose caller may reuse its buffer at once).
    "codec": [
        ("codec", "zarr"),
        ("codec", "tiff"),
        ("codec-copied", "zarr"),
        ("codec-copied", "tiff"),
        ("codec-fresh", "zarr"),
        ("codec-fresh", "tiff"),
    ],
    # Each engine behind our backend shim, next to the library used directly.
    "shim": [
        ("via-tensorstore", "zarr"),
        ("via-acquire-zarr", "zarr"),
        ("zarr-python", "zarr"),
        ("via-zarr-python", "zarr"),
        ("zarrs-python", "zarr"),
        ("via-zarrs-python", "zarr"),
        ("via-tifffile", "tiff"),
    ],
    # Only with --baseline REV: our engine built from another revision, run in the
    # same session as this tree's (the only fair before/after on a noisy machine).
    "baseline": [
        ("ours-baseline", "zarr"),
        ("ours-baseline", "tiff"),
        ("ours-baseline-nocopy", "zarr"),
        ("ours-baseline-nocopy", "tiff"),
    ],
}
BASELINE = "ours-baseline"
BASELINE_NOCOPY = "ours-baseline-nocopy"
BASELINES = (BASELINE, BASELINE_NOCOPY)
ENV_OF = {
    "ours": None,
    "ours-nocopy": None,
    "raw": None,
    "codec": None,
    "codec-copied": None,
    "codec-fresh": None,
    "raw-direct": None,
    "raw-direct-fresh": None,
    "raw-direct-files": None,
    BASELINE: None,  # built from the --baseline revision (ensure_baseline_env)
    BASELINE_NOCOPY: None,
    "tensorstore": "tensorstore",
    "tensorstore-await": "tensorstore",
    "tensorstore-ourparams": "tensorstore",
    "tensorstore-ourparams-copied": "tensorstore",
    "acquire-zarr": "acquire-zarr",
    "tifffile": "tifffile",
    "ome-writers-0.3.2": "ome-writers-0.3.2",
    # zarr-python and the shim rows run in this repository's venv (it has every engine).
    "zarr-python": None,
    "zarrs-python": None,
    "via-tensorstore": None,
    "via-acquire-zarr": None,
    "via-zarr-python": None,
    "via-zarrs-python": None,
    "via-tifffile": None,
}
LABELS = {
    ("ours", "zarr"): "ours zarr",
    ("ours", "tiff"): "ours tiff",
    ("ours-nocopy", "zarr"): "ours zarr, copy=False",
    ("ours-nocopy", "tiff"): "ours tiff, copy=False",
    (BASELINE, "zarr"): "ours zarr @ baseline",
    (BASELINE, "tiff"): "ours tiff @ baseline",
    (BASELINE_NOCOPY, "zarr"): "ours zarr, copy=False @ baseline",
    (BASELINE_NOCOPY, "tiff"): "ours tiff, copy=False @ baseline",
    ("tensorstore", "zarr"): "tensorstore",
    ("tensorstore-await", "zarr"): "tensorstore (await each)",
    ("tensorstore-ourparams", "zarr"): "tensorstore, our codec parameters",
    ("tensorstore-ourparams-copied", "zarr"): "tensorstore, our codec parameters, frames copied",
    ("acquire-zarr", "zarr"): "acquire-zarr",
    ("tifffile", "tiff"): "tifffile",
    ("ome-writers-0.3.2", "zarr"): "0.3.2 tensorstore",
    ("ome-writers-0.3.2", "tiff"): "0.3.2 tifffile",
    ("zarr-python", "zarr"): "zarr-python",
    ("zarrs-python", "zarr"): "zarrs-python",
    ("via-tensorstore", "zarr"): "ours → tensorstore",
    ("via-acquire-zarr", "zarr"): "ours → acquire-zarr",
    ("via-zarr-python", "zarr"): "ours → zarr-python",
    ("via-zarrs-python", "zarr"): "ours → zarrs-python",
    ("via-tifffile", "tiff"): "ours → tifffile",
    ("codec", "zarr"): "codec only, all cores (zarr)",
    ("codec", "tiff"): "codec only, all cores (tiff)",
    ("codec-copied", "zarr"): "codec only, all cores, frames copied (zarr)",
    ("codec-copied", "tiff"): "codec only, all cores, frames copied (tiff)",
    ("codec-fresh", "zarr"): "codec only, all cores, frames copied into fresh memory (zarr)",
    ("codec-fresh", "tiff"): "codec only, all cores, frames copied into fresh memory (tiff)",
    ("raw", "raw"): "raw write()",
    ("raw-direct", "raw"): "raw O_DIRECT 8 MiB",
    ("raw-direct-fresh", "raw"): "raw O_DIRECT 8 MiB via fresh memory",
    ("raw-direct-files", "raw"): "raw O_DIRECT, a file per frame",
}
# What each (engine, format) can compress with; anything else is skipped with a reason.
SUPPORTED: dict[tuple[str, str], set[str | None]] = {
    ("ours", "zarr"): {None, "blosc-zstd", "blosc-lz4", "zstd"},
    ("ours", "tiff"): {None, "lzw", "deflate", "zstd"},
    ("ours-nocopy", "zarr"): {None, "blosc-zstd", "blosc-lz4", "zstd"},
    ("ours-nocopy", "tiff"): {None, "lzw", "deflate", "zstd"},
    (BASELINE, "zarr"): {None, "blosc-zstd", "blosc-lz4", "zstd"},
    (BASELINE, "tiff"): {None, "lzw", "deflate", "zstd"},
    (BASELINE_NOCOPY, "zarr"): {None, "blosc-zstd", "blosc-lz4", "zstd"},
    (BASELINE_NOCOPY, "tiff"): {None, "lzw", "deflate", "zstd"},
    ("tensorstore", "zarr"): {None, "blosc-zstd", "zstd"},
    ("tensorstore-await", "zarr"): {None, "blosc-zstd", "zstd"},
    ("tensorstore-ourparams", "zarr"): {"blosc-zstd", "zstd"},
    ("tensorstore-ourparams-copied", "zarr"): {"blosc-zstd", "zstd"},
    ("acquire-zarr", "zarr"): {None, "blosc-zstd"},
    ("tifffile", "tiff"): {None, "lzw", "deflate", "zstd"},
    ("ome-writers-0.3.2", "zarr"): {None, "blosc-zstd", "zstd"},
    ("ome-writers-0.3.2", "tiff"): {None, "lzw"},
    ("raw", "raw"): {None},
    ("raw-direct", "raw"): {None},
    ("raw-direct-fresh", "raw"): {None},
    ("raw-direct-files", "raw"): {None},
    ("codec", "zarr"): {"blosc-zstd", "zstd"},
    ("codec", "tiff"): {"zstd", "deflate"},
    ("codec-copied", "zarr"): {"blosc-zstd", "zstd"},
    ("codec-copied", "tiff"): {"zstd", "deflate"},
    ("codec-fresh", "zarr"): {"blosc-zstd", "zstd"},
    ("codec-fresh", "tiff"): {"zstd", "deflate"},
    ("zarr-python", "zarr"): {None, "blosc-zstd", "zstd"},
    ("zarrs-python", "zarr"): {None, "blosc-zstd", "zstd"},
    ("via-tensorstore", "zarr"): {None, "blosc-zstd", "zstd"},
    ("via-acquire-zarr", "zarr"): {None, "blosc-zstd"},
    ("via-zarr-python", "zarr"): {None, "blosc-zstd", "zstd"},
    ("via-zarrs-python", "zarr"): {None, "blosc-zstd", "zstd"},
    ("via-tifffile", "tiff"): {None, "lzw", "deflate", "zstd"},
}
# tensorstore given our codec parameters. A plain write reads the caller's array until its
# `copy` future completes (the contract of our copy=False); with our copying append the
# caller may reuse its array at once, which a tensorstore user gets by passing a copy.
TS_OURPARAMS = ("tensorstore-ourparams", "tensorstore-ourparams-copied")
CODEC_ENGINES = ("codec", "codec-copied", "codec-fresh")
# The baselines: the same bytes through the page cache, and straight to the disk.
RAW_ENGINES = ("raw", "raw-direct")
# Floors for context, where they apply: see ENGINE_GROUPS["raw"].
FLOOR_ENGINES = ("raw-direct-fresh", "raw-direct-files")
SKIP_WHY = {
    ("acquire-zarr", "zstd"): "acquire-zarr 0.10 has no standalone zstd codec (blosc only)",
    ("ome-writers-0.3.2", "zstd"): "0.3.2's TIFF backend offers only LZW",
    ("ome-writers-0.3.2", "deflate"): "0.3.2's TIFF backend offers only LZW",
}


# --------------------------------------------------------------------------- cases


def _dim(name: str, count: int | None, kind: str, chunk: int | None = None, shard=None):
    d: dict[str, Any] = {"name": name, "count": count, "type": kind}
    if chunk:
        d["chunk"] = chunk
    if shard:
        d["shard"] = shard
    return d


def _frame(size: int, chunk: int | None = None, shard: int | None = None) -> list[dict]:
    return [_dim("y", size, "space", chunk, shard), _dim("x", size, "space", chunk, shard)]


@dataclass
class Case:
    """One benchmark case: what is streamed and which compressions each row uses."""

    name: str
    title: str
    dtype: str
    dims: list[dict[str, Any]]
    frames: int
    content: str = "random"
    metadata: bool = False
    # (engine, format) -> compressions; rows not listed use [None].
    compressions: dict[tuple[str, str], list[str | None]] = field(default_factory=dict)
    only: set[str] | None = None  # worker engines allowed (MEM: ours + raw)
    budgets: list[int | None] = field(default_factory=lambda: [None])
    pool_bytes: int = 2 * GIB

    def spec(self) -> dict[str, Any]:
        """The JSON case given to worker.py."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "dims": self.dims,
            "frames": self.frames,
            "content": self.content,
            "metadata": self.metadata,
        }

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame."""
        size = {"uint8": 1, "uint16": 2}[self.dtype]
        return self.dims[-1]["count"] * self.dims[-2]["count"] * size


def make_cases(mode: str = "full") -> dict[str, Case]:
    """The cases of issue 6: `full`, `quick` (fewer frames) or `smoke` (tiny frames too)."""

    def n(full: int, quick: int, smoke: int) -> int:
        return {"full": full, "quick": quick, "smoke": smoke}[mode]

    def px(full: int) -> int:
        return full if mode != "smoke" else max(64, full // 8)

    c_zarr: list[str | None] = ["blosc-zstd", "zstd"]
    compress_c: dict[tuple[str, str], list[str | None]] = {
        ("ours", "zarr"): list(c_zarr),
        ("ours", "tiff"): ["zstd", "deflate"],
        ("ours-nocopy", "zarr"): list(c_zarr),
        ("ours-nocopy", "tiff"): ["zstd", "deflate"],
        ("tensorstore", "zarr"): list(c_zarr),
        ("tensorstore-await", "zarr"): list(c_zarr),
        ("tensorstore-ourparams", "zarr"): list(c_zarr),
        ("tensorstore-ourparams-copied", "zarr"): list(c_zarr),
        ("acquire-zarr", "zarr"): list(c_zarr),
        ("tifffile", "tiff"): ["lzw", "zstd"],
        ("ome-writers-0.3.2", "zarr"): list(c_zarr),
        ("ome-writers-0.3.2", "tiff"): ["lzw"],
        ("raw", "raw"): [None],
        ("raw-direct", "raw"): [None],
        ("codec", "zarr"): list(c_zarr),
        ("codec", "tiff"): ["zstd", "deflate"],
        ("codec-copied", "zarr"): list(c_zarr),
        ("codec-copied", "tiff"): ["zstd", "deflate"],
        ("codec-fresh", "zarr"): list(c_zarr),
        ("codec-fresh", "tiff"): ["zstd", "deflate"],
    }
    big, small, mid = px(2048), px(512), px(1024)
    t_a, t_b, t_d = n(100, 10, 4), n(2000, 200, 20), n(1000, 100, 10)
    t_e, t_f, t_g, t_h = n(10, 2, 1), n(2000, 200, 100), n(500, 50, 6), n(500, 50, 3)
    t_mem = n(512, 64, 8)
    shard_t = 50 if mode != "smoke" else 10
    mem_gib = t_mem * big * big * 2 / GIB
    cases = [
        Case("A", f"{big}×{big} uint16, {t_a} frames, uncompressed, chunk = frame", "uint16",
             [_dim("t", t_a, "time"), *_frame(big)], t_a),
        Case("B", f"{small}×{small} uint16, {t_b} frames, uncompressed, chunk = frame",
             "uint16", [_dim("t", t_b, "time"), *_frame(small)], t_b),
        Case("C", f"{big}×{big} uint16, {t_a} frames, compressible (smooth + noise)", "uint16",
             [_dim("t", t_a, "time"), *_frame(big)], t_a, content="smooth",
             compressions=compress_c),
        Case("D", f"{small}×{small} uint16, unbounded t ({t_d} frames), 6-key frame metadata",
             "uint16", [_dim("t", None, "time"), *_frame(small)], t_d, metadata=True),
        Case("E", f"t,c,z = {t_e},2,10 × {small}×{small} uint16, chunk z = 5", "uint16",
             [_dim("t", t_e, "time"), _dim("c", 2, "channel"), _dim("z", 10, "space", 5),
              *_frame(small)], t_e * 20),
        Case("F", f"{small}×{small} uint16, {t_f} frames, sharded: chunk (1,{small // 2},"
             f"{small // 2}), shard ({shard_t},{small},{small})", "uint16",
             [_dim("t", t_f, "time", 1, shard_t), *_frame(small, small // 2, 2)], t_f),
        Case("G", f"{mid}×{mid} uint8, {t_g} frames, uncompressed", "uint8",
             [_dim("t", t_g, "time"), *_frame(mid)], t_g),
        Case("H", f"4 positions × {t_h} frames of {small}×{small} uint16 (t outer, p inner)",
             "uint16", [_dim("t", t_h, "time"), _dim("p", 4, "position"), *_frame(small)],
             t_h * 4),
        Case("MEM", f"{big}×{big} uint16 × {t_mem} frames ({mem_gib:.3g} GiB), our engine only, "
             "default and 256 MiB budget", "uint16", [_dim("t", t_mem, "time"), *_frame(big)],
             t_mem, only={"ours", "raw", "raw-direct", "raw-direct-fresh"},
             budgets=[None, 256 * MIB], pool_bytes=GIB),
    ]  # fmt: skip
    return {c.name: c for c in cases}


def is_reference(engine: str) -> bool:
    """Rows that are no peer: the baselines, our older build, our shim over a library."""
    reference = (*RAW_ENGINES, *FLOOR_ENGINES, *BASELINES, *CODEC_ENGINES)
    return engine in reference or engine.startswith("via-")


def is_ours(engine: str) -> bool:
    """Our engine, appending with copies ("ours") or without ("ours-nocopy")."""
    return engine in ("ours", "ours-nocopy")


@dataclass(frozen=True)
class Row:
    """One line of a case's table: an engine, a format, a compression, a memory budget."""

    engine: str
    fmt: str
    compression: str | None
    budget: int | None = None
    note: str = ""

    @property
    def label(self) -> str:
        """Human name, e.g. 'ours zarr · blosc-zstd'."""
        text = LABELS[(self.engine, self.fmt)]
        if self.compression:
            text += f" · {self.compression}"
        if self.note:
            text += f" · {self.note}"
        return text

    @property
    def slug(self) -> str:
        """File-name-safe name."""
        parts = [self.engine, self.fmt, self.compression or "none"]
        if self.budget is not None:
            parts.append(f"{self.budget // MIB}M")
        return "-".join(parts)

    @property
    def is_ours(self) -> bool:
        """Our engine's row (copying or zero-copy appends)."""
        return is_ours(self.engine)

    @property
    def is_peer(self) -> bool:
        """A peer's row (not ours, not the raw baseline)."""
        return not is_ours(self.engine) and not is_reference(self.engine)


def plan_rows(case: Case, groups: list[str]) -> tuple[list[Row], list[str]]:
    """Rows to run for a case, and the combinations skipped (with the reason)."""
    rows: list[Row] = []
    skipped: list[str] = []
    wanted = [pair for g in groups for pair in ENGINE_GROUPS[g]]
    for raw in (*RAW_ENGINES, *FLOOR_ENGINES):
        if (raw, "raw") not in wanted:
            wanted.append((raw, "raw"))  # the baselines every ratio needs
    for engine, fmt in wanted:
        if case.only is not None and engine not in case.only:
            continue
        if engine in (*TS_OURPARAMS, *CODEC_ENGINES) and (engine, fmt) not in case.compressions:
            continue  # only where codec parameters differ (compressed cases)
        if engine in FLOOR_ENGINES and (case.compressions or not ok_floor(case, engine)):
            continue  # floors of uncompressed streams only, each where its layout applies
        # The baseline build streams what our engine streams.
        lookup = {BASELINE: "ours", BASELINE_NOCOPY: "ours-nocopy"}.get(engine, engine)
        comps = case.compressions.get((lookup, fmt), [None])
        for comp in comps:
            if comp not in SUPPORTED[(engine, fmt)]:
                why = SKIP_WHY.get((engine, comp or ""), "not supported")
                skipped.append(f"{LABELS[(engine, fmt)]} · {comp}: {why}")
                continue
            budgets = case.budgets if engine == "ours" else [None]
            for budget in budgets:
                note = ""
                if len(budgets) > 1:
                    note = (
                        f"budget {budget // MIB} MiB"
                        if budget
                        else f"budget {DEFAULT_BUDGET // MIB} MiB (default)"
                    )
                rows.append(Row(engine, fmt, comp, budget, note))
    if case.only is not None:
        skipped.append("peers: not run (this case measures our engine's memory bound)")
    if case.name == "C":
        skipped.append(
            "raw write(): writes the uncompressed bytes (the disk's limit for the data); "
            "acquire-zarr and TIFF peers implement only the codecs listed"
        )
    return rows, skipped


def repeat_order(case: Case, rows: list[Row], rep: int) -> list[Row]:
    """The order of one repeat: interleaved, rotated per repeat. In a compressed case the
    rows of one format and codec run back to back (the codec alone beside ours), because
    this VM's per-core speed drifts 20-30% over minutes and their ratio is taken per repeat."""

    def rotated(items: list, by: int) -> list:
        k = by % max(len(items), 1)
        return items[k:] + items[:k]

    if not case.compressions:
        return rotated(rows, rep)
    groups: dict[tuple[str, str | None], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.fmt, row.compression), []).append(row)
    return [row for group in rotated(list(groups.values()), rep) for row in rotated(group, rep)]


def ok_floor(case: Case, engine: str) -> bool:
    """Whether floor `engine` applies to `case`: a file per frame only where our Zarr
    writes one (no chunking along the index dimensions, no shards)."""
    if engine == "raw-direct-files":
        return all(d.get("chunk") in (None, 1) and not d.get("shard") for d in case.dims)
    return True


def our_zarr_codec(compression: str | None, dtype: str) -> dict[str, Any]:
    """The bytes-to-bytes codec (with its parameters) our engine writes for these settings."""
    import tempfile

    from ome_writers import AcquisitionSettings, Dimension, create_stream

    with tempfile.TemporaryDirectory() as tmp:
        settings = AcquisitionSettings(
            root_path=str(Path(tmp) / "probe.ome.zarr"),
            dtype=dtype,
            compression=compression,
            dimensions=[Dimension(name="y", count=8), Dimension(name="x", count=8)],
        )
        create_stream(settings).close()
        meta = json.loads((Path(settings.output_path) / "0" / "zarr.json").read_text())
    codec: dict[str, Any] = meta["codecs"][1]
    return codec


# --------------------------------------------------------------------------- environments


def _env_python(name: str) -> Path:
    return ENVS_DIR / name / "bin" / "python"


def ensure_env(name: str, requirements: list[str]) -> Path:
    """Create build/bench-envs/<name> with pip (once); return its interpreter."""
    env = ENVS_DIR / name
    marker = env / ".bench-requirements"
    want = "\n".join(requirements) + "\n"
    python = _env_python(name)
    if python.exists() and marker.exists() and marker.read_text() == want:
        return python
    print(f"[setup] creating {env} with {' '.join(requirements)}", flush=True)
    if env.exists():
        shutil.rmtree(env)
    env.parent.mkdir(parents=True, exist_ok=True)
    base = shutil.which("python3") or sys.executable
    subprocess.run([base, "-m", "venv", str(env)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         *requirements],
        check=True,
    )  # fmt: skip
    marker.write_text(want)
    return python


def ensure_matplotlib() -> bool:
    """Install matplotlib into this environment if it is missing; False if impossible."""
    if importlib.util.find_spec("matplotlib") is not None:
        return True
    print("[setup] installing matplotlib into this environment", flush=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "matplotlib"],
        check=False,
    )  # fmt: skip
    importlib.invalidate_caches()
    return proc.returncode == 0 and importlib.util.find_spec("matplotlib") is not None


def ensure_baseline_env(rev: str) -> Path:
    """build/bench-envs/baseline-<sha>: our package built from git revision `rev` (once)."""
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    name = f"baseline-{sha[:12]}"
    python = _env_python(name)
    if python.exists() and (ENVS_DIR / name / ".bench-requirements").exists():
        return python
    src = ROOT / "build" / "baseline-src" / sha[:12]
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    print(f"[setup] building our package at {rev} ({sha[:12]}) into {ENVS_DIR / name}", flush=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", sha], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    return ensure_env(name, ["numpy", str(src)])


def interpreters(rows: list[Row], setup: bool, baseline: str | None = None) -> dict[str, str]:
    """Interpreter per worker engine (creating the peer environments when `setup`)."""
    out: dict[str, str] = {}
    for row in rows:
        if row.engine in BASELINES:
            if baseline is None:
                raise SystemExit("the baseline engine needs --baseline REV")
            out[row.engine] = str(ensure_baseline_env(baseline))
            continue
        env = ENV_OF[row.engine]
        if env is None:
            out[row.engine] = sys.executable
            continue
        python = ensure_env(env, PEER_ENVS[env]) if setup else _env_python(env)
        if not python.exists():
            raise SystemExit(f"{python} missing: run without --no-setup once")
        out[row.engine] = str(python)
    return out


# --------------------------------------------------------------------------- running


def sync_caches() -> None:
    """Start every run from the same page-cache state.

    Flushes dirty pages (the previous run's writes and deletes) and, where allowed
    (root), drops the clean page cache too, so that no run pays for reclaiming the
    previous run's cache.
    """
    if hasattr(os, "sync"):
        os.sync()
    with contextlib.suppress(OSError):
        Path("/proc/sys/vm/drop_caches").write_text("3")


def worker_env() -> dict[str, str]:
    """The environment of a worker process."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    # No engine uses BLAS; its idle worker threads only add noise on 2 cores.
    env["OPENBLAS_NUM_THREADS"] = "1"
    return env


def run_one(
    case: Case,
    row: Row,
    rep: int,
    python: str,
    data_dir: Path,
    timeout: float,
    trash: Trash | None,
) -> dict[str, Any]:
    """Run one (case, row) in a fresh worker process, then verify it."""
    name = f"{case.name}-{row.slug}-r{rep}"
    out_dir = data_dir / name
    jobs = data_dir / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    if out_dir.exists():  # left by an earlier run of the suite
        if trash is not None:
            trash.add(out_dir)
        else:
            shutil.rmtree(out_dir)
    job = {
        "case": case.spec(),
        "engine": row.engine,
        "format": row.fmt,
        "compression": row.compression,
        "out_dir": str(out_dir),
        "max_memory_bytes": row.budget,
        "pool_bytes": case.pool_bytes,
        "npool": 8,
        "room_bytes": DEFAULT_BUDGET // 2,
    }
    if row.engine in TS_OURPARAMS or (row.engine in CODEC_ENGINES and row.fmt == "zarr"):
        job["zarr_codec"] = our_zarr_codec(row.compression, case.dtype)
    job_path = jobs / f"{name}.job.json"
    result_path = jobs / f"{name}.result.json"
    job_path.write_text(json.dumps(job))
    result_path.unlink(missing_ok=True)
    sync_caches()
    record: dict[str, Any] = {"case": case.name, "row": row.label, "rep": rep}
    env = worker_env()
    t = time.perf_counter()
    proc = subprocess.Popen(
        [python, str(HERE / "worker.py"), str(job_path), str(result_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        record.update(status="TIMEOUT", message=f"no result after {timeout:g} s")
        _cleanup(out_dir, trash)
        return record
    record["wall_s"] = time.perf_counter() - t
    if not result_path.exists():
        tail = output.strip().splitlines()[-3:]
        record.update(status="ERROR", message=f"exit {proc.returncode}: {' | '.join(tail)}")
        _cleanup(out_dir, trash)
        return record
    result = json.loads(result_path.read_text())
    result.pop("job", None)
    record["result"] = result
    if result.get("error"):
        record.update(status="ERROR", message=result["error"])
        _cleanup(out_dir, trash)
        return record
    check = subprocess.run(
        [sys.executable, str(HERE / "verify.py"), str(result_path)],
        capture_output=True,
        text=True,
        env=env,
    )
    try:
        verdict = json.loads(check.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        verdict = {"ok": False, "message": f"verifier crashed: {check.stderr.strip()[-300:]}"}
    record["verify"] = verdict
    if verdict.get("ok"):
        record["status"] = "OK"
    else:
        record.update(status="FAILED", message=verdict.get("message", ""))
    _cleanup(out_dir, trash)
    return record


def _cleanup(out_dir: Path, trash: Trash | None) -> None:
    if trash is not None:
        trash.add(out_dir)


class Trash:
    """Outputs of finished runs, deleted in batches rather than after each run.

    On the file system these runs were tuned on (ext4 without a journal), an inode freed less
    than 60 s ago is skipped when new files are created while its inode-table block is still
    cached, so creating files right after deleting thousands of them scans past every freed
    slot (system time of case B's Zarr stream: 0.99, 1.31, 1.64 s/GB in three back-to-back
    runs, each deleting the previous output). The cache drop in `sync_caches()` before every run
    clears that state where it is allowed (root); for the other cases each output is moved
    aside (one rename) when its run ends, and the pile is deleted once it holds `limit` bytes,
    followed by `settle_s` seconds of rest before the next timed run.
    """

    def __init__(self, root: Path, limit: int, settle_s: float) -> None:
        self.root = root
        self.limit = limit
        self.settle_s = settle_s
        self.bytes = 0
        self.count = 0
        self.empty(settle=root.exists() and any(root.iterdir()))

    def add(self, out_dir: Path) -> None:
        """Set a finished run's output aside; empty the pile when it is full."""
        if not out_dir.exists():
            return
        self.count += 1
        dest = self.root / f"{self.count}-{out_dir.name}"
        out_dir.rename(dest)
        for dirpath, _dirnames, filenames in os.walk(dest):
            for name in filenames:
                with contextlib.suppress(OSError):
                    self.bytes += os.stat(os.path.join(dirpath, name)).st_size
        if self.bytes >= self.limit:
            self.empty()

    def empty(self, settle: bool = True) -> None:
        """Delete the pile, flush, and (by default) let the file system settle."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.bytes = 0
        sync_caches()
        if settle:
            time.sleep(self.settle_s)


# --------------------------------------------------------------------------- summarising


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarise(rows: list[Row], records: list[dict[str, Any]]) -> list[dict]:
    """Medians per row over the verified runs, plus the ratios to raw and to the best peer."""
    out = []
    for row in rows:
        runs = [r for r in records if r["row"] == row.label]
        ok = [r["result"] for r in runs if r["status"] == "OK"]
        bad = [r for r in runs if r["status"] != "OK"]
        s: dict[str, Any] = {
            "row": row.label,
            "engine": row.engine,
            "format": row.fmt,
            "compression": row.compression,
            "budget": row.budget,
            "runs": len(runs),
            "ok_runs": len(ok),
            "status": "OK" if not bad else sorted({r["status"] for r in bad})[0],
            "messages": sorted({r.get("message", "") for r in bad}),
        }

        def med(key: str, sub: str | None = None, ok=ok) -> float | None:
            vals = [(r[key][sub] if sub else r[key]) for r in ok]
            return _median([float(v) for v in vals])

        if ok:
            s.update(
                mbps_close=med("mbps_close"),
                mbps_durable=med("mbps_durable"),
                cpu_s_per_gb=med("cpu_s_per_gb"),
                cpu_s_per_gb_with_create=_median(
                    [(r["cpu_s"] + r["create_cpu_s"]) / (r["total_bytes"] / 1e9) for r in ok]
                )
                if all("create_cpu_s" in r for r in ok)
                else None,
                append_p50_us=med("append_ns", "p50") / 1e3,
                append_p99_us=med("append_ns", "p99") / 1e3,
                append_max_us=med("append_ns", "max") / 1e3,
                append_room_p99_us=med("append_ns_room", "p99") / 1e3,
                first100_p99_us=(med("append_ns_first100", "p99") or 0) / 1e3
                if all("append_ns_first100" in r for r in ok)
                else None,
                # Any fault in any repeat counts: the largest, not the median.
                first100_faults_max=max(int(r["first100_faults"]) for r in ok)
                if all("first100_faults" in r for r in ok)
                else None,
                create_ms=1e3 * med("create_s"),
                create_p99_ms=1e3 * _p99([float(r["create_s"]) for r in ok]),
                memcpy_us=med("memcpy_ns") / 1e3,
                memcpy_cold_us=(med("memcpy_cold_ns") or 0) / 1e3
                if all("memcpy_cold_ns" in r for r in ok)
                else None,
                memcpy_frames_p99_us=(med("memcpy_frames_ns", "p99") or 0) / 1e3
                if all("memcpy_frames_ns" in r for r in ok)
                else None,
                room_frames=med("room_frames") if all("room_frames" in r for r in ok) else None,
                rss_growth_mib=med("rss_growth_mib"),
                rss_growth_max_mib=max(r["rss_growth_mib"] for r in ok),
                disk_ratio=med("disk_bytes") / ok[0]["total_bytes"],
                files=med("files"),
                total_bytes=ok[0]["total_bytes"],
                library_version=ok[0].get("library_version", ""),
                append_waits=_median(
                    [
                        float(r["stats"]["append_waits"])
                        for r in ok
                        if "append_waits" in r.get("stats", {})
                    ]
                ),
            )
        out.append(s)
    raw = next((s for s in out if s["engine"] == "raw" and s.get("mbps_durable")), None)
    direct = next((s for s in out if s["engine"] == "raw-direct" and s.get("mbps_durable")), None)
    fresh, files = (
        next((s for s in out if s["engine"] == e and s.get("mbps_durable")), None)
        for e in FLOOR_ENGINES
    )

    def ceiling(engine: str, stat: dict[str, Any]) -> dict[str, Any] | None:
        """The codec baseline `engine`'s row for stat's format and compression."""
        return next(
            (
                c
                for c in out
                if c["engine"] == engine
                and (c["format"], c["compression"]) == (stat["format"], stat["compression"])
                and c.get("mbps_durable")
            ),
            None,
        )

    for s in out:
        if not s.get("mbps_durable"):
            continue
        peers = [
            p
            for p in out
            if not is_ours(p["engine"])
            and not is_reference(p["engine"])
            and p["format"] == s["format"]
            and p.get("mbps_durable")
        ]
        s["ratio_raw"] = s["mbps_durable"] / raw["mbps_durable"] if raw else None
        codec = ceiling("codec", s)
        s["ratio_codec"] = (
            s["mbps_durable"] / codec["mbps_durable"]
            if codec and s["engine"] not in CODEC_ENGINES and s["compression"]
            else None
        )
        s["ratio_codec_paired"] = (
            paired_ratio(records, s["row"], codec["row"]) if s["ratio_codec"] is not None else None
        )
        copied = ceiling("codec-copied", s)
        s["ratio_codec_copied"] = (
            s["mbps_durable"] / copied["mbps_durable"]
            if copied and s["engine"] == "ours" and s["compression"]
            else None
        )
        s["ratio_codec_copied_paired"] = (
            paired_ratio(records, s["row"], copied["row"])
            if copied and s["ratio_codec_copied"] is not None
            else None
        )
        fresh_codec = ceiling("codec-fresh", s)
        s["ratio_codec_fresh"] = (
            s["mbps_durable"] / fresh_codec["mbps_durable"]
            if fresh_codec and s["engine"] == "ours" and s["compression"]
            else None
        )
        s["ratio_direct"] = s["mbps_durable"] / direct["mbps_durable"] if direct else None
        # The floors that apply to this row: a copy into fresh memory for a copying append,
        # a file per frame for a Zarr store that writes one.
        if is_ours(s["engine"]) and not s["compression"]:
            if s["engine"] == "ours" and fresh:
                s["ratio_fresh"] = s["mbps_durable"] / fresh["mbps_durable"]
            if s["format"] == "zarr" and files:
                s["ratio_files"] = s["mbps_durable"] / files["mbps_durable"]
        # Compare like with like: peers using the same compression, when there are any.
        same = [p for p in peers if p["compression"] == s["compression"]]
        peers = same or peers
        if peers and not is_reference(s["engine"]):
            best = max(peers, key=lambda p: p["mbps_durable"])
            cheapest = min(peers, key=lambda p: p["cpu_s_per_gb"])
            s["ratio_best_peer"] = s["mbps_durable"] / best["mbps_durable"]
            s["best_peer"] = best["row"]
            s["cpu_ratio_best_peer"] = s["cpu_s_per_gb"] / max(cheapest["cpu_s_per_gb"], 1e-9)
            s["cpu_best_peer"] = cheapest["row"]
        s["p99_over_memcpy"] = s["append_room_p99_us"] / max(s["memcpy_us"], 1e-3)
        cold = s.get("memcpy_cold_us")
        s["p99_over_cold"] = s["append_room_p99_us"] / max(cold, 1e-3) if cold else None
        same = s.get("memcpy_frames_p99_us")
        s["p99_over_frames"] = s["append_room_p99_us"] / max(same, 1e-3) if same else None
    return out


def durable_by_repeat(records: list[dict[str, Any]]) -> dict[tuple[str, int], float]:
    """Durable MB/s of each verified run, by (row, repeat)."""
    return {
        (r["row"], r["rep"]): r["result"]["mbps_durable"] for r in records if r["status"] == "OK"
    }


def paired_ratio(records: list[dict[str, Any]], row: str, anchor: str) -> float | None:
    """Median over the repeats of row's durable MB/s ÷ anchor's in the same repeat."""
    ok = durable_by_repeat(records)
    ratios = [v / ok[(anchor, rep)] for (label, rep), v in ok.items() if label == row
              and (anchor, rep) in ok]  # fmt: skip
    return _median(ratios)


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def _fmt(value: float | None, spec: str = ".0f", suffix: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:{spec}}{suffix}"


def case_table(summary: list[dict[str, Any]]) -> list[str]:
    """Markdown table lines for one case."""
    lines = [
        "| engine | runs | MB/s to close | MB/s durable | ÷ raw | ÷ O_DIRECT | ÷ codec "
        "| ÷ best peer "
        "| CPU s/GB | CPU ÷ best peer | append µs p50 / p99 / max "
        "| p99 ÷ memcpy hot / cold / frames | first-100 p99 µs | create ms p50 / p99 "
        "| RSS growth MiB | on disk ÷ data |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for s in summary:
        status = f"{s['ok_runs']}/{s['runs']}"
        if s["status"] != "OK":
            status += f" **{s['status']}**"
        if not s.get("mbps_durable"):
            lines.append(f"| {s['row']} | {status} |" + " — |" * 14)
            continue
        lat = (
            f"{_fmt(s['append_p50_us'], '.0f')} / {_fmt(s['append_p99_us'], '.0f')} / "
            f"{_fmt(s['append_max_us'], '.0f')}"
        )
        lines.append(
            f"| {s['row']} | {status} | {_fmt(s['mbps_close'])} | {_fmt(s['mbps_durable'])} "
            f"| {_fmt(s.get('ratio_raw'), '.2f', '×')} "
            f"| {_fmt(s.get('ratio_direct'), '.2f', '×')} "
            f"| {_fmt(s.get('ratio_codec'), '.2f', '×')} "
            f"| {_fmt(s.get('ratio_best_peer'), '.2f', '×')} "
            f"| {_fmt(s['cpu_s_per_gb'], '.2f')} "
            f"| {_fmt(s.get('cpu_ratio_best_peer'), '.2f', '×')} | {lat} "
            f"| {_fmt(s['p99_over_memcpy'], '.1f', '×')} "
            f"/ {_fmt(s.get('p99_over_cold'), '.1f', '×')} "
            f"/ {_fmt(s.get('p99_over_frames'), '.1f', '×')} "
            f"| {_fmt(s.get('first100_p99_us'), '.0f')} "
            f"| {_fmt(s.get('create_ms'), '.0f')} / {_fmt(s.get('create_p99_ms'), '.0f')} "
            f"| {_fmt(s['rss_growth_mib'], '.0f')} "
            f"| {_fmt(s['disk_ratio'], '.2f')} |"
        )
    return lines


def targets(cases: dict[str, Case], summaries: dict[str, list[dict]]) -> list[dict[str, Any]]:
    """The 'done when' checks of issues 6 and 20, evaluated on this run's medians."""
    checks: list[dict[str, Any]] = []

    def rows_of(case: str, pred) -> list[dict]:
        return [s for s in summaries.get(case, []) if s.get("mbps_durable") and pred(s)]

    def add(what: str, value: float | None, limit: float | None, ok: bool | None, detail: str = ""):
        checks.append({"check": what, "value": value, "limit": limit, "pass": ok, "detail": detail})

    for c in ("A", "B"):
        for fmt in ("zarr", "tiff"):
            for s in rows_of(c, lambda s, fmt=fmt: is_ours(s["engine"]) and s["format"] == fmt):
                v = s.get("ratio_raw")
                add(f"{c}: {s['row']} durable ÷ raw ≥ 0.9", v, 0.9, v is not None and v >= 0.9)
    ts_rows = ("tensorstore", "tensorstore-await", "ome-writers-0.3.2")
    for c, comps in (("B", [None]), ("C", ["blosc-zstd", "zstd"])):
        need = 3.0 if c == "B" else 2.0
        for comp in comps:
            ours = rows_of(c, lambda s, comp=comp: is_ours(s["engine"]) and s["format"] == "zarr"
                           and s["compression"] == comp)  # fmt: skip
            peers = rows_of(
                c,
                lambda s, comp=comp: (
                    s["engine"] in ts_rows and s["format"] == "zarr" and s["compression"] == comp
                ),
            )
            for o in ours:
                if peers:
                    best = max(peers, key=lambda p: p["mbps_durable"])
                    v = o["mbps_durable"] / best["mbps_durable"]
                    add(f"{c}: {o['row']} ≥ {need:g}× best tensorstore row", v, need,
                        v >= need, f"vs {best['row']}")  # fmt: skip
                # Like for like: a copying append against tensorstore given a copy, a
                # borrowing one (copy=False) against tensorstore reading the caller's array.
                peer = "tensorstore-ourparams" if o["engine"] == "ours-nocopy" else (
                    "tensorstore-ourparams-copied"
                )  # fmt: skip
                same = rows_of(c, lambda s, comp=comp, peer=peer: s["engine"] == peer
                               and s["compression"] == comp)  # fmt: skip
                if same:
                    v = o["mbps_durable"] / same[0]["mbps_durable"]
                    what = f"{c}: {o['row']} ≥ 1× tensorstore with the same codec parameters"
                    add(what, v, 1.0, v >= 1.0, f"vs {same[0]['row']}")
    lzw = rows_of("C", lambda s: s["format"] == "tiff" and s["compression"] == "lzw"
                  and not is_ours(s["engine"]))  # fmt: skip
    for s in rows_of("C", lambda s: is_ours(s["engine"]) and s["format"] == "tiff"):
        if lzw:
            best = max(lzw, key=lambda p: p["mbps_durable"])
            v = s["mbps_durable"] / best["mbps_durable"]
            add(f"C: {s['row']} ≥ 2× best peer LZW", v, 2.0, v >= 2.0, f"vs {best['row']}")
    # Issue 20: the disk's limit (O_DIRECT) for uncompressed rows, the codec's for compressed.
    for c in cases:
        for s in rows_of(c, lambda s: is_ours(s["engine"])):
            if s["compression"] is None and s.get("ratio_direct") is not None:
                v = s["ratio_direct"]
                add(f"{c}: {s['row']} durable ÷ O_DIRECT ≥ 0.95", v, 0.95, v >= 0.95)
                for key, floor in (
                    ("ratio_fresh", "O_DIRECT via fresh memory (a copying writer's floor)"),
                    ("ratio_files", "O_DIRECT with a file per frame (this layout's floor)"),
                ):
                    if s.get(key) is not None:
                        add(f"{c}: {s['row']} durable ÷ {floor} (for context, no target)",
                            s[key], None, None)  # fmt: skip
            elif s["compression"] is not None and s.get("ratio_codec") is not None:
                v = s["ratio_codec"]
                paired = s.get("ratio_codec_paired")
                if paired is None:  # a report from before the pairing
                    add(f"{c}: {s['row']} ÷ codec alone ≥ 0.9", v, 0.9, v >= 0.9)
                else:
                    # Judged per repeat, the two rows run back to back (repeat_order).
                    add(f"{c}: {s['row']} ÷ codec alone ≥ 0.9 (median of per-repeat ratios)",
                        paired, 0.9, paired >= 0.9)  # fmt: skip
                    add(f"{c}: {s['row']} ÷ codec alone, ratio of the medians (for context, "
                        "no target)", v, None, None)  # fmt: skip
                if s.get("ratio_codec_copied") is not None:  # a copying append's own ceiling
                    v = s["ratio_codec_copied"]
                    what = f"{c}: {s['row']} ÷ codec alone with frames copied ≥ 0.9"
                    paired = s.get("ratio_codec_copied_paired")
                    if paired is None:  # a report from before the pairing
                        add(what, v, 0.9, v >= 0.9)
                    else:
                        # Judged per repeat, as the codec alone above: the rows of one
                        # repeat run back to back, repeats are minutes apart.
                        add(f"{what} (median of per-repeat ratios)", paired, 0.9, paired >= 0.9)
                        add(f"{c}: {s['row']} ÷ codec alone with frames copied, ratio of the "
                            "medians (for context, no target)", v, None, None)  # fmt: skip
                if s.get("ratio_codec_fresh") is not None:
                    what = (f"{c}: {s['row']} ÷ codec alone with frames copied into fresh "
                            "memory, as a full queue's (for context, no target)")  # fmt: skip
                    add(what, s["ratio_codec_fresh"], None, None)
            if s.get("create_ms") is not None:
                v = s["create_ms"]
                add(f"{c}: {s['row']} create_stream median ≤ 100 ms", v, 100.0, v <= 100.0)
    for c in cases:
        if c in ("C", "MEM"):
            continue
        for s in rows_of(c, lambda s: is_ours(s["engine"])):
            v = s["cpu_s_per_gb"]
            add(f"{c}: {s['row']} CPU ≤ 0.5 s/GB", v, 0.5, v <= 0.5)
            if s.get("cpu_s_per_gb_with_create") is not None:
                # Memory mapped in create_stream is outside the row above: an engine
                # mapping its whole queue there would look cheaper than one mapping it
                # as the frames arrive, for the same work.
                what = f"{c}: {s['row']} CPU s/GB counting create_stream's own (for context)"
                add(what, s["cpu_s_per_gb_with_create"], None, None)
        for s in rows_of(c, lambda s: s["engine"] in FLOOR_ENGINES):
            add(f"{c}: {s['row']} CPU s/GB (a floor, for context, no target)",
                s["cpu_s_per_gb"], None, None)  # fmt: skip
    for c in cases:
        if c == "MEM":
            continue
        for s in rows_of(c, lambda s: is_ours(s["engine"])):
            v = s["p99_over_memcpy"]
            add(f"{c}: {s['row']} append p99 (queue has room) ≤ 2× memcpy", v, 2.0, v <= 2.0)
            if s["engine"] == "ours" and s.get("p99_over_frames"):
                add(f"{c}: {s['row']} append p99 ÷ p99 of bare copies of the same frames "
                    "(for context, no target)", s["p99_over_frames"], None, None)  # fmt: skip
    # Issue 20: no page fault in a stream's first appends. Judged where all of the first
    # 100 found room in the queue; where it fills sooner, they include waits for room.
    for c in cases:
        for s in rows_of(c, lambda s: is_ours(s["engine"])):
            first, room = s.get("first100_p99_us"), s.get("append_room_p99_us")
            if first is None or not room:
                continue
            v = first / room
            what = f"{c}: {s['row']} p99 of the first 100 appends ≤ 2× p99 while the queue has room"
            if (s.get("room_frames") or 0) >= 100:
                add(what, v, 2.0, v <= 2.0)
            else:
                add(f"{what} (for context, no target: the queue fills within them)", v, None, None)
            faults = s.get("first100_faults_max")
            if faults is not None:  # the fault itself, which the p99 above stands in for
                what = (f"{c}: {s['row']} page faults on the appending thread in the first "
                        "100 appends, most of any repeat (for context, no target)")  # fmt: skip
                add(what, faults, None, None)
    for c in cases:
        for s in rows_of(c, lambda s: is_ours(s["engine"])):
            budget = s["budget"] or DEFAULT_BUDGET
            limit = (budget + RSS_SLACK) / MIB
            v = s["rss_growth_max_mib"]
            add(f"{c}: {s['row']} peak RSS growth ≤ budget + 64 MiB", v, limit, v <= limit)
    return checks


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    """What this ran on: cores, CPU model, RAM, kernel."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": model,
        "ram_gib": round(ram / GIB, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def filesystem_of(path: Path) -> dict[str, str]:
    """Mount point, type and device of the filesystem holding `path` (from /proc/mounts)."""
    best = {"mount": "", "type": "?", "device": "?"}
    real = str(path.resolve())
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mnt, fstype = line.split()[:3]
            inside = real == mnt or real.startswith(mnt.rstrip("/") + "/")
            if inside and len(mnt) >= len(best["mount"]):
                best = {"mount": mnt, "type": fstype, "device": dev}
    except OSError:
        pass
    return best


# --------------------------------------------------------------------------- outputs


def write_markdown(path: Path, report: dict[str, Any], cases: dict[str, Case]) -> None:
    """latest.md: machine, one table per case, the skipped pairs and the issue's targets."""
    m = report["machine"]
    fs = report["filesystem"]
    lines = [
        "# Benchmark results",
        "",
        f"Run {report['date']} with `{report['command']}` "
        f"({report['repeats']} repeat(s) per pair, medians of the verified runs).",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['ram_gib']} GiB RAM, Linux "
        f"{m['kernel']}, Python {m['python']}; output on {fs['type']} ({fs['device']} mounted "
        f"at {fs['mount']}). Shared and noisy: compare ratios within this run, not absolute "
        "numbers across runs.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(report["versions"].items())),
        "",
        "MB = 10⁶ bytes of frame data (uncompressed). *durable* adds a syncfs() of the output's "
        "file system after close (all written data on stable storage). *÷ raw*: durable MB/s "
        "÷ the raw `write()` baseline's; *÷ O_DIRECT*: ÷ the same bytes written in aligned "
        "8 MiB `O_DIRECT` blocks to one file (the disk's own limit, no page cache); "
        "*÷ best peer*: ÷ the fastest peer writing the same format in this case (CPU: ÷ the "
        "cheapest). *p99 ÷ memcpy hot / cold*: p99 of the appends made while a 512 MiB "
        "budget still has room (first 256 MiB of frames) ÷ one `np.copyto` of a frame between "
        "hot buffers / into a buffer not in the cache (the next of 256 MiB of pre-faulted "
        "buffers). *first-100 p99*: p99 of the first 100 appends (slots not yet mapped would "
        "show here). *create ms*: `create_stream` (or the peer's open; its library already "
        "imported), median / p99 over the runs. RSS growth: peak RSS during streaming minus "
        "RSS before the stream is created.",
        "",
    ]
    for name, case in cases.items():
        summary = report["summaries"].get(name)
        if summary is None:
            continue
        lines += [f"## {name}: {case.title}", ""]
        lines += case_table(summary)
        notes = report["skipped"].get(name, [])
        failed = [s for s in summary if s["status"] != "OK"]
        if failed or notes:
            lines.append("")
        for s in failed:
            lines.append(f"- **{s['row']}**: {s['status']} — {'; '.join(s['messages'])}")
        for note in notes:
            lines.append(f"- skipped/note: {note}")
        lines.append("")
    if report["targets"]:
        lines += [
            "## Targets of issue 6 (this run)",
            "",
            "| check | value | limit | pass |",
            "|---|--:|--:|---|",
        ]
        for t in report["targets"]:
            verdict = "—" if t["pass"] is None else "yes" if t["pass"] else "**no**"
            detail = f" ({t['detail']})" if t["detail"] else ""
            value, limit = _fmt(t["value"], ".2f"), _fmt(t["limit"], "g")
            lines.append(f"| {t['check']}{detail} | {value} | {limit} | {verdict} |")
        lines.append("")
    if report.get("chart"):
        lines += [f"![durable MB/s per case and engine]({report['chart']})", ""]
    path.write_text("\n".join(lines))


ENGINE_COLORS = {
    "ours zarr": "#d62728",
    "ours tiff": "#ff9896",
    "tensorstore": "#1f77b4",
    "tensorstore (await each)": "#aec7e8",
    "acquire-zarr": "#2ca02c",
    "tifffile": "#9467bd",
    "0.3.2 tensorstore": "#8c564b",
    "0.3.2 tifffile": "#c49c94",
}
HATCHES = {None: "", "blosc-zstd": "//", "zstd": "..", "deflate": "xx", "lzw": "\\\\"}


def write_chart(path: Path, report: dict[str, Any]) -> bool:
    """latest.png: durable MB/s per case (groups) and engine (bars), raw baseline as a line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        return False
    summaries = report["summaries"]
    fig, ax = plt.subplots(figsize=(max(8, 1.9 * len(summaries) + 3), 5.5), dpi=110)
    x0 = 0.0
    ticks, names = [], []
    seen: dict[str, Any] = {}
    for name, summary in summaries.items():
        # Zero-copy rows write as fast as copying ones: their story is append latency.
        bars = [s for s in summary if s["engine"] not in ("raw", "ours-nocopy")]
        raw = next((s for s in summary if s["engine"] == "raw"), None)
        width = 0.8 / max(len(bars), 1)
        for k, s in enumerate(bars):
            base = LABELS[(s["engine"], s["format"])]
            color = ENGINE_COLORS.get(base, "#7f7f7f")
            xpos = x0 + (k + 0.5) * width
            value = s.get("mbps_durable")
            if value:
                hatch = HATCHES.get(s["compression"], "") + ("--" if s["budget"] else "")
                ax.bar(xpos, value, width * 0.95, color=color, edgecolor="black",
                       linewidth=0.4, hatch=hatch)  # fmt: skip
            else:
                ax.plot(xpos, 1, marker="x", color="black")
            seen.setdefault(base, color)
        if raw and raw.get("mbps_durable"):
            ax.hlines(raw["mbps_durable"], x0, x0 + 0.8, colors="black", linewidth=1.5)
        ticks.append(x0 + 0.4)
        names.append(name)
        x0 += 1.0
    ax.set_xticks(ticks, names)
    ax.set_yscale("log")
    ax.set_ylabel("durable MB/s (log scale)")
    ax.set_title("Durable throughput per case (black line: raw write() of the same bytes)")
    handles = [Patch(facecolor=c, edgecolor="black", label=n) for n, c in seen.items()]
    handles += [
        Patch(facecolor="white", edgecolor="black", hatch=h, label=str(c))
        for c, h in HATCHES.items()
        if c
    ]
    if any(s["budget"] for summary in summaries.values() for s in summary):
        handles.append(
            Patch(facecolor="white", edgecolor="black", hatch="--", label="explicit budget")
        )
    handles.append(plt.Line2D([], [], color="black", label="raw write() baseline"))
    ax.legend(handles=handles, fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1, 1))
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer frames per case, 1 repeat")
    p.add_argument(
        "--smoke", action="store_true", help="tiny frames and counts, 1 repeat (plumbing check)"
    )
    p.add_argument("--cases", default="", help="comma-separated subset of A,B,C,D,E,F,G,H,MEM")
    p.add_argument(
        "--engines",
        default="",
        help="comma-separated subset of " + ",".join(ENGINE_GROUPS) + " (raw always runs)",
    )
    p.add_argument("--repeats", type=int, default=None, help="runs per pair (default 3)")
    p.add_argument(
        "--out",
        default=None,
        help="where latest.* go (benchmarks/results; build/bench-data/paired with --rows)",
    )
    p.add_argument(
        "--data-dir",
        default=str(ROOT / "build" / "bench-data"),
        help="where runs write (deleted in batches unless --keep; see Trash)",
    )
    p.add_argument("--timeout", type=float, default=None, help="seconds per run (1200; quick 300)")
    p.add_argument("--keep", action="store_true", help="keep each run's output files")
    p.add_argument(
        "--settle",
        type=float,
        default=20.0,
        help="seconds of rest after deleting a batch of outputs (default 20)",
    )
    p.add_argument("--no-setup", action="store_true", help="do not create peer environments")
    p.add_argument(
        "--baseline",
        default=None,
        metavar="REV",
        help="also run our engine built from git revision REV (rows '@ baseline')",
    )
    p.add_argument(
        "--rows",
        default="",
        help="only these rows (exact labels, ';'-separated, e.g. 'raw O_DIRECT 8 MiB;ours "
        "zarr'), plus the paired ratio of each to the first, repeat by repeat: run one after "
        "the other, they share the machine's state of the moment, which a suite's medians "
        "(minutes apart) do not",
    )
    p.add_argument("--list", action="store_true", help="print the plan and exit")
    p.add_argument(
        "--resummarise",
        default=None,
        metavar="JSON",
        help="recompute the summaries, targets, table and chart of a saved run "
        "(a latest.json) with this version of the analysis, into --out; runs nothing",
    )
    return p.parse_args(argv)


def print_paired(records: list[dict[str, Any]], labels: list[str]) -> None:
    """Each row's durable MB/s over the first row's, repeat by repeat, and the median."""
    for case in sorted({r["case"] for r in records}):
        ok = durable_by_repeat([r for r in records if r["case"] == case])
        anchor = labels[0]
        print(f"\n{case}: paired ratios to '{anchor}' (per repeat; median)")
        for label in labels:
            reps = sorted(rep for (row, rep) in ok if row == label and (anchor, rep) in ok)
            if not reps:
                continue
            ratios = [ok[(label, rep)] / ok[(anchor, rep)] for rep in reps]
            mbps = " ".join(f"{ok[(label, rep)]:.0f}" for rep in reps)
            print(f"   {label:60s} {' '.join(f'{v:.2f}' for v in ratios)}; "
                  f"median {_median(ratios):.2f} (MB/s {mbps})")  # fmt: skip


def resummarise(path: Path, out: Path) -> int:
    """Rebuild a saved run's report from its records (each run's result is kept in it)."""
    report = json.loads(path.read_text())
    all_cases = make_cases(report["mode"])
    cases = {n: all_cases[n] for n in report["summaries"]}
    records = report["runs"]
    summaries = {}
    for n, case in cases.items():
        ran = [r for r in records if r["case"] == n]
        labels = {r["row"] for r in ran}
        rows = [r for r in plan_rows(case, list(ENGINE_GROUPS))[0] if r.label in labels]
        summaries[n] = summarise(rows, ran)
    report["summaries"] = summaries
    report["targets"] = targets(cases, summaries)
    out.mkdir(parents=True, exist_ok=True)
    report["chart"] = "latest.png" if write_chart(out / "latest.png", report) else None
    (out / "latest.json").write_text(json.dumps(report, indent=1))
    write_markdown(out / "latest.md", report, cases)
    print(f"rewrote {out / 'latest.md'}, latest.json from the {len(records)} runs in {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the suite; return 0 when every run was verified."""
    args = parse_args(argv)
    if args.resummarise:
        return resummarise(Path(args.resummarise), Path(args.out or HERE / "results"))
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    all_cases = make_cases(mode)
    names = [c.strip() for c in args.cases.split(",") if c.strip()] or list(all_cases)
    unknown = [c for c in names if c not in all_cases]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; choose from {list(all_cases)}")
    cases = {n: all_cases[n] for n in names}
    groups = [g.strip() for g in args.engines.split(",") if g.strip()] or [
        g for g in ENGINE_GROUPS if g != "baseline"
    ]
    if args.baseline and "baseline" not in groups:
        groups.append("baseline")
    bad = [g for g in groups if g not in ENGINE_GROUPS]
    if bad:
        raise SystemExit(f"unknown engine(s) {bad}; choose from {list(ENGINE_GROUPS)}")
    repeats = args.repeats or (3 if mode == "full" else 1)
    timeout = args.timeout or (1200.0 if mode == "full" else 300.0)
    plans = {n: plan_rows(c, groups) for n, c in cases.items()}
    only = [r.strip() for r in args.rows.split(";") if r.strip()]
    if only:
        known = {r.label for rows, _ in plans.values() for r in rows}
        if bad_rows := [r for r in only if r not in known]:
            raise SystemExit(f"unknown row(s) {bad_rows}; --list shows the labels")
        plans = {
            n: (sorted((r for r in rows if r.label in only), key=lambda r: only.index(r.label)), [])
            for n, (rows, _) in plans.items()
        }
    total = sum(len(rows) for rows, _ in plans.values()) * repeats
    if args.list:
        for n, (rows, skipped) in plans.items():
            print(f"{n}: {cases[n].title}")
            for r in rows:
                print(f"   {r.label}")
            for s in skipped:
                print(f"   (skip) {s}")
        print(f"{total} runs")
        return 0

    all_rows = [r for rows, _ in plans.values() for r in rows]
    pythons = interpreters(all_rows, setup=not args.no_setup, baseline=args.baseline)
    if args.no_setup:
        have_mpl = importlib.util.find_spec("matplotlib") is not None
    else:
        have_mpl = ensure_matplotlib()
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    trash = None
    if not args.keep:
        free = shutil.disk_usage(data_dir).free
        trash = Trash(data_dir / "trash", limit=min(16 * GIB, free // 4), settle_s=args.settle)
    out = Path(args.out or (data_dir / "paired" if only else HERE / "results"))
    out.mkdir(parents=True, exist_ok=True)

    records: list[dict[str, Any]] = []
    done = 0
    started = time.perf_counter()
    for name, case in cases.items():
        rows, _ = plans[name]
        for rep in range(repeats):
            for row in repeat_order(case, rows, rep):
                rec = run_one(case, row, rep, pythons[row.engine], data_dir, timeout, trash)
                records.append(rec)
                done += 1
                res = rec.get("result", {})
                figures = ""
                if rec["status"] == "OK":
                    figures = (
                        f"{res['mbps_close']:.0f} MB/s close, {res['mbps_durable']:.0f} durable, "
                        f"{res['cpu_s_per_gb']:.2f} CPU s/GB "
                        f"({res['cpu_user_s_per_gb']:.2f} user), p99 "
                        f"{res['append_ns']['p99'] / 1e3:.0f} µs, "
                        f"+{res['rss_growth_mib']:.0f} MiB"
                    )
                else:
                    figures = rec.get("message", "")[:160]
                print(
                    f"[{done}/{total}] {name} {row.label} #{rep + 1}: {rec['status']} {figures}",
                    flush=True,
                )

    if trash is not None:
        trash.empty(settle=False)
    summaries = {n: summarise(plans[n][0], [r for r in records if r["case"] == n]) for n in cases}
    versions: dict[str, str] = {}
    for summary in summaries.values():
        for s in summary:
            if s.get("library_version") and s["engine"] != "raw":
                key = "ome-writers (ours)" if is_ours(s["engine"]) else s["engine"]
                if key in BASELINES:
                    key = f"ome-writers (ours) @ {args.baseline}"
                if key in ("tensorstore-await", *TS_OURPARAMS):
                    key = "tensorstore"
                versions[key] = s["library_version"]
    report: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "mode": mode,
        "repeats": repeats,
        "machine": machine(),
        "filesystem": filesystem_of(data_dir),
        "versions": versions,
        "elapsed_s": time.perf_counter() - started,
        "cases": {n: {"title": c.title, **c.spec()} for n, c in cases.items()},
        "skipped": {n: plans[n][1] for n in cases},
        "summaries": summaries,
        "targets": targets(cases, summaries),
        "runs": records,
        "chart": None,
    }
    if have_mpl and write_chart(out / "latest.png", report):
        report["chart"] = "latest.png"
    (out / "latest.json").write_text(json.dumps(report, indent=1))
    write_markdown(out / "latest.md", report, cases)
    print(f"\nwrote {out / 'latest.md'}, latest.json" + (", latest.png" if report["chart"] else ""))
    for n in cases:
        print(f"\n{n}: {cases[n].title}")
        print("\n".join(case_table(summaries[n])))
    if only:
        print_paired(records, only)
    failed = [r for r in records if r["status"] != "OK"]
    print(f"\n{len(records) - len(failed)}/{len(records)} runs verified "
          f"in {report['elapsed_s']:.0f} s")  # fmt: skip
    # A peer's failure is a finding; ours or the baseline failing is the suite's failure.
    ours_failed = [r for r in failed if r["row"].startswith(("ours", "raw"))]
    return 0 if not ours_failed else 1


if __name__ == "__main__":
    sys.exit(main())
