"""StreamView: the live, acquisition-ordered array view of OME-Zarr, OME-TIFF and scratch streams.

Every frame carries its own acquisition number (frame n holds 100 * (n + 1)
plus a fixed in-frame pattern), so the oracle for any view is a plain numpy
array built by reshaping the frames in acquisition order (C order), then
indexed with the same key.
"""

from __future__ import annotations

import re
from math import prod
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ome_writers import AcquisitionSettings, create_stream, dims_from_standard_axes
from ome_writers._stream import OMEStream
from ome_writers._stream_view import StreamView

FRAME_SHAPE = (4, 5)
PATTERN = (np.arange(prod(FRAME_SHAPE)).reshape(FRAME_SHAPE) % 7).astype(np.uint16)
SIZES: dict[str, Any] = {"t": 2, "c": 3, "z": 2, "p": ["A", "B"]}

KINDS = ["zarr", "tiff", "scratch"]
CONTENT_KINDS = KINDS


def frame_for(n: int) -> np.ndarray:
    """The unique frame given as frame number `n`."""
    return PATTERN + np.uint16(100 * (n + 1))


def settings_for(
    kind: str, order: str, tmp_path: Path, sizes: dict[str, Any] | None = None, **kwargs: Any
) -> AcquisitionSettings:
    """Settings with the non-frame axes `order` (acquisition order) then y, x."""
    sizes = {**SIZES, **(sizes or {})}
    axes: dict[str, Any] = {a: sizes[a] for a in order}
    axes.update(y=FRAME_SHAPE[0], x=FRAME_SHAPE[1])
    root = {"zarr": "run.ome.zarr", "tiff": "run.ome.tiff", "scratch": ""}[kind]
    return AcquisitionSettings(
        root_path=str(tmp_path / root) if root else "",
        format="scratch" if kind == "scratch" else "auto",
        dimensions=dims_from_standard_axes(axes),
        dtype="uint16",
        **kwargs,
    )


