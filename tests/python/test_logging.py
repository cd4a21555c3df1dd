"""The library reports through logging.getLogger("ome_writers") and never prints."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from ome_writers import AcquisitionSettings, Dimension, OMEStream, _stream, create_stream


def small_settings(tmp_path: Path, fmt: str, t: int | None = 3) -> AcquisitionSettings:
    return AcquisitionSettings(
        root_path=str(tmp_path / "run"),
        format=fmt,
        dimensions=[
            Dimension(name="t", count=t, type="time"),
            Dimension(name="y", count=32),
            Dimension(name="x", count=24),
        ],
        dtype="uint16",
    )


@pytest.mark.parametrize("fmt", ["ome-zarr", "ome-tiff"])
def test_open_and_close_are_logged_at_info(
    tmp_path: Path, fmt: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = small_settings(tmp_path, fmt)
    with caplog.at_level(logging.INFO, logger="ome_writers"):
        stream = create_stream(settings)
        for i in range(3):
            stream.append(np.full((32, 24), i, np.uint16))
        stream.close()
    records = [r for r in caplog.records if r.name == "ome_writers"]
    assert [r.levelno for r in records] == [logging.INFO, logging.INFO]
    opened, closed = (r.getMessage() for r in records)
    assert opened.startswith(f"stream opened: {settings.output_path} ({fmt}, 3 frames of 32x24")
    written = int(stream.stats()["bytes_written"])
    assert written >= 3 * 32 * 24 * 2
    assert closed.startswith(
        f"stream closed: {settings.output_path}: 3 frames, {written} bytes in "
    )
    assert closed.endswith(" s")


def test_nothing_is_printed_and_nothing_logged_below_the_level(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ome_writers")
    with create_stream(small_settings(tmp_path, "ome-zarr", t=None)) as stream:
        for i in range(5):
            stream.append(np.full((32, 24), i, np.uint16), frame_metadata={"i": i})
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert [r for r in caplog.records if r.name == "ome_writers"] == []


def _stream_with_waits(tmp_path: Path, threshold: float) -> tuple[OMEStream, int]:
    # A budget of four 2 MiB frames (the least allowed) and zstd level 9: the
    # writer compresses a frame in milliseconds, an append copies it in well
    # under one, so appends wait.
    settings = AcquisitionSettings(
        root_path=str(tmp_path / "slow"),
        format="ome-zarr",
        dimensions=[
            Dimension(name="t", count=24, type="time"),
            Dimension(name="y", count=1024),
            Dimension(name="x", count=1024),
        ],
        dtype="uint16",
        compression="zstd",
    )
    stream = create_stream(settings, max_memory_bytes=4 * 1024 * 1024 * 2, compression_level=9)
    stream.append_wait_warning_seconds = threshold
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 4000, (1024, 1024), dtype=np.uint16)
    for _ in range(24):
        stream.append(frame)
    waits = int(stream.stats()["append_waits"])
    stream.close()
    return stream, waits


def test_a_long_wait_for_the_budget_logs_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_stream, "APPEND_WAIT_WARNING_INTERVAL", 3600.0)
    with caplog.at_level(logging.WARNING, logger="ome_writers"):
        stream, waits = _stream_with_waits(tmp_path, threshold=0.0)
    assert waits > 1
    assert stream.stats()["append_wait_seconds"] > 0
    warnings = [r for r in caplog.records if r.name == "ome_writers"]
    # Every wait is over a zero threshold; within the interval only the first is told.
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    message = warnings[0].getMessage()
    assert "waited" in message and "memory budget" in message
    assert "(1 such waits over 0 s since the last warning)" in message


def test_every_long_wait_is_told_once_the_interval_has_passed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_stream, "APPEND_WAIT_WARNING_INTERVAL", 0.0)
    with caplog.at_level(logging.WARNING, logger="ome_writers"):
        _, waits = _stream_with_waits(tmp_path, threshold=0.0)
    warnings = [r for r in caplog.records if r.name == "ome_writers"]
    assert len(warnings) == waits > 1


def test_no_warning_below_the_threshold(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ome_writers"):
        _, waits = _stream_with_waits(tmp_path, threshold=60.0)
    assert waits > 1
    assert [r for r in caplog.records if r.name == "ome_writers"] == []
