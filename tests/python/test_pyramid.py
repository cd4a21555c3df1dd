"""Multiscale pyramids: every level read back equals a numpy reference downsampling."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import read_zarr_both
from ome_writers import (
    AcquisitionSettings,
    Dimension,
    Plate,
    Position,
    Pyramid,
    create_stream,
)

METHODS = ["mean", "min", "max", "decimate", "mode"]
DTYPES = ["uint8", "uint16", "float32"]


def frame(n: int, shape: tuple[int, int], dtype: str) -> np.ndarray:
    """Unique random content per frame, over the dtype's whole range (few values for floats)."""
    rng = np.random.default_rng(1000 + n)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        # Quarters: exact in float32, with halves and ties in the means.
        return (rng.integers(-4000, 4000, size=shape) / 4).astype(dt)
    if dt == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    info = np.iinfo(dt)
    return rng.integers(info.min, int(info.max) + 1, size=shape, dtype=np.int64).astype(dt)


def label_frame(n: int, shape: tuple[int, int], dtype: str) -> np.ndarray:
    """Few distinct values, so that the mode has ties and runs."""
    rng = np.random.default_rng(2000 + n)
    return rng.integers(0, 3, size=shape).astype(dtype)


def reduce_ref(x: np.ndarray, method: str, axes: tuple[int, ...]) -> np.ndarray:
    """One level down: halve `axes` (ceil), each block over the pixels that exist.

    Means sum in the engine's order: pairs along x, then rows (y), then planes (z).
    """
    out_shape = list(x.shape)
    for a in axes:
        out_shape[a] = (x.shape[a] + 1) // 2
    cands = []  # (values, exists), offsets in lexicographic order, x fastest
    for offs in itertools.product((0, 1), repeat=len(axes)):
        sl: list[Any] = [slice(None)] * x.ndim
        for a, o in zip(axes, offs, strict=True):
            sl[a] = slice(o, None, 2)
        part = x[tuple(sl)]
        vals = np.zeros(out_shape, dtype=x.dtype)
        ok = np.zeros(out_shape, dtype=bool)
        dst = tuple(slice(0, s) for s in part.shape)
        vals[dst] = part
        ok[dst] = True
        cands.append((vals, ok))
    if method == "decimate":
        return cands[0][0]
    if method in ("min", "max"):
        big = np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).max
        small = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        fill = big if method == "min" else small
        stack = np.stack([np.where(ok, v, fill) for v, ok in cands])
        return (stack.min(0) if method == "min" else stack.max(0)).astype(x.dtype)
    n = sum(ok.astype(np.int64) for _, ok in cands)
    if method == "mode":
        vals = np.stack([v for v, _ in cands]).astype(np.int64)
        oks = np.stack([ok for _, ok in cands])
        counts = np.stack([((vals == v) & oks).sum(0) for v in vals])
        counts = np.where(oks, counts, -1)
        best = counts.max(0)
        return np.where(counts == best, vals, np.iinfo(np.int64).max).min(0).astype(x.dtype)
    assert method == "mean"
    if x.dtype.kind == "f":
        acc = None
        for k in range(0, len(cands), 2):
            pair = cands[k][0].astype(np.float64) + cands[k + 1][0].astype(np.float64)
            acc = pair if acc is None else acc + pair
        assert acc is not None
        return (acc / n).astype(x.dtype)
    total = sum(v.astype(np.int64) for v, _ in cands)
    q = total // n
    r = total - q * n
    up = (2 * r > n) | ((2 * r == n) & (q % 2 == 1))
    return (q + up).astype(x.dtype)


def pyramid_ref(level0: np.ndarray, levels: int, method: str, axes: tuple[int, ...]) -> list:
    out = [level0]
    for _ in range(1, levels):
        out.append(reduce_ref(out[-1], method, axes))
    return out


def check_levels(
    group: Path, levels: int, method: str, axes: tuple[int, ...], expected0: np.ndarray | None
) -> None:
    arrays = [read_zarr_both(group / str(i)) for i in range(levels)]
    assert not (group / str(levels)).exists()
    if expected0 is not None:
        np.testing.assert_array_equal(arrays[0], expected0)
    ref = pyramid_ref(arrays[0], levels, method, axes)
    for i in range(1, levels):
        assert arrays[i].shape == ref[i].shape, f"level {i}"
        np.testing.assert_array_equal(arrays[i], ref[i], err_msg=f"level {i} ({method})")
    # Each level holds data: a reference of fill values would prove nothing.
    assert np.any(arrays[-1] != 0)


