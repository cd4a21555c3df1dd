"""Bad input and failing storage: a clear exception at the call, earlier data intact."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
import zarr

from conftest import frame_for, read_zarr_both, refcounts
from ome_writers import AcquisitionSettings, Dimension, create_stream


def settings(tmp_path: Path, name: str) -> AcquisitionSettings:
    return AcquisitionSettings(
        root_path=str(tmp_path / name),
        dtype="uint16",
        dimensions=[
            Dimension(name="t", count=None, type="time"),
            Dimension(name="y", count=8),
            Dimension(name="x", count=8),
        ],
    )


@pytest.mark.parametrize("name", ["a.ome.zarr", "a.ome.tiff"])
def test_output_under_a_file_fails_at_create(tmp_path: Path, name: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    s = settings(tmp_path / "file", name)
    with pytest.raises(OSError, match="file"):
        create_stream(s)


@pytest.mark.parametrize("name", ["a.ome.zarr", "a.ome.tiff"])
def test_non_finite_metadata_is_rejected_at_append(tmp_path: Path, name: str) -> None:
    s = settings(tmp_path, name)
    with create_stream(s) as stream:
        with pytest.raises(ValueError, match="nan"):
            stream.append(frame_for(0, (8, 8), "uint16"), frame_metadata={"x": float("nan")})
        with pytest.raises(TypeError, match="mapping"):
            stream.append(frame_for(0, (8, 8), "uint16"), frame_metadata=[1, 2])  # type: ignore[arg-type]
        stream.append(frame_for(0, (8, 8), "uint16"), frame_metadata={"x": 1})
    if name.endswith("zarr"):
        assert read_zarr_both(Path(s.output_path) / "0").shape == (1, 8, 8)


def test_frame_metadata_of_any_mapping_is_kept_and_cycles_are_rejected(tmp_path: Path) -> None:
    s = settings(tmp_path, "m.ome.zarr")
    cycle: dict[str, object] = {"a": 1}
    cycle["self"] = cycle
    with create_stream(s) as stream:
        stream.append(frame_for(0, (8, 8), "uint16"), frame_metadata=MappingProxyType({"k": 0}))
        with pytest.raises(ValueError, match="frame_metadata cannot be serialised"):
            stream.append(frame_for(1, (8, 8), "uint16"), frame_metadata=cycle)
        stream.append(frame_for(1, (8, 8), "uint16"), frame_metadata={"k": 1, "v": np.uint8(7)})
    group = zarr.open_group(s.output_path, mode="r")
    entries = group.attrs["ome_writers"]["frame_metadata"]
    assert [(e["k"], e.get("v")) for e in entries] == [(0, None), (1, 7)]
    data = read_zarr_both(Path(s.output_path) / "0")
    for i in range(2):
        np.testing.assert_array_equal(data[i], frame_for(i, (8, 8), "uint16"))


def test_storage_failure_mid_stream_is_reported_and_earlier_frames_survive(
    tmp_path: Path,
) -> None:
    s = settings(tmp_path, "f.ome.zarr")
    stream = create_stream(s)
    for i in range(3):
        stream.append(frame_for(i, (8, 8), "uint16"))
    stream.flush()
    chunks = Path(s.output_path) / "0" / "c"
    # Sabotage the store: the chunk directory becomes a file.
    shutil.move(chunks, tmp_path / "saved_chunks")
    chunks.write_text("in the way")
    stream.append(frame_for(3, (8, 8), "uint16"))
    with pytest.raises(OSError, match="c"):
        stream.flush()
    # The error stays: later calls report it too, close() included.
    with pytest.raises(OSError):
        stream.append(frame_for(4, (8, 8), "uint16"))
    with pytest.raises(OSError):
        stream.close()
    chunks.unlink()
    shutil.move(tmp_path / "saved_chunks", chunks)
    data = read_zarr_both(Path(s.output_path) / "0")
    for i in range(3):
        np.testing.assert_array_equal(data[i], frame_for(i, (8, 8), "uint16"))


def test_borrowed_frames_are_released_when_storage_fails(tmp_path: Path) -> None:
    s = AcquisitionSettings(
        root_path=str(tmp_path / "b.ome.zarr"),
        dtype="uint16",
        dimensions=[
            Dimension(name="t", count=None, type="time", chunk_size=2),
            Dimension(name="y", count=8),
            Dimension(name="x", count=8),
        ],
    )
    frames = [frame_for(i, (8, 8), "uint16") for i in range(6)]

    base = refcounts(frames)
    stream = create_stream(s)
    for i in range(2):
        stream.append(frames[i], copy=False)
    stream.flush()
    chunks = Path(s.output_path) / "0" / "c"
    shutil.move(chunks, tmp_path / "saved_chunks")
    chunks.write_text("in the way")
    # Frame 4 waits in an open chunk when the failure surfaces, usually at the
    # flush; a writer that reaches chunk 1 first fails append 4 instead (often
    # so with the portable fallback's buffered writes).
    with pytest.raises(OSError, match="c"):
        for i in range(2, 5):
            stream.append(frames[i], copy=False)
        stream.flush()
    with pytest.raises(OSError):
        stream.append(frames[5], copy=False)  # refused: never held
    with pytest.raises(OSError):
        stream.close()
    assert refcounts(frames) == base  # every borrowed array was let go, the failed ones too
    chunks.unlink()
    shutil.move(tmp_path / "saved_chunks", chunks)
    data = read_zarr_both(Path(s.output_path) / "0")
    for i in range(2):
        np.testing.assert_array_equal(data[i], frames[i])


def test_chunk_larger_than_the_memory_budget_is_rejected_at_create(tmp_path: Path) -> None:
    s = AcquisitionSettings(
        root_path=str(tmp_path / "big.ome.zarr"),
        dtype="uint16",
        dimensions=[
            Dimension(name="t", count=100, type="time", chunk_size=50),
            Dimension(name="y", count=256),
            Dimension(name="x", count=256),
        ],
    )
    with pytest.raises(ValueError, match=r"t=50 frames\) holds 6553600 bytes"):
        create_stream(s, max_memory_bytes=4 << 20)
    assert not Path(s.output_path).exists()
    with create_stream(s, max_memory_bytes=8 << 20) as stream:
        stream.append(frame_for(0, (256, 256), "uint16"))


def _open_paths_under(root: Path, pid: int | str = "self") -> list[str]:
    """Paths under `root` that process `pid` holds open (from /proc/<pid>/fd)."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(root)):
            found.append(target)
    return found


