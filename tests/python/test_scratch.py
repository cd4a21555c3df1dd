"""The scratch engine: numpy arrays in memory, or memory-mapped files with a manifest."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ome_writers import (
    AcquisitionSettings,
    Position,
    ScratchFormat,
    create_stream,
    dims_from_standard_axes,
)
from ome_writers._scratch import ScratchEngine
from ome_writers._stream import OMEStream

SHAPE = (6, 8)


def frame(n: int) -> np.ndarray:
    """Frame number n: its own value everywhere, plus a ramp to catch transposes."""
    ramp = np.arange(SHAPE[0] * SHAPE[1], dtype=np.uint16).reshape(SHAPE)
    return ramp + np.uint16(1000 * (n + 1))


def make(sizes: dict[str, Any] | None = None, **kwargs: Any) -> AcquisitionSettings:
    axes: dict[str, Any] = dict(sizes or {"t": 3, "c": 2})
    axes.update(y=SHAPE[0], x=SHAPE[1])
    kwargs.setdefault("format", "scratch")
    if "root_path" in kwargs:
        kwargs["root_path"] = str(kwargs["root_path"])
    return AcquisitionSettings(dimensions=dims_from_standard_axes(axes), dtype="uint16", **kwargs)


def engine_of(stream: OMEStream) -> ScratchEngine:
    engine = stream._engine_impl
    assert isinstance(engine, ScratchEngine)
    return engine


def memmap(root: Path, position: int) -> np.ndarray:
    """Read a position's file the way an outside reader would: from the manifest."""
    manifest = json.loads((root / "manifest.json").read_text())
    shape = tuple(manifest["position_shapes"][position])
    return np.array(
        np.memmap(root / f"pos_{position}.dat", dtype=manifest["dtype"], mode="r", shape=shape)
    )


# ------------------------------------------------------------------ in memory


def test_in_memory_round_trip() -> None:
    with create_stream(make()) as stream:
        engine = engine_of(stream)
        assert engine.root is None
        for n in range(6):
            stream.append(frame(n))
        for n in range(6):
            position, index = engine.locate(n)
            assert position == 0
            assert index == divmod(n, 2)
            got = engine.read_frame(position, index)
            assert got is not None
            assert np.array_equal(got, frame(n))
    # In memory the data outlives close().
    got = engine.read_frame(0, (2, 1))
    assert got is not None
    assert np.array_equal(got, frame(5))
    assert engine.get_metadata() is None
    assert stream.get_metadata() is None


def test_read_frame_returns_a_copy() -> None:
    with create_stream(make()) as stream:
        stream.append(frame(0))
        got = engine_of(stream).read_frame(0, (0, 0))
        assert got is not None
        got[...] = 0
        again = engine_of(stream).read_frame(0, (0, 0))
        assert again is not None
        assert np.array_equal(again, frame(0))


def test_positions_are_separate_arrays() -> None:
    settings = make({"t": 2, "p": [Position(name="A"), Position(name="B")], "c": 2})
    with create_stream(settings) as stream:
        engine = engine_of(stream)
        for n in range(8):
            stream.append(frame(n))
        # acquisition order: t0pAc0, t0pAc1, t0pBc0, t0pBc1, t1pAc0, ...
        assert [engine.locate(n) for n in range(8)] == [
            (0, (0, 0)),
            (0, (0, 1)),
            (1, (0, 0)),
            (1, (0, 1)),
            (0, (1, 0)),
            (0, (1, 1)),
            (1, (1, 0)),
            (1, (1, 1)),
        ]
        for n in range(8):
            got = engine.read_frame(*engine.locate(n))
            assert got is not None
            assert np.array_equal(got, frame(n))
        assert engine.position_shapes() == [[2, 2, *SHAPE], [2, 2, *SHAPE]]


def test_locate_bounds() -> None:
    with create_stream(make()) as stream:
        engine = engine_of(stream)
        with pytest.raises(IndexError):
            engine.locate(6)
        with pytest.raises(IndexError):
            engine.locate(-1)
        assert engine.read_frame(0, (3, 0)) is None
        assert engine.read_frame(1, (0, 0)) is None
        assert engine.read_frame(0, (0,)) is None