def validate_image(group: Path) -> dict:
    v05 = pytest.importorskip("ome_zarr_models.v05")
    zarr = pytest.importorskip("zarr")
    v05.Image.from_zarr(zarr.open_group(group, mode="r"))
    return json.loads((group / "zarr.json").read_text())["attributes"]["ome"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("size", [(37, 23), (32, 48)], ids=["odd", "even"])
def test_levels_match_numpy(tmp_path: Path, dtype: str, method: str, size) -> None:
    if method == "mode" and dtype == "float32":
        pytest.skip("mode is for label data")
    h, w = size
    s = AcquisitionSettings(
        root_path=str(tmp_path / "p.ome.zarr"),
        dtype=dtype,
        dimensions=[
            Dimension(name="t", count=2, type="time"),
            Dimension(name="c", count=2, type="channel"),
            Dimension(name="y", count=h, type="space", chunk_size=16),
            Dimension(name="x", count=w, type="space", chunk_size=16),
        ],
        pyramid=Pyramid(levels=4, method=method),
    )
    make = label_frame if method == "mode" else frame
    frames = [make(i, (h, w), dtype) for i in range(4)]
    with create_stream(s) as stream:
        for f in frames:
            stream.append(f)
    root = Path(s.output_path)
    check_levels(root, 4, method, (2, 3), np.stack(frames).reshape(2, 2, h, w))
    ome = validate_image(root)
    datasets = ome["multiscales"][0]["datasets"]
    assert [d["path"] for d in datasets] == ["0", "1", "2", "3"]
    for level, d in enumerate(datasets):
        scale = d["coordinateTransformations"][0]["scale"]
        assert scale == [1.0, 1.0, 2.0**level, 2.0**level]
        if method == "decimate":  # a decimated pixel is its block's first: no shift
            assert len(d["coordinateTransformations"]) == 1
        else:
            shift = (2.0**level - 1) / 2
            assert d["coordinateTransformations"][1]["translation"] == [0.0, 0.0, shift, shift]
    meta = json.loads((root / "3" / "zarr.json").read_text())
    assert meta["shape"] == [2, 2, -(-h // 8), -(-w // 8)]


@pytest.mark.parametrize("method", ["mean", "max", "mode"])
def test_z_downsampling(tmp_path: Path, method: str) -> None:
    # z acquired outside t: the two planes of a z pair arrive far apart.
    h, w = 21, 18
    s = AcquisitionSettings(
        root_path=str(tmp_path / "z.ome.zarr"),
        dtype="uint16",
        dimensions=[
            Dimension(name="z", count=5, type="space", chunk_size=2),
            Dimension(name="t", count=3, type="time"),
            Dimension(name="y", count=h, type="space"),
            Dimension(name="x", count=w, type="space"),
        ],
        pyramid=Pyramid(levels=3, method=method, downsample_z=True),
    )
    make = label_frame if method == "mode" else frame
    frames = [make(i, (h, w), "uint16") for i in range(15)]
    with create_stream(s) as stream:
        for f in frames:
            stream.append(f)
    root = Path(s.output_path)
    expected = np.stack(frames).reshape(5, 3, h, w).transpose(1, 0, 2, 3)  # stored t, z, y, x
    check_levels(root, 3, method, (1, 2, 3), expected)
    ome = validate_image(root)
    assert ome["multiscales"][0]["datasets"][2]["coordinateTransformations"][0]["scale"] == [
        1.0,
        4.0,
        4.0,
        4.0,
    ]
    assert json.loads((root / "2" / "zarr.json").read_text())["shape"] == [3, 2, 6, 5]


def test_sharded_compressed_unbounded_time(tmp_path: Path) -> None:
    h, w = 45, 30
    s = AcquisitionSettings(
        root_path=str(tmp_path / "u.ome.zarr"),
        dtype="uint16",
        dimensions=[
            Dimension(name="t", count=None, type="time", chunk_size=2, shard_size_chunks=2),
            Dimension(name="y", count=h, type="space", chunk_size=8, shard_size_chunks=2),
            Dimension(name="x", count=w, type="space", chunk_size=8, shard_size_chunks=2),
        ],
        compression="zstd",
        pyramid=Pyramid(levels="auto"),
    )
    frames = [frame(i, (h, w), "uint16") for i in range(7)]
    with create_stream(s) as stream:
        for f in frames:
            stream.append(f)
    root = Path(s.output_path)
    # auto: 45 -> 23 -> 12 -> 6 fits a chunk of 8.
    check_levels(root, 4, "mean", (1, 2), np.stack(frames))
    validate_image(root)
    meta = json.loads((root / "2" / "zarr.json").read_text())
    assert meta["shape"] == [7, 12, 8]
    assert meta["codecs"][0]["name"] == "sharding_indexed"


def test_positions_and_plate(tmp_path: Path) -> None:
    zarr = pytest.importorskip("zarr")
    v05 = pytest.importorskip("ome_zarr_models.v05")
    h, w = 19, 26
    positions = [
        Position(name="f0", plate_row="A", plate_column="1"),
        Position(name="f1", plate_row="A", plate_column="1"),
        Position(name="f0", plate_row="B", plate_column="2"),
    ]
    s = AcquisitionSettings(
        root_path=str(tmp_path / "plate.ome.zarr"),
        dtype="uint8",
        dimensions=[
            Dimension(name="t", count=2, type="time"),
            Dimension(name="p", type="position", coords=positions),
            Dimension(name="y", count=h, type="space"),
            Dimension(name="x", count=w, type="space"),
        ],
        plate=Plate(row_names=["A", "B"], column_names=["1", "2"]),
        pyramid=Pyramid(levels=3, method="max"),
    )
    frames = [frame(i, (h, w), "uint8") for i in range(6)]
    with create_stream(s) as stream:
        for f in frames:
            stream.append(f)
    root = Path(s.output_path)
    v05.HCS.from_zarr(zarr.open_group(root, mode="r"))
    for k, group in enumerate(["A/1/f0", "A/1/f1", "B/2/f0"]):
        expected = np.stack([frames[k], frames[3 + k]])
        check_levels(root / group, 3, "max", (1, 2), expected)
        validate_image(root / group)


def test_bioformats2raw_positions(tmp_path: Path) -> None:
    h, w = 16, 17
    s = AcquisitionSettings(
        root_path=str(tmp_path / "pos.ome.zarr"),
        dtype="float32",
        dimensions=[
            Dimension(name="p", type="position", coords=["a", "b"]),
            Dimension(name="y", count=h, type="space"),
            Dimension(name="x", count=w, type="space"),
        ],
        pyramid=2,
    )
    frames = [frame(i, (h, w), "float32") for i in range(2)]
    with create_stream(s) as stream:
        for f in frames:
            stream.append(f)
    root = Path(s.output_path)
    for k, group in enumerate(["a", "b"]):
        check_levels(root / group, 2, "mean", (0, 1), frames[k])
        validate_image(root / group)


def test_skipped_frames_read_as_fill(tmp_path: Path) -> None:
    """A frame that never arrives counts as zeros in the levels, as readers see it."""
    h, w = 12, 10
    s = AcquisitionSettings(
        root_path=str(tmp_path / "s.ome.zarr"),
        dtype="uint16",
        dimensions=[
            Dimension(name="z", count=4, type="space", chunk_size=2),
            Dimension(name="y", count=h, type="space"),
            Dimension(name="x", count=w, type="space"),
        ],
        pyramid=Pyramid(levels=2, downsample_z=True),
    )
    with create_stream(s) as stream:
        stream.append(frame(0, (h, w), "uint16"))
        stream.skip(frames=2)
        stream.append(frame(3, (h, w), "uint16"))
    check_levels(Path(s.output_path), 2, "mean", (0, 1, 2), None)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"levels": 0}, "got 0"),
        ({"levels": "many"}, "'many'"),
        ({"levels": 2.5}, "2.5"),
        ({"method": "median"}, "'median'"),
        ({"downsample_z": "yes"}, "downsample_z"),
    ],
)
def test_bad_pyramid_values(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        Pyramid(**kwargs)


def test_rules_that_need_the_geometry(tmp_path: Path) -> None:
    dims = [
        Dimension(name="z", count=3, type="space"),
        Dimension(name="y", count=40, type="space"),
        Dimension(name="x", count=40, type="space"),
    ]
    base = {"root_path": str(tmp_path / "g.ome.zarr"), "dtype": "uint8", "dimensions": dims}
    with pytest.raises(ValueError, match="pyramid levels 8 is out of range"):
        create_stream(AcquisitionSettings(**base, pyramid=8))
    with pytest.raises(ValueError, match="chunk_size above 1"):
        create_stream(AcquisitionSettings(**base, pyramid=Pyramid(levels=2, downsample_z=True)))
    with pytest.raises(ValueError, match="'mode' is for label data"):
        AcquisitionSettings(**{**base, "dtype": "float32"}, pyramid=Pyramid(method="mode"))
    with pytest.raises(ValueError, match="OME-TIFF levels"):
        AcquisitionSettings(
            **{**base, "root_path": str(tmp_path / "g.ome.tiff")},
            pyramid=Pyramid(levels=2, downsample_z=True),
        )


def test_default_is_no_pyramid(tmp_path: Path) -> None:
    s = AcquisitionSettings(
        root_path=str(tmp_path / "n.ome.zarr"),
        dtype="uint8",
        dimensions=[Dimension(name="y", count=8), Dimension(name="x", count=8)],
    )
    assert s.pyramid is None
    with create_stream(s) as stream:
        stream.append(np.ones((8, 8), np.uint8))
    root = Path(s.output_path)
    assert not (root / "1").exists()
    ome = json.loads((root / "zarr.json").read_text())["attributes"]["ome"]
    assert len(ome["multiscales"][0]["datasets"]) == 1


# --------------------------------------------------------------------------- TIFF


def tiff_levels(path: Path, series: int = 0) -> list[np.ndarray]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome
        s = tif.series[series]
        levels = [lv.asarray() for lv in s.levels]
        # Reduced planes are SubIFDs tagged as reduced images, out of the main chain.
        page = tif.pages[0]
        assert len(page.subifds or ()) == len(levels) - 1
        for lv in s.levels[1:]:
            assert lv.keyframe.subfiletype & 1  # FILETYPE_REDUCEDIMAGE
    return levels


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("size", [(37, 23), (32, 48)], ids=["odd", "even"])
def test_tiff_levels_match_numpy(tmp_path: Path, dtype: str, method: str, size) -> None:
    if method == "mode" and dtype == "float32":
        pytest.skip("mode is for label data")
    h, w = size
    s = AcquisitionSettings(
        root_path=str(tmp_path / "p.ome.tiff"),
        dtype=dtype,
        dimensions=[
            Dimension(name="t", count=2, type="time"),
            Dimension(name="c", count=2, type="channel"),
            Dimension(name="y", count=h, type="space"),
            Dimension(name="x", count=w, type="space"),
        ],
        pyramid=Pyramid(levels=4, method=method),
    )
    make = label_frame if method == "mode" else frame
    frames = [make(i, (h, w), dtype) for i in range(4)]
    with create_stream(s) as stream:
        for f in frames:
            stream.append(f)
    levels = tiff_levels(Path(s.output_path))
    assert len(levels) == 4
    full = np.stack(frames).reshape(2, 2, h, w)
    np.testing.assert_array_equal(levels[0], full)
    ref = pyramid_ref(full, 4, method, (2, 3))
    for i in range(1, 4):
        np.testing.assert_array_equal(levels[i], ref[i], err_msg=f"level {i} ({method})")
    import ome_types

    ome_types.from_tiff(s.output_path)  # the OME-XML stays valid


@pytest.mark.parametrize("compression", ["zstd", "lzw", "deflate"])
def test_tiff_compressed_positions_unbounded(tmp_path: Path, compression: str, ome_schema) -> None:
    h, w = 300, 150  # auto: 300 -> 150 fits 256
    s = AcquisitionSettings(
        root_path=str(tmp_path / "m.ome.tiff"),
        dtype="uint16",
        dimensions=[
            Dimension(name="t", count=None, type="time"),
            Dimension(name="p", type="position", coords=["a", "b"]),
            Dimension(name="y", count=h, type="space", scale=0.5, unit="micrometer"),
            Dimension(name="x", count=w, type="space", scale=0.5, unit="micrometer"),
        ],
        compression=compression,
        pyramid="auto",
    )
    frames = [frame(i, (h, w), "uint16") for i in range(6)]
    with create_stream(s) as stream:
        for f in frames:
            stream.append(f)
    out = Path(s.output_path)
    files = sorted(out.glob("*.ome.tiff"))
    assert len(files) == 2
    for k, path in enumerate(files):
        # Every file's OME-XML describes both images: series k is position k.
        levels = tiff_levels(path, series=k)
        assert len(levels) == 2
        full = np.stack(frames[k::2])
        np.testing.assert_array_equal(levels[0].reshape(full.shape), full)
        ref = reduce_ref(full, "mean", (1, 2))
        np.testing.assert_array_equal(levels[1].reshape(ref.shape), ref)
        import tifffile

        with tifffile.TiffFile(path) as tf:
            ome_schema.validate(tf.ome_metadata)  # the OME-XML stays valid


def test_tiff_single_file_positions_and_live_levels(tmp_path: Path) -> None:
    h, w = 20, 31
    s = AcquisitionSettings(
        root_path=str(tmp_path / "one.ome.tiff"),
        dtype="uint8",
        dimensions=[
            Dimension(name="p", type="position", coords=["a", "b"]),
            Dimension(name="z", count=3, type="space"),
            Dimension(name="y", count=h, type="space"),
            Dimension(name="x", count=w, type="space"),
        ],
        format={"name": "ome-tiff", "prefer_single_file": True},
        pyramid=Pyramid(levels=3, method="min"),
    )
    frames = [frame(i, (h, w), "uint8") for i in range(6)]
    with create_stream(s) as stream:
        for f in frames:
            stream.append(f)
        stream.flush()
        core = stream._engine._core  # type: ignore[attr-defined]
        assert core.levels() == 3
        out = np.zeros((5, 8), np.uint8)
        assert core.read_level_frame(1, 2, [2], out)
        np.testing.assert_array_equal(out, pyramid_ref(frames[5], 3, "min", (0, 1))[2])
    for series, k in ((0, 0), (1, 3)):
        levels = tiff_levels(Path(s.output_path), series)
        full = np.stack(frames[k : k + 3])
        ref = pyramid_ref(full, 3, "min", (1, 2))
        for i in range(3):
            np.testing.assert_array_equal(levels[i], ref[i])


# --------------------------------------------------------------------------- crash

KILLED_WRITER = """
import sys, time
import numpy as np
from ome_writers import AcquisitionSettings, Dimension, Pyramid, create_stream

root, flushed = sys.argv[1], int(sys.argv[2])
s = AcquisitionSettings(
    root_path=root, dtype="uint16",
    dimensions=[Dimension(name="t", count=None, type="time"),
                Dimension(name="y", count=33, type="space", chunk_size=16),
                Dimension(name="x", count=20, type="space")],
    pyramid=Pyramid(levels=3),
)
stream = create_stream(s)
rng = np.random.default_rng(0)
for i in range(flushed):
    stream.append(rng.integers(0, 65535, (33, 20)).astype("uint16"), frame_metadata={"i": i})
stream.flush()
print("FLUSHED", flush=True)
while True:  # until killed
    stream.append(rng.integers(0, 65535, (33, 20)).astype("uint16"), frame_metadata={"i": 0})
    time.sleep(0.001)
"""


def test_levels_survive_sigkill_and_recover(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import ome_writers

    script = tmp_path / "w.py"
    script.write_text(KILLED_WRITER)
    root = tmp_path / "k.ome.zarr"
    flushed = 9
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root), str(flushed)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "FLUSHED"
        time.sleep(0.3)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    # As it stands: every level holds the flushed frames, reduced.
    arrays = [read_zarr_both(root / str(i)) for i in range(3)]
    ref = pyramid_ref(arrays[0][:flushed], 3, "mean", (1, 2))
    for i in (1, 2):
        assert arrays[i].shape[0] >= flushed
        np.testing.assert_array_equal(arrays[i][:flushed], ref[i])
    ome_writers.recover(root)
    shapes = [json.loads((root / str(i) / "zarr.json").read_text())["shape"] for i in range(3)]
    assert shapes[1][0] == shapes[2][0] == shapes[0][0] >= flushed
    assert shapes[1][1:] == [17, 10]
    # (Frames past the flush may be in one level and not yet in another: a
    # kill falls between their files.)


# --------------------------------------------------------------------------- live view


@pytest.mark.parametrize("fmt", ["ome-zarr", "ome-tiff"])
def test_view_reads_any_level(tmp_path: Path, fmt: str) -> None:
    h, w = 30, 17
    ext = ".ome.zarr" if fmt == "ome-zarr" else ".ome.tiff"
    s = AcquisitionSettings(
        root_path=str(tmp_path / f"v{ext}"),
        dtype="uint16",
        dimensions=[
            Dimension(name="t", count=None, type="time"),
            Dimension(name="c", count=2, type="channel"),
            Dimension(name="y", count=h, type="space"),
            Dimension(name="x", count=w, type="space"),
        ],
        pyramid=Pyramid(levels=3, method="mean" if fmt == "ome-tiff" else "max"),
    )
    method = "mean" if fmt == "ome-tiff" else "max"
    levels = 3
    frames = [frame(i, (h, w), "uint16") for i in range(6)]
    with create_stream(s) as stream:
        for f in frames:
            stream.append(f)
        stream.flush()
        full = np.stack(frames).reshape(3, 2, h, w)
        ref = pyramid_ref(full, levels, method, (2, 3))
        for level in range(levels):
            view = stream.view(level=level)
            assert view.shape == ref[level].shape
            np.testing.assert_array_equal(np.asarray(view), ref[level])
            np.testing.assert_array_equal(view[2, 1], ref[level][2, 1])
        with pytest.raises(ValueError, match=f"level {levels} does not exist"):
            stream.view(level=levels)
        with pytest.raises(ValueError, match="-1"):
            stream.view(level=-1)


def test_view_level_without_pyramid(tmp_path: Path) -> None:
    dims = [
        Dimension(name="z", count=4, type="space", chunk_size=2),
        Dimension(name="y", count=8, type="space"),
        Dimension(name="x", count=8, type="space"),
    ]
    s = AcquisitionSettings(root_path=str(tmp_path / "a.ome.zarr"), dtype="uint8", dimensions=dims)
    with create_stream(s) as stream, pytest.raises(ValueError, match="writes no pyramid"):
        stream.view(level=1)


@pytest.mark.parametrize("dynamic", [True, False])
def test_view_of_a_level_that_halves_z(tmp_path: Path, dynamic: bool) -> None:
    h, w = 9, 12
    s = AcquisitionSettings(
        root_path=str(tmp_path / "vz.ome.zarr"),
        dtype="uint16",
        dimensions=[
            Dimension(name="t", count=2, type="time"),
            Dimension(name="z", count=5, type="space", chunk_size=2),
            Dimension(name="y", count=h, type="space"),
            Dimension(name="x", count=w, type="space"),
        ],
        pyramid=Pyramid(levels=3, downsample_z=True),
    )
    frames = [frame(i, (h, w), "uint16") for i in range(10)]
    with create_stream(s) as stream:
        for f in frames:
            stream.append(f)
        stream.flush()
        ref = pyramid_ref(np.stack(frames).reshape(2, 5, h, w), 3, "mean", (1, 2, 3))
        for level in (1, 2):
            view = stream.view(level=level, dynamic_shape=dynamic)
            assert view.shape == ref[level].shape
            assert list(view.coords["z"]) == list(range(ref[level].shape[1]))
            np.testing.assert_array_equal(np.asarray(view), ref[level])
            # A level plane at z'' summarises full-resolution planes from z'' * 2^level on.
            np.testing.assert_array_equal(view[1, 1], ref[level][1, 1])
    # Mid-acquisition, t=1 has planes z=0, 1 only: level 1's pair (0, 1) of t=1 is
    # reduced, the others read as zeros until their planes come.
    stream = create_stream(s.model_copy(update={"overwrite": True}))
    for f in frames[:7]:
        stream.append(f)
    stream.flush()
    view = stream.view(level=1, dynamic_shape=dynamic)
    got = np.asarray(view)
    np.testing.assert_array_equal(got[0], ref[1][0])
    np.testing.assert_array_equal(got[1, 0], ref[1][1, 0])
    assert got.shape == ref[1].shape
    assert not got[1, 1:].any()
    stream.close()


# --------------------------------------------------------------------------- other dtypes


def wide_frame(n: int, shape: tuple[int, int], dtype: str) -> np.ndarray:
    """Unique content for any dtype: 64-bit integers within 2^40 (the reference sums in int64)."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(3000 + n)
    if dt.kind == "c":
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dt)
    if dt.kind in "iu" and dt.itemsize == 8:
        lo = 0 if dt.kind == "u" else -(2**40)
        return rng.integers(lo, 2**40, size=shape).astype(dt)
    if dt.kind == "f":
        return rng.normal(scale=1000, size=shape).astype(dt)
    return frame(n, shape, dtype)


@pytest.mark.parametrize(
    "dtype",
    ["bool", "int8", "int16", "uint32", "int32", "uint64", "int64", "float64", "complex64"],
)
@pytest.mark.parametrize("method", METHODS)
def test_other_dtypes(tmp_path: Path, dtype: str, method: str) -> None:
    kind = np.dtype(dtype).kind
    if kind == "c" and method != "decimate":
        with pytest.raises(ValueError, match="complex data takes 'decimate'"):
            AcquisitionSettings(
                root_path=str(tmp_path / "c.ome.zarr"),
                dtype=dtype,
                dimensions=[Dimension(name="y", count=8), Dimension(name="x", count=8)],
                pyramid=Pyramid(levels=2, method=method),
            )
        return
    if kind == "f" and method == "mode":
        return  # refused: test_rules_that_need_the_geometry
    h, w = 13, 10
    s = AcquisitionSettings(
        root_path=str(tmp_path / "d.ome.zarr"),
        dtype=dtype,
        dimensions=[
            Dimension(name="t", count=3, type="time"),
            Dimension(name="y", count=h, type="space"),
            Dimension(name="x", count=w, type="space"),
        ],
        pyramid=Pyramid(levels=3, method=method),
    )
    make = label_frame if method == "mode" and dtype != "bool" else wide_frame
    frames = [make(i, (h, w), dtype) for i in range(3)]
    with create_stream(s) as stream:
        for f in frames:
            stream.append(f)
    root = Path(s.output_path)
    arrays = [read_zarr_both(root / str(i)) for i in range(3)]
    np.testing.assert_array_equal(arrays[0], np.stack(frames))
    # bool: the rules on 0/1 bytes.
    as_ref = arrays[0].astype(np.uint8) if dtype == "bool" else arrays[0]
    ref = pyramid_ref(as_ref, 3, method, (1, 2))
    for i in (1, 2):
        expected = ref[i].astype(bool) if dtype == "bool" else ref[i]
        np.testing.assert_array_equal(arrays[i], expected, err_msg=f"level {i}")


def test_library_backends_refuse_a_pyramid(tmp_path: Path) -> None:
    """The adapters write pixels through their library: no levels, so no silent omission."""
    pytest.importorskip("tensorstore")
    s = AcquisitionSettings(
        root_path=str(tmp_path / "ts.ome.zarr"),
        dtype="uint8",
        dimensions=[Dimension(name="y", count=8), Dimension(name="x", count=8)],
        format={"name": "ome-zarr", "backend": "tensorstore"},
        pyramid=2,
    )
    with pytest.raises(NotImplementedError, match="native engine only"):
        create_stream(s)


@pytest.mark.parametrize(("budget", "chunks"), [(64 << 10, [1, 1, 1]), (512 << 20, [1, 4, 16])])
def test_level_chunks_lengthen_within_the_memory_budget(
    tmp_path: Path, budget: int, chunks: list[int]
) -> None:
    """Level chunks take 4^level more t-planes, unless the open ones (one per position,
    positions acquired fastest) would hold more than a quarter of the budget."""
    s = AcquisitionSettings(
        root_path=str(tmp_path / "m.ome.zarr"),
        dtype="uint16",
        dimensions=[
            Dimension(name="t", count=32, type="time"),
            Dimension(name="p", type="position", coords=[f"p{i}" for i in range(8)]),
            Dimension(name="y", count=64, type="space"),
            Dimension(name="x", count=64, type="space"),
        ],
        pyramid=3,
    )
    frames = [frame(i, (64, 64), "uint16") for i in range(32 * 8)]
    with create_stream(s, max_memory_bytes=budget) as stream:
        for f in frames:
            stream.append(f)
    root = Path(s.output_path)
    for level, chunk in enumerate(chunks):
        meta = json.loads((root / "p3" / str(level) / "zarr.json").read_text())
        assert meta["chunk_grid"]["configuration"]["chunk_shape"][0] == chunk
    check_levels(root / "p3", 3, "mean", (1, 2), np.stack(frames[3::8]))
