"""`python -m ome_writers` / `ome-writers`: info, validate, recover, --help, exit codes."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ome_writers import AcquisitionSettings, Channel, Dimension, create_stream
from ome_writers._cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ome_writers", *args], capture_output=True, text=True, timeout=120
    )


def write(tmp_path: Path, fmt: str, **kw: object) -> str:
    settings = AcquisitionSettings(
        root_path=str(tmp_path / "run"),
        format=fmt,
        dimensions=[
            Dimension(name="t", count=3, type="time"),
            Dimension(name="c", type="channel", coords=[Channel(name="DAPI"), Channel(name="GFP")]),
            Dimension(name="y", count=16),
            Dimension(name="x", count=12),
        ],
        dtype="uint16",
        **kw,  # type: ignore[arg-type]
    )
    with create_stream(settings) as stream:
        for i in range(6):
            stream.append(
                np.full((16, 12), i, np.uint16), frame_metadata={"exposure_time": 0.01, "i": i}
            )
    return settings.output_path


def test_help_of_the_module_and_of_each_command() -> None:
    top = run_cli("--help")
    assert top.returncode == 0, top.stderr
    for word in ("info", "validate", "recover", "exit codes:", "  0  success", "  2  usage error"):
        assert word in top.stdout
    for command in ("info", "validate", "recover"):
        result = run_cli(command, "--help")
        assert result.returncode == 0, result.stderr
        assert f"usage: ome-writers {command} [-h]" in result.stdout
        assert "PATH" in result.stdout


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "ome-writers"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("ome-writers ")
    # with the C libraries the engine links
    assert "zstd " in result.stdout and "libdeflate " in result.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli().returncode == 2
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("info").returncode == 2
    missing = run_cli("info", str(tmp_path / "nothing.ome.zarr"))
    assert missing.returncode == 2
    assert "no such file or directory" in missing.stderr
    assert run_cli("recover", str(tmp_path / "nothing.ome.tiff")).returncode == 2


def test_info_zarr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "ome-zarr", compression="zstd")
    assert main(["info", path, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "ome-zarr"
    assert info["frames"] == 6
    (array,) = info["arrays"]
    assert array["shape"] == [3, 2, 16, 12]
    assert array["dtype"] == "uint16"
    assert array["codecs"][-1] == "zstd"
    root = info["groups"][0]
    assert root["axes"] == ["t", "c", "y", "x"]
    assert root["ome_version"] == "0.5"
    assert root["frame_metadata"] == {"entries": 6, "keys": ["exposure_time", "i", "storage_index"]}
    assert "journal" not in info
    assert main(["info", path]) == 0
    text = capsys.readouterr().out
    assert f"{path}: ome-zarr, 6 frames" in text
    assert "array 0: 3x2x16x12 uint16" in text


def test_info_tiff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "ome-tiff", compression="zstd")
    assert main(["info", path, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "ome-tiff"
    assert info["frames"] == 6
    (f,) = info["files"]
    assert (f["ifds"], f["frame_shape"], f["dtype"], f["compression"]) == (
        6,
        [16, 12],
        "uint16",
        "zstd",
    )
    (image,) = f["images"]
    assert image["sizes"] == {"T": 3, "C": 2, "Z": 1, "Y": 16, "X": 12}
    assert (image["type"], image["planes"]) == ("uint16", 6)
    assert f["map_annotations"] == 6  # the "i" key of every frame


READERS = {
    "ome-zarr": {
        "zarr-python": ("zarr",),
        "tensorstore": ("tensorstore",),
        "ome-zarr-models": ("ome_zarr_models", "zarr"),
    },
    "ome-tiff": {"tifffile": ("tifffile",), "ome-types + XSD": ("ome_types", "xmlschema")},
}


@pytest.mark.parametrize("fmt", ["ome-zarr", "ome-tiff"])
def test_validate_passes_and_names_its_checks(tmp_path: Path, fmt: str) -> None:
    path = write(tmp_path, fmt)
    result = run_cli("validate", path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name, modules in READERS[fmt].items():
        (line,) = [ln for ln in lines if ln.split()[1:2] == name.split()[:1]]
        installed = all(importlib.util.find_spec(m) is not None for m in modules)
        assert line.split()[0] == ("ok" if installed else "skipped"), line
    assert f"{path}: valid {fmt}" in result.stdout


def test_validate_says_which_checks_were_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "ome-zarr")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorstore" else real(name, *a),
    )
    assert main(["validate", path]) == 0
    out = capsys.readouterr().out
    assert "skipped  tensorstore" in out
    assert "tensorstore not installed" in out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith(f"{path}: valid ome-zarr: ")
    skipped = summary.split(" skipped (")[1].rstrip(")").split(", ")
    assert "tensorstore" in skipped
    assert ("zarr-python" in skipped) == (real("zarr") is None)


def test_validate_fails_a_damaged_zarr_chunk(tmp_path: Path) -> None:
    pytest.importorskip("zarr")
    path = Path(write(tmp_path, "ome-zarr", compression="zstd"))
    chunk = next(p for p in (path / "0").rglob("*") if p.is_file() and p.name != "zarr.json")
    chunk.write_bytes(b"not zstd at all")
    result = run_cli("validate", str(path))
    assert result.returncode == 1
    assert "failed   zarr-python" in result.stdout
    assert "INVALID" in result.stdout


def test_validate_and_info_fail_a_truncated_tiff(tmp_path: Path) -> None:
    path = Path(write(tmp_path, "ome-tiff"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for command in ("validate", "info"):
        result = run_cli(command, str(path))
        assert result.returncode == 1, result.stdout
        assert "past the end of the file" in result.stderr


def test_not_an_output_exits_1(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    assert run_cli("info", str(tmp_path / "notes.txt")).returncode == 1
    assert run_cli("validate", str(tmp_path)).returncode == 1
    assert run_cli("recover", str(tmp_path)).returncode == 1


@pytest.mark.parametrize("fmt", ["ome-zarr", "ome-tiff"])
def test_recover_a_killed_stream(tmp_path: Path, fmt: str) -> None:
    child = textwrap.dedent(
        f"""
        import os, numpy as np
        from ome_writers import AcquisitionSettings, Dimension, create_stream
        s = AcquisitionSettings(root_path={str(tmp_path / "killed")!r}, format={fmt!r},
            dimensions=[Dimension(name="t", count=None, type="time"),
                        Dimension(name="y", count=8), Dimension(name="x", count=8)],
            dtype="uint8")
        stream = create_stream(s, checkpoint_interval=0)
        for i in range(7):
            stream.append(np.full((8, 8), i, np.uint8), frame_metadata={{"i": i}})
        stream.flush()
        print(s.output_path)
        os._exit(0)  # no close(): the journal stays
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert "journal is present" in run_cli("info", out).stdout
    result = run_cli("recover", out)
    assert result.returncode == 0, result.stderr
    assert "the journal describes 7 frames" in result.stdout
    info = json.loads(run_cli("info", out, "--json").stdout)
    assert info["frames"] == 7
    assert run_cli("validate", out).returncode == 0