def test_unbounded_axis_grows_by_half() -> None:
    with create_stream(make({"t": None, "c": 2})) as stream:
        engine = engine_of(stream)
        assert engine.position_shapes() == [[1, 2, *SHAPE]]
        capacities = []
        for n in range(40):
            stream.append(frame(n))
            capacities.append(engine._arrays[0].shape[0])
        assert engine.position_shapes() == [[20, 2, *SHAPE]]
        # Amortised growth: few reallocations, each at least x1.5.
        distinct = sorted(set(capacities))
        assert len(distinct) <= 9
        for small, big in itertools.pairwise(distinct):
            assert big >= int(small * 1.5)
        for n in range(40):
            got = engine.read_frame(*engine.locate(n))
            assert got is not None
            assert np.array_equal(got, frame(n))
        # Beyond the logical extent nothing was written, whatever the capacity.
        assert engine.read_frame(0, (20, 0)) is None


def test_skip_leaves_zeros() -> None:
    with create_stream(make()) as stream:
        stream.append(frame(0))
        stream.skip(frames=1)
        stream.append(frame(2))
        stream.skip(frames=3)
        assert stream.stats()["frames_written"] == 2
        assert stream.stats()["frames_appended"] == 6
    view = stream.view()
    assert view.shape == (3, 2, *SHAPE)
    data = np.asarray(view)
    assert np.array_equal(data[0, 0], frame(0))
    assert np.array_equal(data[1, 0], frame(2))
    assert not data[0, 1].any()
    assert not data[1, 1].any()
    assert not data[2].any()


def test_skip_grows_unbounded_axis() -> None:
    with create_stream(make({"t": None})) as stream:
        stream.append(frame(0))
        stream.skip(frames=5)
        stream.append(frame(6))
        assert engine_of(stream).position_shapes() == [[7, *SHAPE]]
        data = np.asarray(stream.view())
    assert data.shape == (7, *SHAPE)
    assert np.array_equal(data[6], frame(6))
    assert not data[1:6].any()


def test_storage_order_is_acquisition_order_by_default() -> None:
    settings = make({"c": 2, "t": 3})
    assert [d.name for d in settings.storage_index_dimensions] == ["c", "t"]
    with create_stream(settings) as stream:
        engine = engine_of(stream)
        assert engine.locate(1) == (0, (0, 1))
        for n in range(6):
            stream.append(frame(n))
        assert engine.position_shapes() == [[2, 3, *SHAPE]]


def test_explicit_storage_order_is_honoured() -> None:
    settings = make({"t": 3, "c": 2}, storage_order=["c", "t", "y", "x"])
    with create_stream(settings) as stream:
        engine = engine_of(stream)
        for n in range(6):
            stream.append(frame(n))
        assert engine.locate(1) == (0, (1, 0))  # t0 c1 stored at [c=1, t=0]
        assert engine.position_shapes() == [[2, 3, *SHAPE]]
        expected = np.stack([frame(n) for n in range(6)]).reshape(3, 2, *SHAPE)
        assert np.array_equal(np.asarray(stream.view()), expected)


def test_update_and_global_metadata_in_memory() -> None:
    with create_stream(make()) as stream:
        stream.update_metadata({"anything": 1})  # nothing to update: ignored
        stream.set_global_metadata("ns", {"k": "v"})
        assert engine_of(stream)._global_metadata == {"ns": {"k": "v"}}
        stream.append(frame(0), frame_metadata={"exposure_time": 1.0})  # not stored, no error


def test_events_on_scratch() -> None:
    seen: list[int] = []
    with create_stream(make()) as stream:
        stream.on("coords_changed", lambda u: seen.append(u.frame_number))
        for n in range(6):
            stream.append(frame(n))
        assert stream._tracker is not None
        assert stream._tracker.wait(timeout=10)
    assert sorted(seen) == list(range(6))


# ---------------------------------------------------------------- on disk