def counts_of(settings: AcquisitionSettings, frames: int) -> tuple[int, ...]:
    """Non-frame sizes in acquisition order; an unbounded first axis sized for `frames`."""
    counts = [d.count for d in settings.dimensions[:-2]]
    if counts and counts[0] is None:
        inner = prod(int(c or 1) for c in counts[1:])
        counts[0] = -(-frames // inner)
    return tuple(int(c or 0) for c in counts)


def expected(
    counts: tuple[int, ...], written: int, skipped: frozenset[int] | set[int] = frozenset()
) -> np.ndarray:
    """Oracle: frames 0 .. written-1 (minus `skipped`) in acquisition (C) order."""
    out = np.zeros((*counts, *FRAME_SHAPE), dtype=np.uint16)
    flat = out.reshape((-1, *FRAME_SHAPE))
    for n in range(min(written, flat.shape[0])):
        if n not in skipped:
            flat[n] = frame_for(n)
    return out


def write(stream: OMEStream, start: int, stop: int) -> None:
    for n in range(start, stop):
        stream.append(frame_for(n))


def wait_events(stream: OMEStream) -> None:
    tracker = stream._tracker
    if tracker is not None:
        assert tracker.wait(timeout=10)


ORDERS = [
    "tcz",  # OME order already for Zarr
    "tzc",  # Zarr storage permutes z and c
    "czt",  # fully reversed relative to the OME order
    "ptcz",  # position outermost
    "tpc",  # position interleaved
    "tcp",  # position innermost
    "p",  # positions only
]


# ------------------------------------------------------------------ content


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("kind", CONTENT_KINDS)
def test_view_content_during_and_after_acquisition(kind: str, order: str, tmp_path: Path) -> None:
    settings = settings_for(kind, order, tmp_path)
    total = settings.num_frames
    assert total is not None
    counts = counts_of(settings, total)
    half = total // 2
    with create_stream(settings) as stream:
        view = stream.view(dynamic_shape=False)
        write(stream, 0, half)
        stream.flush()
        want = expected(counts, half)
        first = (0,) * len(counts)
        last = (-1,) * len(counts)
        assert np.array_equal(view[first], frame_for(0))
        assert not view[last].any()  # not acquired yet: zeros
        assert np.array_equal(np.asarray(view), want)
        write(stream, half, total)
    assert stream.closed
    want = expected(counts, total)
    assert np.array_equal(np.asarray(view), want)
    assert np.array_equal(view[last], frame_for(total - 1))
    # A view created after close reads the files.
    assert np.array_equal(np.asarray(stream.view()), want)


@pytest.mark.parametrize("kind", CONTENT_KINDS)
def test_every_frame_at_its_acquisition_index(kind: str, tmp_path: Path) -> None:
    settings = settings_for(kind, "tpcz", tmp_path)
    counts = counts_of(settings, settings.num_frames or 0)
    with create_stream(settings) as stream:
        view = stream.view()
        write(stream, 0, prod(counts))
    for n, index in enumerate(np.ndindex(*counts)):
        assert np.array_equal(view[index], frame_for(n)), index


KEYS: list[Any] = [
    (1, 2, 1),
    (-1, -1, -1),
    (-2, 0, -2),
    (slice(None), 1),
    (slice(None, None, -1), slice(1, None), 0),
    (slice(-2, None), slice(None, -1), slice(None, None, 2)),
    (1, ..., 0, slice(1, 4)),
    (..., -1, slice(None, None, -2)),
    (slice(0, 1), slice(2, 3), slice(1, 2), 3, 4),
    (),
    ...,
    1,
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
@pytest.mark.parametrize("kind", CONTENT_KINDS)
def test_indexing_matches_numpy(kind: str, key: Any, tmp_path: Path) -> None:
    settings = settings_for(kind, "tcz", tmp_path)
    counts = counts_of(settings, settings.num_frames or 0)
    with create_stream(settings) as stream:
        write(stream, 0, prod(counts))
    view = stream.view()
    want = expected(counts, prod(counts))
    got = view[key]
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.uint16
    assert got.shape == want[key].shape
    assert np.array_equal(got, want[key])


@pytest.mark.parametrize("kind", CONTENT_KINDS)
def test_skipped_frames_read_as_zeros(kind: str, tmp_path: Path) -> None:
    settings = settings_for(kind, "tc", tmp_path)
    counts = counts_of(settings, settings.num_frames or 0)
    with create_stream(settings) as stream:
        view = stream.view()
        stream.append(frame_for(0))
        stream.skip(frames=2)
        stream.append(frame_for(3))
        stream.skip(frames=2)
        assert view.shape == (2, 3, *FRAME_SHAPE)
    want = expected(counts, 6, skipped={1, 2, 4, 5})
    assert np.array_equal(np.asarray(view), want)
    assert np.array_equal(view[1, 0], frame_for(3))
    assert not view[0, 1].any()


@pytest.mark.parametrize("kind", CONTENT_KINDS)
def test_unbounded_first_axis(kind: str, tmp_path: Path) -> None:
    settings = settings_for(kind, "tc", tmp_path, sizes={"t": None, "c": 2})
    with create_stream(settings) as stream:
        dynamic = stream.view()
        declared = stream.view(dynamic_shape=False)
        strict = stream.view(strict=True)
        assert dynamic.shape == (0, 0, *FRAME_SHAPE)
        assert declared.shape == (0, 2, *FRAME_SHAPE)
        write(stream, 0, 7)
        stream.flush()
        assert dynamic.shape == declared.shape == (4, 2, *FRAME_SHAPE)
        assert dynamic.coords["t"] == range(4)
        want = expected((4, 2), 7)
        assert np.array_equal(np.asarray(dynamic), want)
        assert np.array_equal(dynamic[3, 0], frame_for(6))
        assert not dynamic[3, 1].any()  # not written yet
        assert not dynamic[50, 1].any()  # far beyond: zeros, no error
        with pytest.raises(IndexError, match="out of bounds"):
            strict[4, 0]
        write(stream, 7, 12)
    assert dynamic.shape == (6, 2, *FRAME_SHAPE)
    assert np.array_equal(np.asarray(dynamic), expected((6, 2), 12))


@pytest.mark.parametrize("kind", CONTENT_KINDS)
def test_storage_order_acquisition_and_explicit(kind: str, tmp_path: Path) -> None:
    """The view is in acquisition order whatever the storage order.

    Zarr axes must follow OME-NGFF (time, channel, space), so the orders are
    z,t,c acquired and stored as listed t,c,z, and c,t,z stored as acquired for
    the formats that allow it (OME-Zarr refuses c before t, as 0.3.2 does; OME-TIFF
    takes any storage order and keeps its planes in acquisition order).
    """
    cases: list[tuple[str, Any]] = [("ztc", ["t", "c", "z", "y", "x"]), ("ctz", "acquisition")]
    for i, (order, storage_order) in enumerate(cases):
        settings = settings_for(kind, order, tmp_path / str(i), storage_order=storage_order)
        counts = counts_of(settings, settings.num_frames or 0)
        if kind == "zarr" and storage_order == "acquisition":
            with pytest.raises(ValueError, match="required order by type"):
                create_stream(settings)
            continue
        with create_stream(settings) as stream:
            write(stream, 0, prod(counts))
        assert np.array_equal(np.asarray(stream.view()), expected(counts, prod(counts)))


@pytest.mark.parametrize("kind", CONTENT_KINDS)
def test_view_reads_only_through_engine(kind: str, tmp_path: Path) -> None:
    settings = settings_for(kind, "tc", tmp_path)
    calls: list[tuple[int, tuple[int, ...]]] = []
    with create_stream(settings) as stream:
        engine = stream._engine_impl
        original = engine.read_frame

        def spy(position: int, storage_index: tuple[int, ...]) -> np.ndarray | None:
            calls.append((position, tuple(storage_index)))
            return original(position, storage_index)

        engine.read_frame = spy  # type: ignore[method-assign]
        write(stream, 0, 4)
        stream.flush()
        view = stream.view()
        assert np.array_equal(view[1, 0], frame_for(3))
        # Frames not appended yet are never requested from the engine.
        assert not view[1, 2].any()
        assert calls == [engine.locate(3)]


# ---------------------------------------------------------- shape and dims


@pytest.mark.parametrize("kind", KINDS)
def test_dynamic_shape_grows_with_high_water_mark(kind: str, tmp_path: Path) -> None:
    settings = settings_for(kind, "tpc", tmp_path, sizes={"p": ["A", "B"], "c": 2, "t": 3})
    with create_stream(settings) as stream:
        view = stream.view()
        assert view.dims == ("t", "p", "c", "y", "x")
        assert view.shape == (0, 0, 0, *FRAME_SHAPE)
        assert len(view) == 0
        assert view.coords["p"] == []
        steps = [
            ((1, 1, 1), ["A"]),
            ((1, 1, 2), ["A"]),
            ((1, 2, 2), ["A", "B"]),
            ((1, 2, 2), ["A", "B"]),
            ((2, 2, 2), ["A", "B"]),
        ]
        for n, (outer, positions) in enumerate(steps):
            stream.append(frame_for(n))
            assert view.shape == (*outer, *FRAME_SHAPE)
            assert view.coords["p"] == positions
            assert view.coords["t"] == range(outer[0])
            assert view.coords["y"] == range(FRAME_SHAPE[0])
            assert view.ndim == 5
            assert len(view) == outer[0]


@pytest.mark.parametrize("kind", KINDS)
def test_declared_shape_and_metadata(kind: str, tmp_path: Path) -> None:
    settings = settings_for(kind, "ptc", tmp_path)
    with create_stream(settings) as stream:
        view = stream.view(dynamic_shape=False)
        assert isinstance(view, StreamView)
        assert view.shape == (2, 2, 3, *FRAME_SHAPE) == settings.shape
        assert view.dims == ("p", "t", "c", "y", "x")
        assert view.dtype == np.dtype("uint16")
        assert view.ndim == 5
        assert len(view) == 2
        assert dict(view.coords) == {
            "p": ["A", "B"],
            "t": range(2),
            "c": range(3),
            "y": range(4),
            "x": range(5),
        }
        assert "StreamView" in repr(view)
        stream.append(frame_for(0))
        assert view.shape == settings.shape
        # Reads of frames never written are zeros, whatever the format.
        assert view[1, 1, 2].shape == FRAME_SHAPE
        assert not view[1, 1, 2].any()
    assert stream.view(dynamic_shape=False).shape == settings.shape
    assert stream.view().shape == (1, 1, 1, *FRAME_SHAPE)


@pytest.mark.parametrize("kind", KINDS)
def test_view_created_mid_acquisition(kind: str, tmp_path: Path) -> None:
    settings = settings_for(kind, "tc", tmp_path)
    with create_stream(settings) as stream:
        write(stream, 0, 4)
        first = stream.view()
        second = stream.view()
        assert first.shape == second.shape == (2, 3, *FRAME_SHAPE)
        stream.append(frame_for(4))
        assert first.shape == second.shape == (2, 3, *FRAME_SHAPE)


@pytest.mark.parametrize("kind", KINDS)
def test_strict_bounds(kind: str, tmp_path: Path) -> None:
    settings = settings_for(kind, "tc", tmp_path)
    with create_stream(settings) as stream:
        strict = stream.view(strict=True)
        loose = stream.view()
        stream.append(frame_for(0))  # live shape (1, 1)
        assert strict[0, 0].shape == FRAME_SHAPE
        assert strict[-1, 0].shape == FRAME_SHAPE
        for key in [(1, 0), (0, 1), (-2, 0), (0, -2)]:
            with pytest.raises(IndexError, match="out of bounds"):
                strict[key]
        # Without strict, indices past the live size but inside the declared size
        # read zeros; past the declared size they are errors.
        assert not loose[1, 2].any()
        with pytest.raises(IndexError):
            loose[2, 0]
        with pytest.raises(IndexError):
            loose[0, 3]
        with pytest.raises(IndexError):
            loose[-2, 0]
        assert strict[:, :].shape == (1, 1, *FRAME_SHAPE)
        assert strict[5:, :].shape == (0, 1, *FRAME_SHAPE)


def test_only_frame_dimensions() -> None:
    settings = AcquisitionSettings(
        format="scratch",
        dimensions=dims_from_standard_axes({"y": 4, "x": 5}),
        dtype="uint16",
    )
    with create_stream(settings) as stream:
        view = stream.view()
        assert view.shape == FRAME_SHAPE
        assert not view[...].any()
        stream.append(frame_for(0))
    assert np.array_equal(view[...], frame_for(0))
    assert np.array_equal(view[1:, -1], frame_for(0)[1:, -1])


# --------------------------------------------------------- invalid indices


@pytest.mark.parametrize(
    ("key", "error", "phrase"),
    [
        ((0, 0, 0, 0, 0, 0), IndexError,
         "too many indices for array: array is 5-dimensional, but 6 were indexed"),
        ([0, 1], TypeError, "Invalid index type: <class 'list'>"),
        (np.array([0, 1]), TypeError, "Invalid index type: <class 'numpy.ndarray'>"),
        ((0, [0, 1]), TypeError, "Invalid index type: <class 'list'>"),
        (1.0, TypeError, "Invalid index type: <class 'float'>"),
        ("t", TypeError, "Invalid index type: <class 'str'>"),
        (None, TypeError, "Invalid index type: <class 'NoneType'>"),
        (True, TypeError, "Invalid index type: <class 'bool'>"),
        (slice(0.5, 2), TypeError,
         "slice indices must be integers or None or have an __index__ method"),
        ((5,), IndexError, "index 5 is out of bounds for axis 0 with size 2"),
        ((0, 0, 0, 9), IndexError, "index 9 is out of bounds for axis 3 with size 4"),
        ((0, 0, 0, slice(None), -6), IndexError,
         "index -6 is out of bounds for axis 4 with size 5"),
        # ours only: 0.3.2 supports no '...' at all (TypeError)
        ((..., ...), IndexError, "an index can only have a single ellipsis"),
    ],
    ids=repr,
)  # fmt: skip
def test_invalid_keys(key: Any, error: type[Exception], phrase: str) -> None:
    """0.3.2's view raises these classes with these phrases (its wording for
    out-of-range integers varies with the backend; these are tifffile's and
    numpy's); users match on them, so ours start the same way.

    (This test used to expect IndexError for list and array keys; 0.3.2 raises
    TypeError "Invalid index type".)
    """
    settings = settings_for("scratch", "tcz", Path())
    with create_stream(settings) as stream:
        write(stream, 0, 3)
        view = stream.view()
        with pytest.raises(error, match=re.escape(phrase)):
            view[key]


@pytest.mark.parametrize("kind", KINDS)
def test_out_of_range_messages(kind: str, tmp_path: Path) -> None:
    """0.3.2: a position index out of range raises IndexError "Position index 7 is
    out of bounds for size 2"; with strict=True any integer outside the live shape
    raises IndexError "Index 5 is out of bounds for live dimension 't' with size 2";
    np.asarray(view, copy=False) raises ValueError "Zero-copy array conversion is
    not supported."."""
    settings = settings_for(kind, "tpc", tmp_path)
    with create_stream(settings) as stream:
        write(stream, 0, 8)  # live shape (2, 2, 3): t=1 is partly written
        loose, strict = stream.view(), stream.view(strict=True)
        for key, index in [((0, 7), 7), ((0, -7), -7)]:
            with pytest.raises(
                IndexError, match=f"Position index {index} is out of bounds for size 2"
            ):
                loose[key]
        cases = [((5,), "Index 5", "'t'", 2), ((-3,), "Index -3", "'t'", 2),
                 ((0, 2), "Index 2", "'p'", 2), ((0, 0, 0, 4), "Index 4", "'y'", 4)]  # fmt: skip
        for key, index, name, size in cases:
            phrase = f"{index} is out of bounds for live dimension {name} with size {size}"
            with pytest.raises(IndexError, match=re.escape(phrase)):
                strict[key]
        with pytest.raises(
            ValueError, match=re.escape("Zero-copy array conversion is not supported.")
        ):
            np.asarray(loose, copy=False)
        assert np.array_equal(loose[1, 0, 1], frame_for(7))
        assert not loose[1, 1, 0].any()  # inside the live shape, not written yet: zeros


def test_numpy_integer_indices_are_accepted() -> None:
    settings = settings_for("scratch", "tc", Path())
    with create_stream(settings) as stream:
        write(stream, 0, 6)
    view = stream.view()
    assert np.array_equal(view[np.int64(1), np.uint8(2)], frame_for(5))


# ------------------------------------------------------------ __array__


def test_array_protocol() -> None:
    settings = settings_for("scratch", "tc", Path())
    with create_stream(settings) as stream:
        write(stream, 0, 6)
    view = stream.view()
    as_float = np.asarray(view, dtype=np.float32)
    assert as_float.dtype == np.float32
    assert as_float.shape == view.shape
    assert np.array_equal(as_float, expected((2, 3), 6).astype(np.float32))
    assert np.array(view).dtype == np.uint16
    with pytest.raises(ValueError, match="copy"):
        view.__array__(copy=False)
    copied = view.__array__(copy=True)
    copied[...] = 0  # a fresh array: the view is unaffected
    assert view[0, 0].any()


# ------------------------------------------------------ coords_changed


def test_coords_changed_signal_object() -> None:
    settings = settings_for("scratch", "tc", Path())
    with create_stream(settings) as stream:
        view = stream.view()
        calls: list[str] = []

        def first() -> None:
            calls.append("first")

        assert view.coords_changed.connect(first) is first
        view.coords_changed.connect(lambda: calls.append("second"))
        view.coords_changed.emit()
        assert calls == ["first", "second"]
        view.coords_changed.disconnect(first)
        view.coords_changed.emit()
        assert calls == ["first", "second", "second"]
        with pytest.raises(ValueError):
            view.coords_changed.disconnect(first)


@pytest.mark.parametrize("kind", KINDS)
def test_coords_changed_emitted_when_shape_grows(kind: str, tmp_path: Path) -> None:
    settings = settings_for(kind, "tc", tmp_path)
    with create_stream(settings) as stream:
        view = stream.view()
        shapes: list[tuple[int, ...]] = []
        view.coords_changed.connect(lambda: shapes.append(view.shape))
        stream.append(frame_for(0))
        wait_events(stream)
        assert len(shapes) == 1
        stream.append(frame_for(1))  # c grows
        stream.append(frame_for(2))  # c grows
        stream.append(frame_for(3))  # t grows
        stream.append(frame_for(4))  # nothing grows
        wait_events(stream)
        # Events run on a pool and may be coalesced, never invented.
        assert 2 <= len(shapes) <= 4
        assert (2, 3, *FRAME_SHAPE) in shapes  # the t expansion always reports the new shape
        assert view.shape == (2, 3, *FRAME_SHAPE)
        count = len(shapes)
        stream.append(frame_for(5))
        wait_events(stream)
        assert len(shapes) == count


def test_coords_changed_declared_shape_only_for_unbounded() -> None:
    bounded = settings_for("scratch", "tc", Path())
    with create_stream(bounded) as stream:
        view = stream.view(dynamic_shape=False)
        assert stream._tracker is None  # nothing to notify: no tracker needed
        write(stream, 0, 3)
    unbounded = settings_for("scratch", "tc", Path(), sizes={"t": None})
    with create_stream(unbounded) as stream:
        view = stream.view(dynamic_shape=False)
        calls: list[int] = []
        view.coords_changed.connect(lambda: calls.append(1))
        write(stream, 0, 2)  # only c grows: the declared shape does not change
        wait_events(stream)
        assert calls == [1]  # t went from 0 to 1
        write(stream, 2, 7)
        wait_events(stream)
        assert 2 <= len(calls) <= 3


def test_dropped_view_is_not_kept_alive() -> None:
    import gc
    import weakref

    settings = settings_for("scratch", "tc", Path())
    with create_stream(settings) as stream:
        ref = weakref.ref(stream.view())
        gc.collect()
        assert ref() is None
        write(stream, 0, 6)  # events for the dead view are ignored
        wait_events(stream)
