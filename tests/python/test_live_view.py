"""Read-your-writes: `view()[i]` returns frame i the moment `append` returns.

pymmcore-plus hands `stream.view()` to napari/ndv and reads the newest frame on
every `frameReady`, right after the append. The frame is then in a queue slot,
a caller's borrowed array, a chunk or shard being assembled, an encoder's
buffer or the files; every one of those must serve it. Each frame has unique
content, and every read is compared with the frame appended.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ome_writers import AcquisitionSettings, Dimension, Plate, Position, create_stream

H, W = 64, 48


def frame_for(n: int, dtype: Any = np.uint16) -> np.ndarray:
    """Frame n: a ramp offset by n, so that no two frames (or rows) are alike."""
    ramp = np.arange(H * W, dtype=np.int64).reshape(H, W) % 1000
    return (ramp + 1000 * (n + 1)).astype(dtype)


def _yx() -> list[Dimension]:
    return [Dimension(name="y", count=H, type="space"), Dimension(name="x", count=W, type="space")]


def _layout(name: str, tmp_path: Path, t: int = 3) -> AcquisitionSettings:
    zarr = str(tmp_path / "live.ome.zarr")
    tiff = str(tmp_path / "live.ome.tiff")
    tz = [Dimension(name="t", count=t, type="time"), Dimension(name="z", count=8, type="space")]
    if name == "zarr-1frame":
        return AcquisitionSettings(root_path=zarr, dimensions=[*tz, *_yx()], dtype="uint16")
    if name == "zarr-zchunk4":
        dims = [tz[0], Dimension(name="z", count=8, type="space", chunk_size=4), *_yx()]
        return AcquisitionSettings(root_path=zarr, dimensions=dims, dtype="uint16")
    if name == "zarr-sharded":
        dims = [
            Dimension(name="t", count=3, type="time", chunk_size=1, shard_size_chunks=3),
            Dimension(name="z", count=8, type="space", chunk_size=2, shard_size_chunks=2),
            Dimension(name="y", count=H, type="space", chunk_size=32, shard_size_chunks=2),
            Dimension(name="x", count=W, type="space", chunk_size=16, shard_size_chunks=3),
        ]
        return AcquisitionSettings(root_path=zarr, dimensions=dims, dtype="uint16")
    if name == "zarr-blosc-zstd":
        dims = [tz[0], Dimension(name="z", count=8, type="space", chunk_size=4), *_yx()]
        return AcquisitionSettings(
            root_path=zarr, dimensions=dims, dtype="uint16", compression="blosc-zstd"
        )
    if name == "zarr-unbounded":
        dims = [Dimension(name="t", count=None, type="time", chunk_size=2), *_yx()]
        return AcquisitionSettings(root_path=zarr, dimensions=dims, dtype="uint16")
    if name == "zarr-plate":
        p = Dimension(
            name="p",
            type="position",
            coords=[
                Position(name="fov0", plate_row="A", plate_column="1"),
                Position(name="fov0", plate_row="B", plate_column="2"),
            ],
        )
        dims = [Dimension(name="t", count=4, type="time", chunk_size=2), p, *_yx()]
        plate = Plate(row_names=["A", "B"], column_names=["1", "2"])
        return AcquisitionSettings(root_path=zarr, dimensions=dims, dtype="uint16", plate=plate)
    if name == "tiff":
        return AcquisitionSettings(root_path=tiff, dimensions=[*tz, *_yx()], dtype="uint16")
    if name == "tiff-zstd":
        return AcquisitionSettings(
            root_path=tiff, dimensions=[*tz, *_yx()], dtype="uint16", compression="zstd"
        )
    if name == "tiff-2pos":
        p = Dimension(name="p", type="position", coords=["A", "B"])
        dims = [Dimension(name="t", count=t + 1, type="time"), p, tz[1], *_yx()]
        return AcquisitionSettings(root_path=tiff, dimensions=dims, dtype="uint16")
    if name == "tiff-unbounded":
        dims = [Dimension(name="t", count=None, type="time"), *_yx()]
        return AcquisitionSettings(root_path=tiff, dimensions=dims, dtype="uint16")
    raise AssertionError(name)


LAYOUTS = [
    "zarr-1frame",
    "zarr-zchunk4",
    "zarr-sharded",
    "zarr-blosc-zstd",
    "zarr-unbounded",
    "zarr-plate",
    "tiff",
    "tiff-zstd",
    "tiff-2pos",
    "tiff-unbounded",
]
UNBOUNDED_FRAMES = 13


def _frames(settings: AcquisitionSettings) -> int:
    return settings.num_frames if settings.num_frames is not None else UNBOUNDED_FRAMES


def _index(view: Any, n: int) -> tuple[int, ...]:
    """The view index (acquisition order) of frame n."""
    counts = view.shape[: view.ndim - 2]
    digits = []
    for c in reversed(counts[1:]):
        digits.append(n % c)
        n //= c
    digits.append(n)
    return tuple(reversed(digits))


@pytest.mark.parametrize("copy", [True, False], ids=["copy", "nocopy"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_frame_reads_back_right_after_append(layout: str, copy: bool, tmp_path: Path) -> None:
    """Every `view[index of frame i]`, read as soon as `append(frame i)` returns, equals it."""
    settings = _layout(layout, tmp_path)
    total = _frames(settings)
    frames = [frame_for(n) for n in range(total)]
    misses = []
    with create_stream(settings) as stream:
        view = stream.view(dynamic_shape=False)
        for n in range(total):
            stream.append(frames[n], copy=copy)
            got = view[_index(view, n)]
            if not np.array_equal(got, frames[n]):
                misses.append(n)
        assert misses == []
        # Every earlier frame too, wherever it is by now.
        for n in range(total):
            np.testing.assert_array_equal(view[_index(view, n)], frames[n])
    # And after close, from the files alone.
    for n in range(total):
        np.testing.assert_array_equal(view[_index(view, n)], frames[n])


@pytest.mark.parametrize("layout", ["zarr-zchunk4", "zarr-blosc-zstd", "tiff-zstd", "tiff-2pos"])
def test_concurrent_reader_sees_every_appended_frame(layout: str, tmp_path: Path) -> None:
    """A viewer thread polls the newest frame while the acquisition thread appends.

    Whatever frame number the reader takes as appended (frames_appended is
    read before the frame), the pixels it gets are that frame's, never zeros
    or another frame's, while writer threads move frames through slots,
    chunks and files and release them.
    """
    settings = _layout(layout, tmp_path, t=40)
    total = _frames(settings)
    frames = [frame_for(n) for n in range(total)]
    done = threading.Event()
    bad: list[tuple[int, str]] = []
    reads = [0]

    with create_stream(settings) as stream:
        view = stream.view(dynamic_shape=False)

        def poll() -> None:
            while not done.is_set():
                appended = stream.frames_appended
                for n in range(max(0, appended - 3), appended):
                    got = view[_index(view, n)]
                    reads[0] += 1
                    if not np.array_equal(got, frames[n]):
                        bad.append((n, "zeros" if not got.any() else "other"))

        reader = threading.Thread(target=poll)
        reader.start()
        try:
            for n in range(total):
                stream.append(frames[n], copy=(n % 2 == 0))
            stream.flush()
        finally:
            done.set()
            reader.join()
    assert reads[0] > 0
    assert bad == []


def test_skipped_frames_read_as_fill_value(tmp_path: Path) -> None:
    """A skipped frame reads as zeros (the fill value) at once, its neighbours as appended."""
    settings = _layout("zarr-zchunk4", tmp_path)
    with create_stream(settings) as stream:
        view = stream.view(dynamic_shape=False)
        stream.append(frame_for(0))
        stream.skip(frames=2)
        stream.append(frame_for(3))
        np.testing.assert_array_equal(view[0, 0], frame_for(0))
        assert not view[0, 1].any()
        assert not view[0, 2].any()
        np.testing.assert_array_equal(view[0, 3], frame_for(3))