def test_disk_layout_and_manifest(tmp_path: Path) -> None:
    root = tmp_path / "scratch_run"
    with create_stream(make(root_path=root)) as stream:
        assert engine_of(stream).root == root
        for n in range(6):
            stream.append(frame(n))
    assert sorted(p.name for p in root.iterdir()) == [
        "frame_metadata.jsonl",
        "manifest.json",
        "pos_0.dat",
    ]
    manifest = json.loads((root / "manifest.json").read_text())
    from ome_writers import __version__

    assert manifest["version"] == __version__
    assert manifest["dtype"] == "uint16"
    assert [d["name"] for d in manifest["dimensions"]] == ["t", "c", "y", "x"]
    assert manifest["dimensions"][0]["type"] == "time"
    assert manifest["dimensions"][0]["count"] == 3
    assert manifest["format"]["name"] == "scratch"
    assert manifest["position_shapes"] == [[3, 2, *SHAPE]]
    assert manifest["global_metadata"] == {}
    data = memmap(root, 0)
    assert np.array_equal(data, np.stack([frame(n) for n in range(6)]).reshape(3, 2, *SHAPE))
    assert os.path.getsize(root / "pos_0.dat") == data.nbytes


def test_disk_multi_position(tmp_path: Path) -> None:
    root = tmp_path / "multi"
    settings = make({"p": [Position(name="A"), Position(name="B")], "t": 2}, root_path=root)
    with create_stream(settings) as stream:
        for n in range(4):
            stream.append(frame(n))
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["position_shapes"] == [[2, *SHAPE], [2, *SHAPE]]
    assert manifest["dimensions"][0]["type"] == "position"
    assert [c["name"] for c in manifest["dimensions"][0]["coords"]] == ["A", "B"]
    assert np.array_equal(memmap(root, 0), np.stack([frame(0), frame(1)]))
    assert np.array_equal(memmap(root, 1), np.stack([frame(2), frame(3)]))


def test_disk_unbounded_file_matches_manifest(tmp_path: Path) -> None:
    root = tmp_path / "unbounded"
    with create_stream(make({"t": None}, root_path=root)) as stream:
        for n in range(10):
            stream.append(frame(n))
        # Growth room exists while writing...
        assert engine_of(stream)._arrays[0].shape[0] >= 10
    # ...and is cut at close.
    data = memmap(root, 0)
    assert data.shape == (10, *SHAPE)
    assert os.path.getsize(root / "pos_0.dat") == data.nbytes
    assert np.array_equal(data, np.stack([frame(n) for n in range(10)]))


def test_disk_unbounded_axis_not_first_in_storage(tmp_path: Path) -> None:
    root = tmp_path / "permuted"
    settings = make({"t": None, "c": 2}, root_path=root, storage_order=["c", "t", "y", "x"])
    with create_stream(settings) as stream:
        view = stream.view()
        for n in range(9):
            stream.append(frame(n))
        expected = np.zeros((5, 2, *SHAPE), dtype=np.uint16)
        expected.reshape(-1, *SHAPE)[:9] = np.stack([frame(n) for n in range(9)])
        assert np.array_equal(np.asarray(view), expected)
    data = memmap(root, 0)  # stored as (c, t, y, x)
    assert data.shape == (2, 5, *SHAPE)
    assert np.array_equal(data, expected.transpose(1, 0, 2, 3))
    assert np.array_equal(np.asarray(view), expected)


def test_view_after_close_reads_the_files(tmp_path: Path) -> None:
    with create_stream(make({"t": None, "c": 2}, root_path=tmp_path / "v")) as stream:
        view = stream.view()
        for n in range(5):
            stream.append(frame(n))
    assert engine_of(stream)._arrays == [] or all(
        not a.flags.writeable for a in engine_of(stream)._arrays
    )
    assert view.shape == (3, 2, *SHAPE)
    assert np.array_equal(view[2, 0], frame(4))
    assert not view[2, 1].any()
    assert np.array_equal(view[-1, 0], frame(4))
    assert all(not a.flags.writeable for a in engine_of(stream)._arrays)


