"""The native OME-Zarr engine, judged by zarr-python, tensorstore and ome-zarr-models."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import acquisition_index, frame_for, read_zarr_both, stream_all, t_frames
from ome_writers import (
    AcquisitionSettings,
    Channel,
    Dimension,
    Plate,
    Position,
    create_stream,
)

DTYPES = [
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "int8",
    "int16",
    "int32",
    "int64",
    "float32",
    "float64",
    "complex64",
    "complex128",
]


def group_paths(settings: AcquisitionSettings) -> list[str]:
    positions = settings.positions
    if settings.plate is not None:
        return [f"{p.plate_row}/{p.plate_column}/{p.name}" for p in positions]
    if len(positions) == 1:
        return [""]
    return [
        p.name if p.grid_row is None else f"{p.name}_{p.grid_row}_{p.grid_column}"
        for p in positions
    ]


def verify(
    settings: AcquisitionSettings,
    storage_names: list[str],
    frames: int | None = None,
    model: str = "image",
) -> dict[str, np.ndarray]:
    """Every frame at its expected place, read by two independent readers."""
    v05 = pytest.importorskip("ome_zarr_models.v05")
    HCS, BioFormats2Raw, Image = v05.HCS, v05.BioFormats2Raw, v05.Image

    root = Path(settings.output_path)
    dims = settings.dimensions
    outer = dims[:-2]
    counts = [d.count for d in outer]
    n = frames if frames is not None else settings.num_frames
    assert n is not None
    shape = tuple(d.count for d in dims[-2:])
    paths = group_paths(settings)
    arrays = {p: read_zarr_both(root / p / "0") for p in paths}
    for i in range(n):
        digits = dict(zip([d.name for d in outer], acquisition_index(i, counts), strict=True))
        pos = 0
        if settings.position_dimension_index is not None:
            pos = digits.pop(dims[settings.position_dimension_index].name)
        index = tuple(digits[name] for name in storage_names)
        np.testing.assert_array_equal(
            arrays[paths[pos]][index], frame_for(i, shape, settings.dtype), err_msg=f"frame {i}"
        )
    zarr = pytest.importorskip("zarr")

    for p in paths:
        meta = json.loads((root / p / "0" / "zarr.json").read_text())
        assert meta["dimension_names"] == [*storage_names, *(d.name for d in dims[-2:])]
        group = zarr.open_group(root / p, mode="r")
        entries = group.attrs["ome_writers"]["frame_metadata"]
        for e in entries:
            digits = dict(
                zip([d.name for d in outer], acquisition_index(e["n"], counts), strict=True)
            )
            assert e["storage_index"] == [digits[name] for name in storage_names]
        if model == "image":
            Image.from_zarr(group)
    top = zarr.open_group(root, mode="r")
    if model == "bf2raw":
        BioFormats2Raw.from_zarr(top)
    elif model == "hcs":
        HCS.from_zarr(top)
    return arrays


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_roundtrips(make_settings, dtype: str) -> None:
    s = make_settings(
        "d.ome.zarr",
        dtype=dtype,
        dimensions=[
            Dimension(name="t", count=3, type="time"),
            Dimension(name="y", count=10, chunk_size=4),
            Dimension(name="x", count=7, chunk_size=3),
        ],
    )
    stream_all(s)
    arrays = verify(s, ["t"])
    assert arrays[""].dtype == np.dtype(dtype)


def test_bool_dtype(make_settings) -> None:
    s = make_settings(
        "b.ome.zarr",
        dtype="bool",
        dimensions=[
            Dimension(name="t", count=2),
            Dimension(name="y", count=8),
            Dimension(name="x", count=8),
        ],
    )
    stream_all(s)
    verify(s, ["t"])


def test_single_2d_frame(make_settings) -> None:
    s = make_settings(
        "2d.ome.zarr", dimensions=[Dimension(name="y", count=33), Dimension(name="x", count=17)]
    )
    stream_all(s, frames=1)
    arr = read_zarr_both(Path(s.output_path) / "0")
    np.testing.assert_array_equal(arr, frame_for(0, (33, 17), "uint16"))


def test_5d_multi_frame_chunks_not_divisible(make_settings) -> None:
    s = make_settings(
        "5d.ome.zarr",
        dimensions=[
            Dimension(name="t", count=3, type="time", chunk_size=2),
            Dimension(
                name="c",
                count=2,
                type="channel",
                coords=["DAPI", Channel(name="GFP", color="green")],
            ),
            Dimension(name="z", count=5, type="space", chunk_size=2, unit="um", scale=0.5),
            Dimension(name="y", count=19, chunk_size=8, unit="um", scale=0.1),
            Dimension(name="x", count=21, chunk_size=8, unit="um", scale=0.1, translation=3.0),
        ],
    )
    stream_all(s)
    verify(s, ["t", "c", "z"])
    attrs = json.loads((Path(s.output_path) / "zarr.json").read_text())["attributes"]["ome"]
    ms = attrs["multiscales"][0]
    assert [a.get("unit") for a in ms["axes"]] == [
        None,
        None,
        "micrometer",
        "micrometer",
        "micrometer",
    ]
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.0, 1.0, 0.5, 0.1, 0.1]
    assert ms["datasets"][0]["coordinateTransformations"][1]["translation"][-1] == 3.0
    assert [c["label"] for c in attrs["omero"]["channels"]] == ["DAPI", "GFP"]
    assert attrs["omero"]["channels"][1]["color"] == "008000"


def test_storage_order_differs_from_acquisition_order(make_settings) -> None:
    s = make_settings(
        "tzc.ome.zarr",
        dimensions=[
            Dimension(name="t", count=2, type="time"),
            Dimension(name="z", count=3, type="space"),
            Dimension(name="c", count=2, type="channel"),
            Dimension(name="y", count=6),
            Dimension(name="x", count=5),
        ],
    )
    stream_all(s)
    verify(s, ["t", "c", "z"])


def _dims(order: str) -> list[Dimension]:
    """Non-frame dimensions in acquisition `order` (t, c, z, a = 'other'), then y, x."""
    kinds = {"t": "time", "c": "channel", "z": "space", "a": "other"}
    counts = {"t": 2, "c": 3, "z": 2, "a": 2}
    return [
        *(Dimension(name=n, count=counts[n], type=kinds[n]) for n in order),  # type: ignore[arg-type]
        Dimension(name="y", count=6),
        Dimension(name="x", count=5),
    ]


@pytest.mark.parametrize(
    ("order", "storage_order", "storage_names"),
    [
        ("tcz", "acquisition", ["t", "c", "z"]),
        ("ztc", ["t", "c", "z", "y", "x"], ["t", "c", "z"]),
        ("czt", ["t", "c", "z", "y", "x"], ["t", "c", "z"]),
        ("zat", ["t", "a", "z", "y", "x"], ["t", "a", "z"]),
        ("ta", "acquisition", ["t", "a"]),
    ],
)
def test_storage_order_acquisition_and_list(
    make_settings, order: str, storage_order: str | list[str], storage_names: list[str]
) -> None:
    """0.3.2 writes storage_order="acquisition" and explicit lists whose axes follow
    OME-NGFF 0.5 (time, then channel or custom, then space): every frame lands at its
    storage index (zarr-python and tensorstore agree) and the image validates.

    (This test used to write t,z,c and c,t,z axes, which NGFF forbids and 0.3.2
    refuses; see test_storage_order_breaking_ngff_axis_order_is_refused.)
    """
    s = make_settings(f"{order}.ome.zarr", dimensions=_dims(order), storage_order=storage_order)
    stream_all(s)
    verify(s, storage_names)


NGFF_ORDER = "Axes are not in the required order by type. Order must be [time,] [channel,] space."


@pytest.mark.parametrize(
    ("order", "storage_order", "phrase"),
    [
        ("ct", "acquisition", NGFF_ORDER),
        ("tc", ["c", "t", "y", "x"], NGFF_ORDER),
        ("tzc", "acquisition", NGFF_ORDER),
        ("tcz", ["t", "z", "c", "y", "x"], NGFF_ORDER),
        ("zt", "acquisition", NGFF_ORDER),
        ("za", "ome", NGFF_ORDER),  # "ome" puts other types after space, as 0.3.2 does
    ],
)
def test_storage_order_breaking_ngff_axis_order_is_refused(
    make_settings, order: str, storage_order: str | list[str], phrase: str
) -> None:
    """0.3.2 accepts these settings but create_stream raises pydantic's
    ValidationError (a ValueError) "Axes are not in the required order by type.
    Order must be [time,] [channel,] space."; we raise ValueError with that phrase
    there too, and write nothing."""
    s = make_settings(f"{order}.ome.zarr", dimensions=_dims(order), storage_order=storage_order)
    with pytest.raises(ValueError, match=re.escape(phrase)) as exc:
        create_stream(s)
    assert "OME-NGFF 0.5" in str(exc.value)
    assert not Path(s.output_path).exists()


def test_two_channel_axes_are_refused(make_settings) -> None:
    """0.3.2 raises ValidationError "There can be at most 1 axis of type 'channel'."
    at create_stream for two channel dimensions in OME-Zarr; so do we."""
    dims = [
        Dimension(name="c", count=2, type="channel"),
        Dimension(name="c2", count=2, type="channel"),
        Dimension(name="y", count=4),
        Dimension(name="x", count=4),
    ]
    s = make_settings("cc.ome.zarr", dimensions=dims)
    with pytest.raises(
        ValueError, match=re.escape("There can be at most 1 axis of type 'channel'.")
    ):
        create_stream(s)
    assert not Path(s.output_path).exists()


def test_unbounded_first_dimension_with_partial_last_index(make_settings) -> None:
    s = make_settings(
        "unb.ome.zarr",
        dimensions=[
            Dimension(name="t", count=None, type="time"),
            Dimension(name="c", count=2, type="channel"),
            Dimension(name="y", count=8),
            Dimension(name="x", count=8),
        ],
    )
    stream_all(s, frames=5)
    arrays = verify(s, ["t", "c"], frames=5)
    assert arrays[""].shape == (3, 2, 8, 8)
    assert not arrays[""][2, 1].any()  # never written: fill value


def test_empty_unbounded_stream_has_zero_length(make_settings) -> None:
    s = make_settings(
        "empty.ome.zarr",
        dimensions=[
            Dimension(name="t", count=None),
            Dimension(name="y", count=4),
            Dimension(name="x", count=4),
        ],
    )
    create_stream(s).close()
    assert read_zarr_both(Path(s.output_path) / "0").shape == (0, 4, 4)


@pytest.mark.parametrize("compression", [None, "blosc-zstd", "blosc-lz4", "zstd"])
@pytest.mark.parametrize("sharded", [False, True])
def test_codecs_sharded_and_not(make_settings, compression: str | None, sharded: bool) -> None:
    shard = 2 if sharded else None
    s = make_settings(
        "c.ome.zarr",
        compression=compression,
        dimensions=[
            Dimension(name="t", count=5, type="time", chunk_size=2, shard_size_chunks=shard),
            Dimension(name="c", count=2, type="channel"),
            Dimension(name="y", count=20, chunk_size=8, shard_size_chunks=shard),
            Dimension(name="x", count=13, chunk_size=8),
        ],
    )
    stream_all(s)
    verify(s, ["t", "c"])
    meta = json.loads((Path(s.output_path) / "0" / "zarr.json").read_text())
    names = [c["name"] for c in meta["codecs"]]
    if sharded:
        assert names == ["sharding_indexed"]
        inner = [c["name"] for c in meta["codecs"][0]["configuration"]["codecs"]]
    else:
        inner = names
    expected = {None: ["bytes"], "zstd": ["bytes", "zstd"]}.get(compression, ["bytes", "blosc"])
    assert inner == expected


@pytest.mark.parametrize("x_chunk", [128, 300])  # rows of >= 256 B and a ragged edge; whole rows
@pytest.mark.parametrize("sharded", [False, True])
def test_uncompressed_chunks_of_wide_frames(make_settings, x_chunk: int, sharded: bool) -> None:
    """Chunks and shards bound for the disk are assembled with streaming stores."""
    shard = 2 if sharded else None
    s = make_settings(
        "w.ome.zarr",
        dimensions=[
            Dimension(name="t", count=6, type="time", chunk_size=2, shard_size_chunks=shard),
            Dimension(name="y", count=40, chunk_size=16, shard_size_chunks=shard),
            Dimension(name="x", count=300, chunk_size=x_chunk),
        ],
    )
    stream_all(s)
    verify(s, ["t"])


@pytest.mark.parametrize(
    ("dtype", "compression", "level", "expected"),
    [
        # Integers: bit shuffle; blosc-zstd clevel 2, plain zstd level 1 (README).
        ("uint16", "blosc-zstd", None, {"cname": "zstd", "clevel": 2, "shuffle": "bitshuffle"}),
        ("uint8", "blosc-lz4", None, {"cname": "lz4", "clevel": 5, "shuffle": "bitshuffle"}),
        ("float32", "blosc-zstd", None, {"cname": "zstd", "clevel": 3, "shuffle": "shuffle"}),
        ("int32", "blosc-zstd", 7, {"cname": "zstd", "clevel": 7, "shuffle": "bitshuffle"}),
        ("uint16", "zstd", None, {"level": 1}),
        ("float64", "zstd", 9, {"level": 9}),
    ],
)
def test_codec_parameters_and_levels(
    make_settings, dtype: str, compression: str, level: int | None, expected: dict
) -> None:
    s = make_settings(
        "lv.ome.zarr", dtype=dtype, compression=compression, dimensions=t_frames(3, 40, 24)
    )
    stream_all(s, compression_level=level)
    verify(s, ["t"])  # zarr-python and tensorstore decode every frame exactly
    codec = json.loads((Path(s.output_path) / "0" / "zarr.json").read_text())["codecs"][1]
    assert {k: codec["configuration"][k] for k in expected} == expected


@pytest.mark.parametrize(
    ("compression", "level", "error", "match"),
    [
        ("zstd", 23, ValueError, "compression_level 23 is out of range for 'zstd' \\(1-22\\)"),
        ("blosc-zstd", 10, ValueError, "compression_level 10 is out of range for 'blosc-zstd'"),
        (None, 3, ValueError, "'none' takes no level"),
        ("zstd", 2.5, TypeError, "compression_level must be an integer, got float"),
    ],
)
def test_bad_compression_level_is_rejected_at_create(
    make_settings, compression: str | None, level: object, error: type, match: str
) -> None:
    s = make_settings("bad.ome.zarr", compression=compression, dimensions=t_frames(2, 8, 8))
    with pytest.raises(error, match=match):
        create_stream(s, compression_level=level)  # type: ignore[arg-type]
    assert not Path(s.output_path).exists()


def test_skip_leaves_fill_value(make_settings) -> None:
    s = make_settings(
        "skip.ome.zarr",
        dimensions=[
            Dimension(name="t", count=4, type="time", chunk_size=2),
            Dimension(name="y", count=6),
            Dimension(name="x", count=6),
        ],
    )
    with create_stream(s) as stream:
        stream.append(frame_for(0, (6, 6), "uint16"))
        stream.skip(frames=2)
        stream.append(frame_for(3, (6, 6), "uint16"))
        with pytest.raises(IndexError, match="skip"):
            stream.skip()
    arr = read_zarr_both(Path(s.output_path) / "0")
    np.testing.assert_array_equal(arr[0], frame_for(0, (6, 6), "uint16"))
    assert not arr[1:3].any()
    np.testing.assert_array_equal(arr[3], frame_for(3, (6, 6), "uint16"))


def _positions_dims(p_first: bool) -> list[Dimension]:
    p = Dimension(
        name="p",
        type="position",
        coords=[
            Position(name="A", x_coord=10.0, y_coord=20.0),
            Position(name="B", grid_row=0, grid_column=1),
        ],
    )
    t = Dimension(name="t", count=2, type="time")
    c = Dimension(name="c", count=2, type="channel")
    rest = [Dimension(name="y", count=6), Dimension(name="x", count=5)]
    return [p, t, c, *rest] if p_first else [t, p, c, *rest]


@pytest.mark.parametrize("p_first", [True, False])
def test_positions_use_the_bioformats2raw_layout(make_settings, p_first: bool) -> None:
    s = make_settings("pos.ome.zarr", dimensions=_positions_dims(p_first))
    stream_all(s)
    verify(s, ["t", "c"], model="bf2raw")
    root = Path(s.output_path)
    series = json.loads((root / "OME" / "zarr.json").read_text())["attributes"]["ome"]["series"]
    assert series == ["A", "B_0_1"]
    # Stage coordinates of a position become its translation (beyond 0.3.2).
    ms = json.loads((root / "A" / "zarr.json").read_text())["attributes"]["ome"]["multiscales"][0]
    assert ms["datasets"][0]["coordinateTransformations"][1]["translation"] == [
        0.0,
        0.0,
        20.0,
        10.0,
    ]
    # OME-XML for readers of the bioformats2raw layout.
    import ome_types

    ome = ome_types.from_xml((root / "OME" / "METADATA.ome.xml").read_text())
    assert [i.name for i in ome.images] == ["A", "B"]


def test_plate_uses_the_hcs_layout(make_settings) -> None:
    s = make_settings(
        "plate.ome.zarr",
        plate=Plate(row_names=["A", "B"], column_names=["1", "2"], name="P"),
        dimensions=[
            Dimension(
                name="p",
                type="position",
                coords=[
                    Position(name="fov0", plate_row="A", plate_column="1"),
                    Position(name="fov1", plate_row="A", plate_column="1"),
                    Position(name="fov0", plate_row="B", plate_column="2"),
                ],
            ),
            Dimension(name="t", count=2, type="time"),
            Dimension(name="y", count=6),
            Dimension(name="x", count=5),
        ],
    )
    stream_all(s)
    verify(s, ["t"], model="hcs")
    well = json.loads((Path(s.output_path) / "A" / "1" / "zarr.json").read_text())
    assert well["attributes"]["ome"]["well"]["images"] == [{"path": "fov0"}, {"path": "fov1"}]


def test_frame_metadata_journal_is_folded_at_close(make_settings) -> None:
    s = make_settings(
        "j.ome.zarr",
        dimensions=[
            Dimension(name="t", count=None),
            Dimension(name="y", count=4),
            Dimension(name="x", count=4),
        ],
    )
    stream = create_stream(s)
    for i in range(3):
        stream.append(frame_for(i, (4, 4), "uint16"), frame_metadata={"i": i, "name": f"f{i}"})
    stream.flush()
    root = Path(s.output_path)
    # After flush the metadata and the shape are on disk, before close.
    attrs = json.loads((root / "zarr.json").read_text())["attributes"]
    assert [e["i"] for e in attrs["ome_writers"]["frame_metadata"]] == [0, 1, 2]
    assert json.loads((root / "0" / "zarr.json").read_text())["shape"][0] == 3
    assert (root / "ome_writers.journal.jsonl").exists()
    stream.close()
    assert not (root / "ome_writers.journal.jsonl").exists()
    entries = json.loads((root / "zarr.json").read_text())["attributes"]["ome_writers"][
        "frame_metadata"
    ]
    assert entries[2] == {"i": 2, "name": "f2", "storage_index": [2]}
