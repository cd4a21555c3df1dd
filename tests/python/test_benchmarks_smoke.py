"""Smoke test of the benchmark suite's plumbing (benchmarks/): no peers, no timing checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"

RESULT_FIELDS = {
    "frames",
    "total_bytes",
    "mbps_close",
    "mbps_durable",
    "cpu_s_per_gb",
    "create_s",
    "create_cpu_s",
    "append_ns",
    "append_ns_room",
    "first100_faults",
    "memcpy_ns",
    "rss_growth_mib",
    "disk_bytes",
    "outputs",
    "pool_crc32",
}


def _tiny_case() -> dict:
    return {
        "name": "tiny",
        "dtype": "uint16",
        "frames": 6,
        "content": "smooth",
        "metadata": True,
        "dims": [
            {"name": "t", "count": 3, "type": "time"},
            {"name": "c", "count": 2, "type": "channel"},
            {"name": "y", "count": 32, "type": "space"},
            {"name": "x", "count": 48, "type": "space"},
        ],
    }


def _run_worker(tmp_path: Path, engine: str, fmt: str, compression: str | None) -> Path:
    job = {
        "case": _tiny_case(),
        "engine": engine,
        "format": fmt,
        "compression": compression,
        "out_dir": str(tmp_path / f"out-{engine}-{fmt}"),
        "max_memory_bytes": 1 << 20,
        "npool": 4,
        "pool_bytes": 1 << 20,
    }
    job_path = tmp_path / f"{engine}-{fmt}.job.json"
    result_path = tmp_path / f"{engine}-{fmt}.result.json"
    job_path.write_text(json.dumps(job))
    proc = subprocess.run(
        [sys.executable, str(BENCH / "worker.py"), str(job_path), str(result_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return result_path


def _verify(result_path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "verify.py"), str(result_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("fmt", "compression"), [("zarr", "zstd"), ("tiff", None)])
def test_worker_ours_measures_and_verifies(tmp_path: Path, fmt: str, compression) -> None:
    result_path = _run_worker(tmp_path, "ours", fmt, compression)
    result = json.loads(result_path.read_text())
    assert result["error"] is None
    assert set(result) >= RESULT_FIELDS
    assert result["frames"] == 6
    assert result["create_cpu_s"] >= 0 and result["first100_faults"] >= 0
    assert set(result["append_ns"]) >= {"p50", "p99", "max"}
    assert "stats" in result  # our engine's counters ride along
    verdict = _verify(result_path)
    assert verdict == {"ok": True, "frames_checked": 6, "message": ""}


def test_worker_raw_direct_writes_the_frames_verified(tmp_path: Path) -> None:
    """The O_DIRECT baseline: 8 MiB aligned blocks, the padding of the last trimmed."""
    result_path = _run_worker(tmp_path, "raw-direct", "raw", None)
    result = json.loads(result_path.read_text())
    assert result["error"] is None
    assert Path(result["outputs"][0]["path"]).stat().st_size == result["total_bytes"]
    assert set(result["append_ns_first100"]) >= {"p50", "p99"}
    assert _verify(result_path) == {"ok": True, "frames_checked": 6, "message": ""}


def test_verify_catches_a_misplaced_frame(tmp_path: Path) -> None:
    result_path = _run_worker(tmp_path, "raw", "raw", None)
    result = json.loads(result_path.read_text())
    raw = Path(result["outputs"][0]["path"])
    data = bytearray(raw.read_bytes())
    frame = len(data) // 6
    data[:frame], data[frame : 2 * frame] = data[frame : 2 * frame], data[:frame]
    raw.write_bytes(bytes(data))
    verdict = _verify(result_path)
    assert not verdict["ok"]
    assert "holds frame 1, expected frame 0" in verdict["message"]


def test_run_plan_lists_every_case() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--smoke", "--list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    for case in ("A:", "B:", "C:", "D:", "E:", "F:", "G:", "H:", "MEM:"):
        assert case in proc.stdout
    assert "acquire-zarr · zstd" in proc.stdout  # the skipped pair is named


@pytest.mark.parametrize(
    ("engine", "fmt"),
    [
        ("via-tensorstore", "zarr"),
        ("via-zarr-python", "zarr"),
        ("via-zarrs-python", "zarr"),
        ("via-acquire-zarr", "zarr"),
        ("via-tifffile", "tiff"),
        ("zarr-python", "zarr"),
        ("zarrs-python", "zarr"),
    ],
)
def test_worker_engine_rows_write_every_frame_verified(tmp_path: Path, engine: str, fmt: str):
    """The shim rows (our adapters) and the libraries used directly (issue #15)."""
    pytest.importorskip("zarr")
    result = json.loads(_run_worker(tmp_path, engine, fmt, None).read_text())
    assert result["error"] is None
    assert _verify(tmp_path / f"{engine}-{fmt}.result.json") == {
        "ok": True,
        "frames_checked": 6,
        "message": "",
    }


@pytest.mark.parametrize(("fmt", "compression"), [("zarr", "blosc-zstd"), ("tiff", "deflate")])
def test_worker_codec_baseline_compresses_every_frame(tmp_path: Path, fmt: str, compression):
    job_codec = {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 2,
                 "shuffle": "bitshuffle", "typesize": 2, "blocksize": 0}}  # fmt: skip
    case = _tiny_case()
    job = {
        "case": case,
        "engine": "codec",
        "format": fmt,
        "compression": compression,
        "out_dir": str(tmp_path / "out"),
        "npool": 4,
        "pool_bytes": 1 << 20,
        "zarr_codec": job_codec,
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    proc = subprocess.run(
        [sys.executable, str(BENCH / "worker.py"), str(tmp_path / "job.json"),
         str(tmp_path / "result.json")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["error"] is None
    assert 0 < result["encoded_bytes"] < result["total_bytes"]
