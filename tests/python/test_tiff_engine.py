"""The native OME-TIFF engine, judged by tifffile, ome-types and the OME XSD."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from conftest import acquisition_index, frame_for, stream_all, t_frames
from ome_writers import AcquisitionSettings, Channel, Dimension, Plate, Position, create_stream

TIFF_DTYPES = [
    "uint8",
    "uint16",
    "uint32",
    "int8",
    "int16",
    "int32",
    "float32",
    "float64",
    "bool",
    "complex64",
    "complex128",
]


def tiff_files(settings: AcquisitionSettings) -> list[Path]:
    out = Path(settings.output_path)
    if out.is_dir():
        return sorted(out.glob(f"{out.name}_p*.ome.tiff"))
    return [out]


def verify_planes(settings: AcquisitionSettings, frames: int | None = None) -> None:
    """Each frame is in the IFD that DimensionOrder and TiffData declare."""
    import ome_types

    dims = settings.dimensions
    outer = dims[:-2]
    counts = [d.count for d in outer]
    n = frames if frames is not None else settings.num_frames
    assert n is not None
    shape = tuple(d.count for d in dims[-2:])
    files = tiff_files(settings)
    p_index = settings.position_dimension_index
    single_file = len(files) == 1
    ome = ome_types.from_tiff(files[0]) if single_file else None
    for i in range(n):
        digits = dict(zip([d.name for d in outer], acquisition_index(i, counts), strict=True))
        pos = digits.pop(dims[p_index].name) if p_index is not None else 0
        path = files[0] if single_file else files[pos]
        image_ome = ome if ome is not None else ome_types.from_tiff(path)
        if image_ome.binary_only is not None:
            # Follow the pointer (relative to the file) to the full metadata.
            target = path.parent / image_ome.binary_only.metadata_file
            if target.suffix == ".ome":
                image_ome = ome_types.from_xml(target.read_text())
            else:
                image_ome = ome_types.from_tiff(target)
        image = next(im for im in image_ome.images if im.id == f"Image:{pos}")
        px = image.pixels
        order = px.dimension_order.value[2:]  # e.g. "ZCT", fastest first
        sizes = {"Z": px.size_z, "C": px.size_c, "T": px.size_t}
        zct = {"Z": digits.get("z", 0), "C": digits.get("c", 0), "T": digits.get("t", 0)}
        plane = 0
        for letter in reversed(order):
            plane = plane * sizes[letter] + zct[letter]
        tds = px.tiff_data_blocks
        if len(tds) == 1:
            ifd = tds[0].ifd + plane
        else:
            match = [
                td
                for td in tds
                if (td.first_z, td.first_c, td.first_t) == (zct["Z"], zct["C"], zct["T"])
            ]
            ifd = match[0].ifd
        with tifffile.TiffFile(path) as tf:
            np.testing.assert_array_equal(
                tf.pages[ifd].asarray(), frame_for(i, shape, settings.dtype), err_msg=f"frame {i}"
            )


def ome_text(path: Path) -> str:
    with tifffile.TiffFile(path) as tf:
        text = tf.ome_metadata
    assert text is not None
    return text


def validate_xml(settings: AcquisitionSettings, ome_schema) -> None:  # type: ignore[no-untyped-def]
    for f in tiff_files(settings):
        with tifffile.TiffFile(f) as tf:
            ome_schema.validate(tf.ome_metadata)


@pytest.mark.parametrize("dtype", TIFF_DTYPES)
def test_every_ome_dtype(make_settings, ome_schema, dtype: str) -> None:
    s = make_settings(
        "d.ome.tiff",
        dtype=dtype,
        dimensions=[
            Dimension(name="t", count=3, type="time"),
            Dimension(name="y", count=10),
            Dimension(name="x", count=7),
        ],
    )
    stream_all(s)
    data = tifffile.imread(s.output_path)
    assert data.shape == (3, 10, 7)
    assert data.dtype == np.dtype(dtype)
    for i in range(3):
        np.testing.assert_array_equal(data[i], frame_for(i, (10, 7), dtype))
    validate_xml(s, ome_schema)


@pytest.mark.parametrize("dtype", ["int64", "uint64"])
def test_dtypes_ome_cannot_store_are_rejected_at_create(make_settings, dtype: str) -> None:
    s = make_settings(
        "bad.ome.tiff",
        dtype=dtype,
        dimensions=[Dimension(name="y", count=4), Dimension(name="x", count=4)],
    )
    with pytest.raises(ValueError, match=dtype):
        create_stream(s)
    assert not Path(s.output_path).exists()


@pytest.mark.parametrize(
    "names",
    [["t", "c", "z"], ["t", "z", "c"], ["c", "t"], ["z"], []],
    ids=lambda n: "".join(n) or "2d",
)
def test_dimension_orders(make_settings, ome_schema, names: list[str]) -> None:
    types = {"t": "time", "c": "channel", "z": "space"}
    counts = {"t": 2, "c": 3, "z": 2}
    dims = [Dimension(name=n, count=counts[n], type=types[n]) for n in names]
    s = make_settings(
        "o.ome.tiff",
        dimensions=[*dims, Dimension(name="y", count=9), Dimension(name="x", count=11)],
    )
    stream_all(s, frames=s.num_frames or 1)
    verify_planes(s, frames=s.num_frames or 1)
    validate_xml(s, ome_schema)
    with tifffile.TiffFile(s.output_path) as tf:
        expected = (*tuple(counts[n] for n in names), 9, 11)
        assert tf.series[0].shape == expected


@pytest.mark.parametrize(
    ("compression", "level"),
    [("lzw", None), ("deflate", None), ("zstd", None), ("deflate", 12), ("zstd", 19)],
)
def test_compression(make_settings, compression: str, level: int | None) -> None:
    s = make_settings("c.ome.tiff", compression=compression, dimensions=t_frames(3, 300, 256))
    stream_all(s, compression_level=level)
    with tifffile.TiffFile(s.output_path) as tf:
        assert (
            tf.pages[0].compression.name
            == {
                "lzw": "LZW",
                "deflate": "ADOBE_DEFLATE",
                "zstd": "ZSTD",
            }[compression]
        )
        assert tf.pages[0].predictor == 2
    verify_planes(s)


def test_lzw_takes_no_level(make_settings) -> None:
    s = make_settings("l.ome.tiff", compression="lzw", dimensions=t_frames(2, 8, 8))
    with pytest.raises(ValueError, match="compression_level 5 given, but compression 'lzw'"):
        create_stream(s, compression_level=5)


def test_unbounded_partial_last_timepoint_is_completed(make_settings, ome_schema) -> None:
    import ome_types

    s = make_settings(
        "u.ome.tiff",
        dimensions=[
            Dimension(name="t", count=None, type="time"),
            Dimension(name="c", count=2, type="channel"),
            Dimension(name="y", count=8),
            Dimension(name="x", count=8),
        ],
    )
    stream_all(s, frames=5)
    px = ome_types.from_tiff(s.output_path).images[0].pixels
    assert (px.size_t, px.size_c) == (3, 2)
    assert px.tiff_data_blocks[0].plane_count == 6
    data = tifffile.imread(s.output_path)
    assert data.shape == (3, 2, 8, 8)
    assert not data[2, 1].any()
    verify_planes(s, frames=5)
    validate_xml(s, ome_schema)


def test_skip_writes_blank_planes(make_settings) -> None:
    s = make_settings(
        "s.ome.tiff",
        dimensions=[
            Dimension(name="t", count=4, type="time"),
            Dimension(name="y", count=5),
            Dimension(name="x", count=5),
        ],
    )
    with create_stream(s) as stream:
        stream.append(frame_for(0, (5, 5), "uint16"))
        stream.skip(frames=2)
        stream.append(frame_for(3, (5, 5), "uint16"))
    data = tifffile.imread(s.output_path)
    np.testing.assert_array_equal(data[3], frame_for(3, (5, 5), "uint16"))
    assert not data[1:3].any()


def test_empty_stream_leaves_no_file(make_settings) -> None:
    s = make_settings(
        "e.ome.tiff",
        dimensions=[
            Dimension(name="t", count=None),
            Dimension(name="y", count=5),
            Dimension(name="x", count=5),
        ],
    )
    create_stream(s).close()
    assert not Path(s.output_path).exists()


def _position_settings(make_settings, **fmt: object) -> AcquisitionSettings:
    return make_settings(
        "run.ome.tiff",
        format={"name": "ome-tiff", **fmt},
        dimensions=[
            Dimension(name="t", count=2, type="time"),
            Dimension(
                name="p",
                type="position",
                coords=[
                    Position(name="A", x_coord=1.5, y_coord=-2.0),
                    Position(name="B"),
                    Position(name="C"),
                ],
            ),
            Dimension(
                name="c",
                count=2,
                type="channel",
                coords=["DAPI", Channel(name="GFP", color="green")],
            ),
            Dimension(name="y", count=6),
            Dimension(name="x", count=7),
        ],
    )


@pytest.mark.parametrize("mode", ["redundant", "master-tiff", "companion-file"])
def test_multi_file_modes(make_settings, ome_schema, mode: str) -> None:
    import ome_types

    s = _position_settings(make_settings, multi_file_metadata=mode)
    stream_all(s)
    out = Path(s.output_path)
    files = tiff_files(s)
    assert [f.name for f in files] == [
        "run_p000.ome.tiff",
        "run_p001.ome.tiff",
        "run_p002.ome.tiff",
    ]
    for f in files:
        with tifffile.TiffFile(f) as tf:
            ome_schema.validate(tf.ome_metadata)
    full = None
    if mode == "redundant":
        docs = [ome_types.from_tiff(f) for f in files]
        assert all(len(d.images) == 3 for d in docs)
        # Every copy carries every plane's metadata (0.3.2 kept only its own).
        assert all(len(d.images[2].pixels.planes) == 4 for d in docs)
        full = docs[0]
    elif mode == "master-tiff":
        full = ome_types.from_tiff(files[0])
        other = ome_types.from_xml(ome_text(files[1]))
        assert other.binary_only is not None
        assert other.binary_only.metadata_file == "run_p000.ome.tiff"
    else:
        companion = out / "run.companion.ome"
        ome_schema.validate(companion.read_text())
        full = ome_types.from_xml(companion.read_text())
        other = ome_types.from_xml(ome_text(files[2]))
        assert other.binary_only.metadata_file == "run.companion.ome"
        assert other.binary_only.uuid == full.uuid
    assert [i.name for i in full.images] == ["A", "B", "C"]
    assert full.images[0].stage_label.x == 1.5
    uuids = [td.uuid.file_name for im in full.images for td in im.pixels.tiff_data_blocks]
    assert uuids == [f.name for f in files]
    assert full.images[1].pixels.channels[1].name == "GFP"
    verify_planes(s)


def test_overwrite_removes_stale_position_files(make_settings) -> None:
    s = _position_settings(make_settings)
    stream_all(s)
    # A position file of an earlier, larger run (ours: an OME-TIFF we wrote).
    stale = Path(s.output_path) / "run_p007.ome.tiff"
    stale.write_bytes((Path(s.output_path) / "run_p000.ome.tiff").read_bytes())
    with pytest.raises(FileExistsError):
        create_stream(s)
    s.overwrite = True
    stream_all(s)
    assert not stale.exists()


def test_single_file_with_several_positions(make_settings, ome_schema) -> None:
    s = _position_settings(make_settings, prefer_single_file="always")
    stream_all(s)
    assert Path(s.output_path).is_file()
    with tifffile.TiffFile(s.output_path) as tf:
        ome_schema.validate(tf.ome_metadata)
        assert len(tf.series) == 3
        assert tf.series[1].shape == (2, 2, 6, 7)
    verify_planes(s)


def test_plate(make_settings, ome_schema) -> None:
    import ome_types

    s = make_settings(
        "plate.ome.tiff",
        plate=Plate(row_names=["A", "B"], column_names=["1", "2"], name="P"),
        dimensions=[
            Dimension(
                name="p",
                type="position",
                coords=[
                    Position(name="f0", plate_row="A", plate_column="1"),
                    Position(name="f1", plate_row="B", plate_column="2", x_coord=5.0, y_coord=6.0),
                ],
            ),
            Dimension(name="t", count=2, type="time"),
            Dimension(name="y", count=6),
            Dimension(name="x", count=5),
        ],
    )
    stream_all(s)
    files = tiff_files(s)
    ome = ome_types.from_tiff(files[0])
    plate = ome.plates[0]
    assert (plate.rows, plate.columns, plate.name) == (2, 2, "P")
    wells = {(w.row, w.column): w for w in plate.wells}
    assert set(wells) == {(0, 0), (1, 1)}
    assert wells[(1, 1)].well_samples[0].image_ref.id == "Image:1"
    assert wells[(1, 1)].well_samples[0].position_x == 5.0
    for f in files:
        ome_schema.validate(ome_text(f))
    verify_planes(s)


def test_physical_sizes_resolution_and_time_increment(make_settings, ome_schema) -> None:
    import ome_types

    s = make_settings(
        "phys.ome.tiff",
        dimensions=[
            Dimension(name="t", count=2, type="time", unit="ms", scale=250),
            Dimension(name="z", count=2, type="space", unit="um", scale=1.5),
            Dimension(name="y", count=8, unit="um", scale=0.25),
            Dimension(name="x", count=8, unit="nm", scale=200),
        ],
    )
    stream_all(s)
    px = ome_types.from_tiff(s.output_path).images[0].pixels
    assert (px.physical_size_x, px.physical_size_x_unit.value) == (200, "nm")
    assert (px.physical_size_y, px.physical_size_y_unit.value) == (0.25, "µm")
    assert (px.physical_size_z, px.time_increment, px.time_increment_unit.value) == (1.5, 250, "ms")
    with tifffile.TiffFile(s.output_path) as tf:
        page = tf.pages[0]
        assert page.tags["ResolutionUnit"].value == 3  # centimetre
        assert page.tags["YResolution"].value[0] / page.tags["YResolution"].value[
            1
        ] == pytest.approx(40000)
    validate_xml(s, ome_schema)


@pytest.mark.parametrize(
    "order",
    [["z", "c", "t", "y", "x"], ["c", "t", "z", "y", "x"], "acquisition", "ome"],
    ids=lambda o: o if isinstance(o, str) else "".join(o[:3]),
)
@pytest.mark.parametrize("single_file", [False, True], ids=["1pos", "2pos-1file"])
def test_any_storage_order(make_settings, ome_schema, order: object, single_file: bool) -> None:
    """0.3.2 accepts any storage_order for OME-TIFF and writes planes in acquisition order.

    So do we: the OME-XML (DimensionOrder from the acquisition order, TiffData
    per block or per plane) maps every plane, so tifffile, ome-types and the
    live view find each frame at its index.
    """
    dims = [
        Dimension(name="t", count=2, type="time"),
        Dimension(name="c", count=3, type="channel"),
        Dimension(name="z", count=2, type="space"),
    ]
    if single_file:
        dims.insert(1, Dimension(name="p", type="position", coords=["A", "B"]))
        if isinstance(order, list):
            order = [*order[:3], "p", *order[3:]]
    s = make_settings(
        "so.ome.tiff",
        dimensions=[*dims, Dimension(name="y", count=9), Dimension(name="x", count=11)],
        storage_order=order,
        format={"name": "ome-tiff", "prefer_single_file": "always"} if single_file else "ome-tiff",
    )
    counts = [d.count for d in s.dimensions[:-2]]
    with create_stream(s) as stream:
        view = stream.view()
        for i in range(s.num_frames):
            stream.append(frame_for(i, (9, 11), "uint16"))
            np.testing.assert_array_equal(
                view[acquisition_index(i, counts)], frame_for(i, (9, 11), "uint16")
            )
    verify_planes(s)
    validate_xml(s, ome_schema)
    names = [d.name for d in s.dimensions[:-2]]
    with tifffile.TiffFile(s.output_path) as tf:
        for p, series in enumerate(tf.series):
            data = series.asarray()
            axes = series.axes.lower()
            assert sorted(axes) == sorted("tczyx")
            for i in range(s.num_frames):
                digits = dict(zip(names, acquisition_index(i, counts), strict=True))
                if digits.pop("p", 0) != p:
                    continue
                key = tuple(digits[a] for a in axes[:-2])
                np.testing.assert_array_equal(
                    data[key], frame_for(i, (9, 11), "uint16"), err_msg=f"frame {i}"
                )


@pytest.mark.parametrize("compression", ["zstd", "deflate"])
@pytest.mark.parametrize("height", [40, 1100])  # one strip per plane; three
def test_compressed_planes_encoding_ahead_keep_order_metadata_and_skips(
    make_settings, ome_schema, compression: str, height: int
) -> None:
    """zstd/deflate planes encode while the plane before them is written: the
    planes, their MapAnnotations and skipped planes still land in order, and
    flush() and the live view see every frame appended."""
    import ome_types

    s = make_settings(
        "pipe.ome.tiff",
        compression=compression,
        dimensions=[
            Dimension(name="t", count=6, type="time"),
            Dimension(name="p", type="position", coords=["A", "B"]),
            Dimension(name="y", count=height),
            Dimension(name="x", count=256),
        ],
    )
    shape = (height, 256)
    skipped = {5, 6}
    with create_stream(s, writer_threads=2) as stream:
        view = stream.view()
        i = 0
        while i < 12:
            if i == 5:
                stream.skip(frames=2)
                i += 2
                continue
            meta = {"n": i, "exposure_time": i + 1.0} if i % 3 else None
            stream.append(frame_for(i, shape, "uint16"), frame_metadata=meta)
            # The frame just appended, whether queued, encoding or written.
            np.testing.assert_array_equal(view[i // 2, i % 2], frame_for(i, shape, "uint16"))
            if i == 8:
                stream.flush()  # every plane so far in the files, readable
                with tifffile.TiffFile(tiff_files(s)[0]) as tf:
                    assert len(tf.pages) == 5  # t 0-4 of position A
            i += 1
    for f in tiff_files(s):
        with tifffile.TiffFile(f) as tf:
            ome_schema.validate(tf.ome_metadata)
            ome = ome_types.from_xml(tf.ome_metadata)
            maps = {a.id: a for a in ome.structured_annotations.map_annotations}
            pos = 0 if f.name.endswith("_p000.ome.tiff") else 1
            image = next(im for im in ome.images if im.id == f"Image:{pos}")
            for plane in image.pixels.planes:
                i = plane.the_t * 2 + pos
                refs = [maps[r.id] for r in plane.annotation_refs if r.id in maps]
                if i % 3 and i not in skipped:
                    assert plane.exposure_time == i + 1.0
                    assert any(("n", str(i)) in [(m.k, m.value) for m in a.value.ms] for a in refs)
                else:
                    assert refs == [], i
            for t in range(6):
                i = t * 2 + pos
                expected = (
                    np.zeros(shape, "uint16") if i in skipped else frame_for(i, shape, "uint16")
                )
                np.testing.assert_array_equal(tf.pages[t].asarray(), expected, err_msg=f"{i}")