def test_flush_makes_the_directory_readable(tmp_path: Path) -> None:
    root = tmp_path / "live"
    with create_stream(make({"t": None}, root_path=root)) as stream:
        for n in range(4):
            stream.append(frame(n), frame_metadata={"n": n})
        stream.flush()
        manifest = json.loads((root / "manifest.json").read_text())
        assert manifest["position_shapes"] == [[4, *SHAPE]]
        assert np.array_equal(memmap(root, 0), np.stack([frame(n) for n in range(4)]))
        lines = (root / "frame_metadata.jsonl").read_text().splitlines()
        assert [json.loads(line)["n"] for line in lines] == [0, 1, 2, 3]


def test_frame_metadata_jsonl(tmp_path: Path) -> None:
    root = tmp_path / "meta"
    settings = make({"t": 2, "p": ["A", "B"], "c": 2}, root_path=root)
    with create_stream(settings) as stream:
        stream.append(frame(0))  # no metadata: no line
        stream.append(frame(1), frame_metadata={})  # empty: no line
        stream.append(frame(2), frame_metadata={"delta_t": 0.5, "exposure_time": 10.0})
        stream.skip(frames=2)
        stream.append(frame(5), frame_metadata={"delta_t": 1.5, "tags": ["a", 1]})
    lines = [json.loads(x) for x in (root / "frame_metadata.jsonl").read_text().splitlines()]
    assert lines == [
        {"_pos": 1, "_idx": [0, 0], "delta_t": 0.5, "exposure_time": 10.0},
        {"_pos": 0, "_idx": [1, 1], "delta_t": 1.5, "tags": ["a", 1]},
    ]


def test_global_metadata_in_manifest(tmp_path: Path) -> None:
    root = tmp_path / "g"
    summary = {"a": 1, "nested": {"b": [2, 3]}}
    with create_stream(make(root_path=root)) as stream:
        stream.set_global_metadata("pymmcore_plus", summary)
        stream.set_global_metadata("other", {"x": 1})
        # Written at once, not only at close.
        manifest = json.loads((root / "manifest.json").read_text())
        assert manifest["global_metadata"] == {"pymmcore_plus": summary, "other": {"x": 1}}
        stream.set_global_metadata("other", {"x": 2})
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["global_metadata"] == {"pymmcore_plus": summary, "other": {"x": 2}}


def test_existing_directory_needs_overwrite(tmp_path: Path) -> None:
    root = tmp_path / "exists"
    root.mkdir()
    (root / "stale.txt").write_text("old")
    with pytest.raises(FileExistsError, match="overwrite"):
        create_stream(make(root_path=root))
    assert (root / "stale.txt").exists()
    with create_stream(make(root_path=root, overwrite=True)) as stream:
        stream.append(frame(0))
    assert not (root / "stale.txt").exists()
    assert (root / "pos_0.dat").exists()


def test_spill_to_disk_over_budget() -> None:
    settings = make(format=ScratchFormat(max_memory_bytes=500))
    with pytest.warns(UserWarning, match="disk-backed storage"):
        stream = create_stream(settings)
    with stream:
        root = engine_of(stream).root
        assert root is not None
        assert (root / "manifest.json").exists()
        for n in range(6):
            stream.append(frame(n))
    assert np.array_equal(
        memmap(root, 0), np.stack([frame(n) for n in range(6)]).reshape(3, 2, *SHAPE)
    )


def test_over_budget_without_spill_raises() -> None:
    settings = make(format=ScratchFormat(max_memory_bytes=500, spill_to_disk=False))
    with pytest.raises(MemoryError, match="max_memory_bytes"):
        create_stream(settings)


def test_under_budget_stays_in_memory() -> None:
    nbytes = 3 * 2 * SHAPE[0] * SHAPE[1] * 2
    with create_stream(make(format=ScratchFormat(max_memory_bytes=nbytes))) as stream:
        assert engine_of(stream).root is None


def test_close_is_idempotent(tmp_path: Path) -> None:
    stream = create_stream(make(root_path=tmp_path / "c"))
    stream.append(frame(0))
    stream.close()
    stream.close()
    assert stream.closed
    engine_of(stream).close()
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["position_shapes"]
