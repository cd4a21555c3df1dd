"""Coordinate tracking: frame-number arithmetic, high-water marks and `OMEStream.on` events."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
from math import prod
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ome_writers import (
    AcquisitionSettings,
    Channel,
    CoordUpdate,
    Dimension,
    Position,
    create_stream,
)
from ome_writers._coord_tracker import AcquisitionGrid, CoordTracker
from ome_writers._stream import OMEStream

FRAME = np.zeros((4, 4), dtype=np.uint16)
YX = [Dimension(name="y", count=4, type="space"), Dimension(name="x", count=4, type="space")]


def settings_with(*dims: Dimension, root: str = "") -> AcquisitionSettings:
    return AcquisitionSettings(
        root_path=root,
        format="scratch" if not root else "auto",
        dimensions=[*dims, *YX],
        dtype="uint16",
    )


def tc_settings(root: str = "") -> AcquisitionSettings:
    return settings_with(
        Dimension(name="t", count=3, type="time"),
        Dimension(name="c", count=2, type="channel"),
        root=root,
    )


class Recorder:
    """Collects updates from the event threads."""

    def __init__(self) -> None:
        self.updates: list[CoordUpdate] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, update: CoordUpdate) -> None:
        with self._lock:
            self.updates.append(update)
            self.threads.add(threading.current_thread().name)

    def sorted(self) -> list[CoordUpdate]:
        with self._lock:
            return sorted(self.updates, key=lambda u: u.frame_number)


def wait(stream: OMEStream) -> None:
    assert stream._tracker is not None
    assert stream._tracker.wait(timeout=10)


def root_for(kind: str, tmp_path: Path) -> str:
    return {"scratch": "", "zarr": str(tmp_path / "a.ome.zarr"), "tiff": str(tmp_path / "a.tif")}[
        kind
    ]


# ------------------------------------------------------------ AcquisitionGrid

GRID_CASES = [
    (3, 2),
    (2, 3, 4),
    (1, 5),
    (4,),
    (),
    (None, 3),
    (None,),
    (None, 2, 3),
]


def grid_for(counts: tuple[int | None, ...]) -> AcquisitionGrid:
    dims = [Dimension(name=f"d{i}", count=c, type="other") for i, c in enumerate(counts)]
    return AcquisitionGrid(settings_with(*dims))


@pytest.mark.parametrize("counts", GRID_CASES, ids=str)
def test_grid_indices_follow_c_order(counts: tuple[int | None, ...]) -> None:
    grid = grid_for(counts)
    # Bounded stand-in for an unbounded first axis: 5 outer steps.
    shape = tuple(5 if c is None else c for c in counts)
    for n, index in enumerate(np.ndindex(*shape)):
        assert grid.indices(n) == index
        assert grid.frame_number(index) == n
    assert grid.num_frames == (None if None in counts else prod(shape))


@pytest.mark.parametrize("counts", GRID_CASES, ids=str)
def test_grid_extents_are_high_water_marks(counts: tuple[int | None, ...]) -> None:
    grid = grid_for(counts)
    shape = tuple(5 if c is None else c for c in counts)
    seen = [0] * len(shape)
    assert grid.extents(0) == tuple(seen)
    for n, index in enumerate(itertools.islice(np.ndindex(*shape), prod(shape))):
        seen = [max(s, i + 1) for s, i in zip(seen, index, strict=True)]
        assert grid.extents(n + 1) == tuple(seen), n


def test_grid_unbounded_beyond_any_sentinel() -> None:
    grid = grid_for((None, 2))
    assert grid.indices(2 * 123_456 + 1) == (123_456, 1)
    assert grid.extents(2 * 123_456 + 1) == (123_457, 2)
    with pytest.raises(IndexError):
        grid.indices(-1)


def test_grid_coords_use_names() -> None:
    settings = settings_with(
        Dimension(name="p", type="position", coords=[Position(name="A1"), Position(name="B2")]),
        Dimension(name="c", coords=[Channel(name="DAPI"), Channel(name="GFP"), "RFP"]),
        Dimension(name="z", count=2, coords=[0.5, 1.5]),
    )
    grid = AcquisitionGrid(settings)
    assert grid.coords(grid.extents(6)) == {
        "p": ["A1"],
        "c": ["DAPI", "GFP", "RFP"],
        "z": [0.5, 1.5],
        "y": range(4),
        "x": range(4),
    }


# --------------------------------------------------------------- CoordTracker


def test_tracker_events_and_update_fields() -> None:
    tracker = CoordTracker(tc_settings())
    expanded, changed = Recorder(), Recorder()
    tracker.connect("coords_expanded", expanded)
    tracker.connect("coords_changed", changed)
    try:
        for n in range(6):
            tracker.update(n)
        assert tracker.wait(timeout=10)
    finally:
        tracker.shutdown()
    assert [u.frame_number for u in changed.sorted()] == list(range(6))
    # t0c0, t0c1 (c grows), t1c0 (t grows), t2c0 (t grows)
    assert [u.frame_number for u in expanded.sorted()] == [0, 1, 2, 4]
    assert [u.is_high_water_mark for u in changed.sorted()] == [
        True,
        True,
        True,
        False,
        True,
        False,
    ]
    last = changed.sorted()[-1]
    assert dict(last.current_indices) == {"t": 2, "c": 1, "y": 0, "x": 0}
    assert dict(last.max_coords) == {"t": range(3), "c": range(2), "y": range(4), "x": range(4)}
    third = expanded.sorted()[2]
    assert third.frame_number == 2
    assert dict(third.current_indices) == {"t": 1, "c": 0, "y": 0, "x": 0}
    assert third.max_coords["t"] == range(2)
    assert third.max_coords["c"] == range(2)
    assert list(last.max_coords) == ["t", "c", "y", "x"]


def test_tracker_catch_up_without_emitting() -> None:
    tracker = CoordTracker(tc_settings())
    recorder = Recorder()
    tracker.connect("coords_changed", recorder)
    try:
        for n in range(3):
            tracker.update(n, emit=False)
        assert tracker.max_coords()["t"] == range(2)
        assert tracker.max_coords()["c"] == range(2)
        tracker.update(3)
        assert tracker.wait(timeout=10)
    finally:
        tracker.shutdown()
    [update] = recorder.updates
    assert update.frame_number == 3
    assert not update.is_high_water_mark


def test_tracker_callbacks_run_off_the_calling_thread() -> None:
    tracker = CoordTracker(tc_settings())
    recorder = Recorder()
    tracker.connect("coords_changed", recorder)
    try:
        for n in range(6):
            tracker.update(n)
        assert tracker.wait(timeout=10)
    finally:
        tracker.shutdown()
    assert recorder.threads
    assert threading.current_thread().name not in recorder.threads


def test_tracker_callback_errors_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    tracker = CoordTracker(tc_settings())
    recorder = Recorder()

    def broken(update: CoordUpdate) -> None:
        raise RuntimeError("boom")

    tracker.connect("coords_changed", broken)
    tracker.connect("coords_changed", recorder)
    try:
        with caplog.at_level(logging.ERROR, logger="ome_writers"):
            tracker.update(0)
            tracker.update(1)
            assert tracker.wait(timeout=10)
    finally:
        tracker.shutdown()
    assert len(recorder.updates) == 2
    assert sum("boom" in (r.exc_text or "") for r in caplog.records) == 2


def test_tracker_shutdown_stops_events() -> None:
    tracker = CoordTracker(tc_settings())
    recorder = Recorder()
    tracker.connect("coords_changed", recorder)
    tracker.shutdown()
    tracker.update(0)  # no error, nothing submitted
    assert tracker.wait(timeout=1)
    assert recorder.updates == []
    assert tracker.max_coords()["t"] == range(1)


def test_tracker_rejects_unknown_event() -> None:
    tracker = CoordTracker(tc_settings())
    try:
        with pytest.raises(ValueError, match="Unknown event"):
            tracker.connect("frame_written", Recorder())  # type: ignore[arg-type]
    finally:
        tracker.shutdown()


def test_coord_update_is_frozen() -> None:
    update = CoordUpdate(
        max_coords={"t": range(1)},
        current_indices={"t": 0},
        frame_number=0,
        is_high_water_mark=True,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        update.frame_number = 1  # type: ignore[misc]


# ------------------------------------------------------- through OMEStream


@pytest.mark.parametrize("kind", ["scratch", "zarr", "tiff"])
def test_stream_events(kind: str, tmp_path: Path) -> None:
    expanded, changed = Recorder(), Recorder()
    with create_stream(tc_settings(root_for(kind, tmp_path))) as stream:
        assert stream._tracker is None
        stream.on("coords_expanded", expanded)
        stream.on("coords_changed", changed)
        assert stream._tracker is not None
        stream.append(FRAME)  # t0 c0
        wait(stream)
        assert len(expanded.updates) == len(changed.updates) == 1
        first = expanded.updates[0]
        assert first.max_coords["t"] == range(1)
        assert first.max_coords["c"] == range(1)
        assert first.is_high_water_mark
        stream.append(FRAME)  # t0 c1: c grows
        stream.append(FRAME)  # t1 c0: t grows
        stream.append(FRAME)  # t1 c1: nothing grows
        wait(stream)
        assert len(expanded.updates) == 3
        assert len(changed.updates) == 4
        stream.skip(frames=2)  # t2 c0 grows t; t2 c1 does not
        wait(stream)
    assert [u.frame_number for u in expanded.sorted()] == [0, 1, 2, 4]
    assert [u.frame_number for u in changed.sorted()] == list(range(6))
    assert expanded.sorted()[-1].max_coords["t"] == range(3)


def test_no_tracker_without_listeners() -> None:
    with create_stream(tc_settings()) as stream:
        stream.append(FRAME)
        stream.append(FRAME)
        assert stream._tracker is None
        assert stream.frames_appended == 2


def test_listener_registered_mid_acquisition() -> None:
    expanded, changed = Recorder(), Recorder()
    with create_stream(tc_settings()) as stream:
        for _ in range(3):  # t0c0, t0c1, t1c0
            stream.append(FRAME)
        stream.on("coords_expanded", expanded)
        stream.on("coords_changed", changed)
        assert stream._tracker is not None
        assert stream._tracker.max_coords()["t"] == range(2)
        assert stream._tracker.max_coords()["c"] == range(2)
        stream.append(FRAME)  # t1c1: no expansion
        wait(stream)
        assert expanded.updates == []
        assert len(changed.updates) == 1
        stream.append(FRAME)  # t2c0
        wait(stream)
    [update] = expanded.updates
    assert update.frame_number == 4
    assert update.max_coords["t"] == range(3)


def test_stream_on_rejects_unknown_event() -> None:
    with create_stream(tc_settings()) as stream, pytest.raises(ValueError, match="Unknown event"):
        stream.on("frame_written", Recorder())  # type: ignore[arg-type]


def test_names_positions_and_unbounded() -> None:
    settings = settings_with(
        Dimension(name="t", count=None, type="time"),
        Dimension(name="p", type="position", coords=["left", "right"]),
        Dimension(name="c", coords=[Channel(name="DAPI"), Channel(name="GFP")]),
    )
    recorder = Recorder()
    with create_stream(settings) as stream:
        stream.on("coords_expanded", recorder)
        for _ in range(11):
            stream.append(FRAME)
        wait(stream)
    updates = recorder.sorted()
    # t0: p0c0, p0c1 (c), p1c0 (p); then each new t: frames 4, 8
    assert [u.frame_number for u in updates] == [0, 1, 2, 4, 8]
    last = updates[-1]
    assert last.max_coords["p"] == ["left", "right"]
    assert last.max_coords["c"] == ["DAPI", "GFP"]
    assert last.max_coords["t"] == range(3)
    assert dict(last.current_indices) == {"t": 2, "p": 0, "c": 0, "y": 0, "x": 0}
    assert updates[0].max_coords["p"] == ["left"]


def test_close_shuts_the_event_pool_down() -> None:
    recorder = Recorder()
    stream = create_stream(tc_settings())
    stream.on("coords_changed", recorder)
    stream.append(FRAME)
    stream.close()
    tracker: Any = stream._tracker
    assert tracker is not None
    assert tracker.wait(timeout=10)
    assert len(recorder.updates) == 1
    tracker.update(1)  # after shutdown: ignored
    assert len(recorder.updates) == 1