def test_removed_zarr_store_is_reported_not_recreated(tmp_path: Path) -> None:
    """Removing the store mid-stream raises OSError at the next write or flush; the
    store is not re-created (the frames before the removal would be gone from it
    while the metadata listed them), and close() releases every descriptor."""
    s = settings(tmp_path, "gone.ome.zarr")
    out = Path(s.output_path)
    stream = create_stream(s)
    for i in range(3):
        stream.append(frame_for(i, (8, 8), "uint16"), frame_metadata={"i": i})
    stream.flush()
    shutil.rmtree(out)
    stream.append(frame_for(3, (8, 8), "uint16"))
    with pytest.raises(OSError, match="was removed or replaced while the stream was writing"):
        stream.flush()
    with pytest.raises(OSError):
        stream.close()
    assert not out.exists()
    assert _open_paths_under(tmp_path) == []


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("name", ["full.ome.zarr", "full.ome.tiff"])
def test_failed_close_releases_every_descriptor(tmp_path: Path, name: str) -> None:
    """A stream whose storage fails (here: a file size limit, as a full disk) raises
    at close() and holds no descriptor afterwards, so the space is freed as soon as
    the files are removed, not when the stream object is garbage collected."""
    script = f"""
import json, os, resource, signal
import numpy as np
from ome_writers import AcquisitionSettings, Dimension, create_stream
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
s = AcquisitionSettings(root_path={str(tmp_path / name)!r}, dtype="uint16",
    dimensions=[Dimension(name="t", count=None, type="time"),
                Dimension(name="y", count=1024), Dimension(name="x", count=1024)])
stream = create_stream(s)
errors = []
for i in range(16):
    try:
        stream.append(np.full((1024, 1024), i, np.uint16), frame_metadata={{"i": i}})
    except OSError as e:
        errors.append(type(e).__name__)
        break
try:
    stream.close()
except OSError as e:
    errors.append(type(e).__name__)
print(json.dumps(errors), flush=True)
input()  # the test looks at this process's descriptors meanwhile
"""
    with subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        errors = json.loads(child.stdout.readline())
        held = _open_paths_under(tmp_path, child.pid)
        child.communicate("\n", timeout=60)
    assert errors, "the size limit never surfaced"
    assert held == []


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("name", ["threads.ome.zarr", "threads.ome.tiff"])
def test_closed_stream_keeps_no_threads(tmp_path: Path, name: str) -> None:
    """close() joins the writer and encoder threads: a program that opens streams
    one after another does not collect threads until garbage collection."""
    before = len(os.listdir("/proc/self/task"))
    s = settings(tmp_path, name)
    s.compression = "zstd"
    stream = create_stream(s, writer_threads=8)
    for i in range(4):
        stream.append(frame_for(i, (8, 8), "uint16"))
    assert len(os.listdir("/proc/self/task")) > before
    stream.close()
    assert len(os.listdir("/proc/self/task")) == before
