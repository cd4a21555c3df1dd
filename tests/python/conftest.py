"""Shared helpers: unique frame content, independent expectations, readers."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import ome_writers


def frame_for(n: int, shape: tuple[int, int], dtype: np.dtype | str) -> np.ndarray:
    """A frame whose content identifies acquisition frame number n."""
    dtype = np.dtype(dtype)
    h, w = shape
    ramp = (np.arange(h * w).reshape(h, w) % 5).astype(np.int64)
    if dtype == np.bool_:
        return ((np.arange(h * w).reshape(h, w) + n) % 3 == 0).astype(bool)
    value = (n + 1) * 7 + ramp
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        value = value % min(int(info.max) - 7, 2**31)
        if info.min < 0:
            value = value - (n % 2) * 3 * value // 2  # some negative values too
    frame = value.astype(dtype)
    if dtype.kind == "f":
        frame = frame + np.asarray(0.25, dtype)
    if dtype.kind == "c":
        frame = frame + 1j * (n + 0.5)
    return frame


def refcounts(arrays: Sequence[object]) -> list[int]:
    """Reference counts of `arrays` (compare two calls: a held array counts one more)."""
    return [sys.getrefcount(arrays[i]) for i in range(len(arrays))]


def acquisition_index(n: int, counts: Sequence[int | None]) -> tuple[int, ...]:
    """Mixed-radix digits of frame n over the non-frame counts (first may be None)."""
    digits = []
    rest = n
    for c in reversed(counts[1:]):
        digits.append(rest % c)  # type: ignore[operator]
        rest //= c  # type: ignore[operator]
    if counts:
        first = counts[0]
        digits.append(rest if first is None else rest % first)
    return tuple(reversed(digits))


def stream_all(settings, frames: int | None = None, **kw: object) -> None:  # type: ignore[no-untyped-def]
    """Append every frame (or `frames`) with unique content and metadata {"n": i}."""
    from ome_writers import create_stream

    n = frames if frames is not None else settings.num_frames
    assert n is not None
    shape = tuple(d.count for d in settings.dimensions[-2:])
    with create_stream(settings, **kw) as stream:
        for i in range(n):
            stream.append(frame_for(i, shape, settings.dtype), frame_metadata={"n": i})


def t_frames(t: int | None, height: int, width: int) -> list[ome_writers.Dimension]:
    """Dimensions t (time), y, x."""
    return [
        ome_writers.Dimension(name="t", count=t, type="time"),
        ome_writers.Dimension(name="y", count=height),
        ome_writers.Dimension(name="x", count=width),
    ]


def ome_xsd_path() -> str:
    import ome_types

    return os.path.join(os.path.dirname(ome_types.__file__), "ome-2016-06.xsd")


@pytest.fixture(scope="session")
def ome_schema():  # type: ignore[no-untyped-def]
    import xmlschema

    return xmlschema.XMLSchema(ome_xsd_path())


def read_zarr_both(path: Path) -> np.ndarray:
    """Read an array with zarr-python and tensorstore; assert they agree."""
    ts = pytest.importorskip("tensorstore")  # (Python 3.10 has no zarr 3 or recent tensorstore)
    zarr = pytest.importorskip("zarr")

    z = zarr.open_array(path, mode="r")[...]
    t = (
        ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}})
        .result()
        .read()
        .result()
    )
    np.testing.assert_array_equal(z, t)
    assert z.dtype == t.dtype
    return np.asarray(z)


@pytest.fixture
def make_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    def factory(name: str = "out", **kwargs: object) -> ome_writers.AcquisitionSettings:
        kwargs.setdefault("dtype", "uint16")
        return ome_writers.AcquisitionSettings(root_path=str(tmp_path / name), **kwargs)

    return factory
