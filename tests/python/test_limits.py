"""Limits checked at create_stream (ValueError naming the value, nothing created) and
operating-system errors passed through unchanged (errno)."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ome_writers import AcquisitionSettings, Dimension, create_stream

FORMATS = ["ome-zarr", "ome-tiff"]


def _settings(path: Path, fmt: str, t: int = 4, y: int = 6, x: int = 5) -> AcquisitionSettings:
    return AcquisitionSettings(
        root_path=str(path / "s"),
        format=fmt,
        dtype="uint16",
        dimensions=[
            Dimension(name="t", count=t, type="time"),
            Dimension(name="y", count=y),
            Dimension(name="x", count=x),
        ],
    )


def _refused(settings: AcquisitionSettings, match: str, **kw: object) -> None:
    with pytest.raises(ValueError, match=match):
        create_stream(settings, **kw)
    assert not Path(settings.output_path).exists()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("threads", [10000, 65, 2**40])
def test_writer_threads_above_64_are_refused(tmp_path: Path, fmt: str, threads: int) -> None:
    _refused(
        _settings(tmp_path, fmt),
        rf"writer_threads must be at most 64, got {threads}$",
        writer_threads=threads,
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_writer_threads_0_and_64_are_accepted(tmp_path: Path, fmt: str) -> None:
    for threads in (0, 64):
        create_stream(_settings(tmp_path / str(threads), fmt), writer_threads=threads).close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_queued_frame_metadata_counts_against_the_budget(tmp_path: Path, fmt: str) -> None:
    """A frame's metadata text is held until it is journaled: it counts in the budget."""
    import numpy as np

    text = "x" * (1 << 20)
    with create_stream(_settings(tmp_path, fmt)) as stream:
        stream.append(np.zeros((6, 5), "uint16"), frame_metadata={"note": text})
        stream.flush()
        stats = stream.stats()
        # The frame is 60 bytes; what the queue held at its peak was mostly the text.
        assert stats["peak_queue_bytes"] >= len(text)
        assert stats["queue_bytes"] == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_memory_budget_below_four_frames_is_refused(tmp_path: Path, fmt: str) -> None:
    # 6 x 5 uint16 frames: 60 bytes, so at least 240 bytes.
    _refused(
        _settings(tmp_path, fmt),
        r"max_memory_bytes 239 is less than 4 frames \(240 bytes for frames of 60 bytes\)",
        max_memory_bytes=239,
    )
    create_stream(_settings(tmp_path, fmt), max_memory_bytes=240).close()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("count", [2**63, 2**53 + 1])
def test_counts_beyond_2_53_are_refused_naming_the_dimension(
    tmp_path: Path, fmt: str, count: int
) -> None:
    _refused(
        _settings(tmp_path, fmt, t=count),
        rf"dimension 't' count must be at most 2\^53 \(9007199254740992\), got {count}$",
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_frames_too_large_to_allocate_are_refused(tmp_path: Path, fmt: str) -> None:
    _refused(
        _settings(tmp_path, fmt, y=10**12, x=512),
        r"a frame of 1000000000000 x 512 uint16 is larger than 1099511627776 bytes",
    )


def test_empty_root_path_behaves_as_in_0_3_2(tmp_path: Path) -> None:
    """0.3.2: format "auto" with root_path "" is the in-memory scratch format; an explicit
    file format raises ValueError("root_path is required for <format> format.")."""
    dims = _settings(tmp_path, "ome-zarr").dimensions
    auto = AcquisitionSettings(root_path="", dimensions=dims, dtype="uint16")
    assert auto.format.name == "scratch"
    create_stream(auto).close()
    for fmt in FORMATS:
        s = AcquisitionSettings(root_path="", dimensions=dims, dtype="uint16", format=fmt)
        with pytest.raises(ValueError, match=rf"^root_path is required for {fmt} format\.$"):
            create_stream(s)


_FSIZE_CHILD = textwrap.dedent(
    """
    import resource, signal, sys
    import numpy as np
    from ome_writers import AcquisitionSettings, Dimension, create_stream

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    s = AcquisitionSettings(
        root_path=sys.argv[2], format=sys.argv[1], dtype="uint16",
        dimensions=[Dimension(name="t", count=8, type="time"),
                    Dimension(name="y", count=512), Dimension(name="x", count=512)],
    )
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))
    try:
        with create_stream(s) as stream:
            for i in range(8):
                stream.append(np.full((512, 512), i, np.uint16))
    except OSError as e:
        print(e.errno, e.strerror)
    """
)


@pytest.mark.parametrize("fmt", FORMATS)
def test_file_size_limit_reaches_python_as_efbig(tmp_path: Path, fmt: str) -> None:
    # A 512 KiB chunk or strip over a 300,000-byte limit (not a page multiple: O_DIRECT
    # would answer EINVAL for the write the kernel cuts short).
    out = subprocess.run(
        [sys.executable, "-c", _FSIZE_CHILD, fmt, str(tmp_path / "big")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    code, _, message = out.strip().partition(" ")
    assert int(code) == errno.EFBIG, out
    assert "File too large" in message


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_metadata_value_over_10_mib_round_trips(tmp_path: Path, fmt: str) -> None:
    """libxml2 (lxml without huge_tree) refuses text nodes above 10 MB; the readers
    this project is judged by take them, and so does the writer: nothing is cut."""
    import json

    import numpy as np

    text = "ab" * (11 << 19)  # 11 MiB
    settings = _settings(tmp_path, fmt, t=1)
    with create_stream(settings) as stream:
        stream.append(np.zeros((6, 5), "uint16"), frame_metadata={"note": text})
    if fmt == "ome-tiff":
        import ome_types

        ome = ome_types.from_tiff(settings.output_path)
        values = [m.value for ma in ome.structured_annotations.map_annotations for m in ma.value.ms]
        assert text in values
    else:
        attrs = json.loads((Path(settings.output_path) / "zarr.json").read_text())["attributes"]
        assert attrs["ome_writers"]["frame_metadata"][0]["note"] == text


def test_tiny_frames_stay_within_the_budget(tmp_path: Path) -> None:
    """A 16x16 uint16 frame is 512 bytes: a page-sized slot each would let the queue
    take 8x the budget (and a kernel mapping each). Peak RSS growth stays within
    the budget + 64 MiB while appends outrun the writer. (The slots are the same for
    both formats; OME-TIFF is the one fast enough to keep this test short.)"""
    fmt = "ome-tiff"
    script = textwrap.dedent(
        f"""
        import numpy as np
        from ome_writers import AcquisitionSettings, Dimension, create_stream

        def hwm():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024

        s = AcquisitionSettings(
            root_path={str(tmp_path / "tiny")!r}, format={fmt!r}, dtype="uint16",
            dimensions=[Dimension(name="t", count=None), Dimension(name="y", count=16),
                        Dimension(name="x", count=16)])
        frame = np.zeros((16, 16), "uint16")
        stream = create_stream(s, max_memory_bytes=32 << 20)
        base = hwm()
        peak_queue = 0
        for i in range(150_000):
            stream.append(frame)
            if i % 1000 == 0:
                peak_queue = max(peak_queue, stream.stats()["queue_bytes"])
        grown = hwm() - base
        stream.close()
        print(grown, peak_queue)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    grown, peak_queue = (float(v) for v in out.stdout.split())
    assert peak_queue > 16 << 20, "the queue never filled: the test measured nothing"
    assert grown <= 32 + 64, f"peak RSS grew {grown:.0f} MiB with a 32 MiB budget"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("value", [-1.0, 86400.5, float("nan"), float("inf")])
def test_checkpoint_interval_out_of_range_is_refused(
    tmp_path: Path, fmt: str, value: float
) -> None:
    finite = value == value and abs(value) != float("inf")
    message = (
        r"checkpoint_interval must be between 0 \(off\) and 86400 seconds, got "
        if finite
        else r"checkpoint_interval must be a finite number of seconds, got (nan|inf)"
    )
    _refused(_settings(tmp_path, fmt), message, checkpoint_interval=value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_checkpoint_interval_0_turns_checkpoints_off(tmp_path: Path, fmt: str) -> None:
    import time

    import numpy as np

    with create_stream(_settings(tmp_path, fmt), checkpoint_interval=0) as stream:
        stream.append(np.zeros((6, 5), "uint16"))
        time.sleep(0.3)  # would be several checkpoints at a short interval
        assert stream.stats()["checkpoints"] == 0
        stream.flush()
        assert stream.stats()["checkpoints"] == 1  # flush() is one, on demand
