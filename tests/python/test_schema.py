"""AcquisitionSettings and the models it is built from."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from ome_writers._schema import (
    AcquisitionSettings,
    Channel,
    Dimension,
    OmeTiffFormat,
    OmeZarrFormat,
    Plate,
    Position,
    PositionDimension,
    ScratchFormat,
    StandardAxis,
    _ome_stem_suffix,
    dims_from_standard_axes,
    is_channel_dim,
    is_position_dim,
    is_spatial_dim,
)

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def yx(ny: int = 16, nx: int = 16) -> list[Dimension]:
    return [
        Dimension(name="y", count=ny, type="space"),
        Dimension(name="x", count=nx, type="space"),
    ]


def settings(*dims: Dimension, **kwargs: Any) -> AcquisitionSettings:
    kwargs.setdefault("root_path", "out.ome.zarr")
    kwargs.setdefault("dtype", "uint16")
    return AcquisitionSettings(dimensions=[*dims, *yx()], **kwargs)


def names(dims: tuple[Dimension, ...]) -> list[str]:
    return [d.name for d in dims]


# ---------------------------------------------------------------------------
# strict base model
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        (Channel, {"name": "a"}),
        (Position, {"name": "a"}),
        (Dimension, {"name": "a"}),
        (Plate, {"row_names": ["A"], "column_names": ["1"]}),
        (OmeTiffFormat, {}),
        (OmeZarrFormat, {}),
        (ScratchFormat, {}),
        (AcquisitionSettings, {}),
    ],
)
def test_unknown_fields_are_rejected(model: type, kwargs: dict[str, Any]) -> None:
    model(**kwargs)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model(**kwargs, not_a_field=1)


def test_assignment_is_validated_and_rolled_back() -> None:
    ch = Channel(name="a")
    with pytest.raises(ValidationError):
        ch.emission_wavelength_nm = -5
    assert ch.emission_wavelength_nm is None

    s = settings(Dimension(name="t", count=3, type="time"))
    with pytest.raises(ValidationError, match="don't match"):
        s.storage_order = ["t", "q", "y", "x"]
    assert s.storage_order == "ome"  # a model-level failure also leaves no trace


# ---------------------------------------------------------------------------
# Channel and Position
# ---------------------------------------------------------------------------


def test_channel_fields_and_string_cast() -> None:
    ch = Channel(
        name="GFP",
        excitation_wavelength_nm=488,
        emission_wavelength_nm=510,
        fluorophore="EGFP",
        color="green",
    )
    assert ch.color is not None
    assert ch.color.as_rgb_tuple() == (0, 128, 0)
    dim = Dimension(name="c", coords=[ch, "DAPI"])
    assert dim.coords == [ch, Channel(name="DAPI")]
    with pytest.raises(ValidationError):
        Channel(name="")
    with pytest.raises(ValidationError):
        Channel(name="a", excitation_wavelength_nm=0)
    with pytest.raises(ValidationError):
        Channel(name="a", color="not-a-colour")


@pytest.mark.parametrize(
    ("color", "expected"),
    [
        ("red", "#ff0000"),
        ("#ABCDEF", "#abcdef"),
        ("#abc", "#aabbcc"),
        ((0, 128, 255), "#0080ff"),
        ((255, 0, 0, 1.0), "#ff0000"),
        ((255, 0, 0, 0.5), "#ff000080"),
        ("rgba(0, 0, 255, 0)", "#0000ff00"),
        (None, None),
    ],
)
def test_channel_color_json_is_lowercase_hex(color: Any, expected: str | None) -> None:
    ch = Channel(name="a", color=color)
    assert json.loads(ch.model_dump_json())["color"] == expected
    assert ch.model_dump(mode="json")["color"] == expected


def test_position_fields_and_pairs() -> None:
    pos = Position(
        name="A1/0",
        plate_row="A",
        plate_column="1",
        grid_row=0,
        grid_column=2,
        x_coord=1.5,
        y_coord=-2,
        z_coord=3,
    )
    assert (pos.x_coord, pos.y_coord, pos.z_coord) == (1.5, -2.0, 3.0)
    assert Dimension(name="p", coords=["a"]).coords == ["a"]  # no type, stays str
    assert Dimension(name="p", type="position", coords=["a"]).coords == [Position(name="a")]
    with pytest.raises(ValidationError, match="plate_row and plate_column must both"):
        Position(name="a", plate_row="A")
    with pytest.raises(ValidationError, match="plate_row and plate_column must both"):
        Position(name="a", plate_column="1")
    with pytest.raises(ValidationError, match="grid_row and grid_column must both"):
        Position(name="a", grid_column=0)
    with pytest.raises(ValidationError):
        Position(name="")


def test_position_names_unique_per_group() -> None:
    with pytest.raises(ValidationError, match="without row/column must have unique"):
        Dimension(name="p", type="position", coords=[Position(name="f0"), "f0"])
    with pytest.raises(ValidationError, match=r'unique within each group.*well \("C"'):
        Dimension(
            name="p",
            coords=[
                Position(name="f0", plate_row="C", plate_column="4"),
                Position(name="f0", plate_row="C", plate_column="4"),
            ],
        )
    with pytest.raises(ValidationError, match=r"grid position \(1, 2\)"):
        Dimension(
            name="p",
            coords=[
                Position(name="f0", grid_row=1, grid_column=2),
                Position(name="f0", grid_row=1, grid_column=2),
            ],
        )
    # the same name in different wells or grid cells is fine
    dim = Dimension(
        name="p",
        coords=[
            Position(name="f0", plate_row="A", plate_column="1", grid_row=0, grid_column=0),
            Position(name="f0", plate_row="B", plate_column="2", grid_row=0, grid_column=0),
            Position(name="f0", plate_row="A", plate_column="1", grid_row=1, grid_column=1),
        ],
    )
    assert dim.count == 3


def test_channel_names_unique() -> None:
    with pytest.raises(ValidationError, match=r"Channel names must be unique.*DAPI"):
        Dimension(name="c", coords=[Channel(name="DAPI"), "DAPI"])
    with pytest.raises(ValidationError, match="Channel names must be unique"):
        Dimension(name="c", type="channel", coords=["a", "a"])


# ---------------------------------------------------------------------------
# Dimension
# ---------------------------------------------------------------------------


def test_dimension_defaults() -> None:
    dim = Dimension(name="t")
    assert dim.model_dump() == {
        "name": "t",
        "count": None,
        "type": None,  # the name alone does not set a type
        "coords": None,
        "chunk_size": None,
        "shard_size_chunks": None,
        "unit": None,
        "scale": None,
        "translation": None,
    }
    with pytest.raises(ValidationError):
        Dimension(name="")
    for field in ("count", "chunk_size", "shard_size_chunks"):
        with pytest.raises(ValidationError):
            Dimension(name="t", **{field: 0})


def test_dimension_count_from_coords() -> None:
    dim = Dimension(name="z", coords=[0.0, 1.5, 3])
    assert dim.count == 3
    assert dim.coords == [0.0, 1.5, 3.0]
    assert dim.type is None
    assert Dimension(name="z", count=2, coords=("a", "b")).coords == ["a", "b"]
    with pytest.raises(ValidationError, match=r"Length of coords \(2\) does not match count \(3\)"):
        Dimension(name="z", count=3, coords=[1, 2])
    with pytest.raises(ValidationError, match="must be a list"):
        Dimension(name="z", coords="abc")  # type: ignore[arg-type]


def test_dimension_type_inference() -> None:
    assert Dimension(name="q", coords=[Channel(name="a"), "b"]).type == "channel"
    assert Dimension(name="q", coords=["a", Position(name="b")]).type == "position"
    assert Dimension(name="q", unit="um").type == "space"
    assert Dimension(name="q", unit="ms").type == "time"
    assert Dimension(name="q", coords=["a", "b"]).type is None
    assert Dimension(name="q", type="channel", coords=["a"]).coords == [Channel(name="a")]


def test_dimension_conflicts_and_mixing() -> None:
    with pytest.raises(ValidationError, match=r"coords suggests.*channel.*unit.*space"):
        Dimension(name="q", coords=[Channel(name="r")], unit="micrometer")
    with pytest.raises(ValidationError, match=r"coords suggests.*position.*unit.*time"):
        Dimension(name="q", coords=[Position(name="r")], unit="second")
    with pytest.raises(ValidationError, match="Channel objects in coords require type='channel'"):
        Dimension(name="q", coords=[Channel(name="r")], type="time")
    with pytest.raises(ValidationError, match="Position objects in coords require type='position'"):
        Dimension(name="q", coords=[Position(name="r")], type="space")
    with pytest.raises(ValidationError, match="May not mix Channel objects"):
        Dimension(name="q", coords=[Channel(name="r"), 1])
    with pytest.raises(ValidationError, match="May not mix Channel objects"):
        Dimension(name="q", coords=[Channel(name="r"), Position(name="s")])
    with pytest.raises(ValidationError, match="May not mix Position objects"):
        Dimension(name="q", coords=[Position(name="r"), 2.0])


def test_position_dimension_coords_generated_or_refused() -> None:
    dim = Dimension(name="p", type="position", count=3)
    assert dim.coords == [Position(name="0"), Position(name="1"), Position(name="2")]
    with pytest.raises(NotImplementedError, match="Unbounded position dimensions"):
        Dimension(name="p", type="position")
    with pytest.raises(NotImplementedError, match="Empty coords for position"):
        Dimension(name="p", type="position", coords=[])
    with pytest.raises(NotImplementedError, match="Unbounded position dimensions"):
        StandardAxis.POSITION.to_dimension()


def test_dimension_assignment_keeps_fields_consistent() -> None:
    dim = Dimension(name="c", type="channel", coords=["a", "b"])
    dim.coords = ["x", "y"]
    assert dim.coords == [Channel(name="x"), Channel(name="y")]
    with pytest.raises(ValidationError, match="does not match count"):
        dim.coords = ["x"]
    assert dim.coords == [Channel(name="x"), Channel(name="y")]
    with pytest.raises(ValidationError, match="Channel names must be unique"):
        dim.coords = ["x", "x"]

    other = Dimension(name="q")
    other.coords = [1, 2, 3, 4]
    assert other.count == 4
    other.unit = "nm"
    assert (other.type, other.unit) == ("space", "nanometer")


def test_position_dimension_is_deprecated() -> None:
    with pytest.warns(DeprecationWarning, match="PositionDimension is deprecated"):
        legacy = PositionDimension(positions=["Pos0", "Pos1"])  # type: ignore[call-arg]
    modern = Dimension(name="p", type="position", coords=["Pos0", "Pos1"])
    assert legacy.model_dump() == modern.model_dump()
    assert (
        legacy.model_dump()
        == (Dimension(name="p", coords=[Position(name="Pos0"), Position(name="Pos1")])).model_dump()
    )
    assert isinstance(legacy, Dimension)
    with pytest.warns(DeprecationWarning):
        named = PositionDimension(name="site", count=2)
    assert (named.name, named.type, named.count) == ("site", "position", 2)


def test_dimension_kind_helpers() -> None:
    assert is_channel_dim(Dimension(name="c", type="channel"))
    assert is_position_dim(Dimension(name="p", type="position", count=1))
    assert is_spatial_dim(Dimension(name="z", type="space"))
    assert not is_spatial_dim(Dimension(name="z"))


# ---------------------------------------------------------------------------
# StandardAxis and dims_from_standard_axes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("axis", "kind", "unit"),
    [
        (StandardAxis.X, "space", "micrometer"),
        (StandardAxis.Y, "space", "micrometer"),
        (StandardAxis.Z, "space", "micrometer"),
        (StandardAxis.CHANNEL, "channel", None),
        (StandardAxis.TIME, "time", "second"),
        (StandardAxis.POSITION, "position", None),
    ],
)
def test_standard_axis(axis: StandardAxis, kind: str, unit: str | None) -> None:
    assert axis.dimension_type() == kind
    assert axis.unit() == unit
    assert StandardAxis(axis.value) is axis
    assert axis == axis.value  # a str enum


def test_standard_axis_to_dimension() -> None:
    dim = StandardAxis.Z.to_dimension(count=5, chunk_size=2, shard_size_chunks=3, scale=0.5)
    assert dim == Dimension(
        name="z",
        count=5,
        type="space",
        unit="micrometer",
        chunk_size=2,
        shard_size_chunks=3,
        scale=0.5,
    )
    chans = StandardAxis.CHANNEL.to_dimension(coords=["DAPI", "GFP"])
    assert chans.count == 2
    assert chans.coords == [Channel(name="DAPI"), Channel(name="GFP")]


def test_dims_from_standard_axes_matches_reference_example() -> None:
    dims = dims_from_standard_axes({"t": 10, "p": ["A", "B"], "c": 2, "z": 5, "y": 512, "x": 512})
    got = [(d.name, d.type, d.unit, d.count, d.chunk_size) for d in dims]
    assert got == [
        ("t", "time", "second", 10, 1),
        ("p", "position", None, 2, None),
        ("c", "channel", None, 2, 1),
        ("z", "space", "micrometer", 5, 1),
        ("y", "space", "micrometer", 512, 512),
        ("x", "space", "micrometer", 512, 512),
    ]
    assert dims[1].coords == [Position(name="A"), Position(name="B")]
    assert all(d.shard_size_chunks is None for d in dims)


def test_dims_from_standard_axes_options() -> None:
    dims = dims_from_standard_axes(
        {StandardAxis.TIME: None, "p": 3, "y": 64, "x": 32},  # type: ignore[dict-item]
        chunk_shapes={"t": 4, StandardAxis.X: 16},
        shard_shapes={"x": 2},
    )
    assert [(d.name, d.count, d.chunk_size) for d in dims] == [
        ("t", None, 4),
        ("p", 3, None),
        ("y", 64, 64),
        ("x", 32, 16),
    ]
    assert dims[1].coords == [Position(name=str(i)) for i in range(3)]
    assert [d.shard_size_chunks for d in dims] == [None, None, None, 2]
    s = AcquisitionSettings(root_path="a.zarr", dimensions=dims, dtype="u2")
    assert s.is_unbounded


def test_dims_from_standard_axes_rejects_other_names() -> None:
    with pytest.raises(ValueError, match="Standard axes names must be one of"):
        dims_from_standard_axes({"q": 10, "y": 64, "x": 64})


# ---------------------------------------------------------------------------
# dimension list rules
# ---------------------------------------------------------------------------


def test_dimension_names_unique() -> None:
    with pytest.raises(ValidationError, match=r"names must be unique.*\['t'\]"):
        settings(Dimension(name="t", count=2), Dimension(name="t", count=3))


def test_only_first_dimension_unbounded() -> None:
    assert settings(Dimension(name="t")).is_unbounded
    with pytest.raises(ValidationError, match="Only the first dimension may be unbound"):
        settings(Dimension(name="t", count=2), Dimension(name="c"))
    with pytest.raises(ValidationError, match="Only the first dimension may be unbound"):
        AcquisitionSettings(dimensions=[Dimension(name="y", count=2), Dimension(name="x")])


def test_one_position_dimension_only() -> None:
    with pytest.raises(ValidationError, match="Only one position dimension"):
        settings(
            Dimension(name="p", type="position", count=1),
            Dimension(name="q", type="position", count=2),
        )


def test_dimension_count_limits() -> None:
    with pytest.raises(ValidationError, match="At least 2 non-position dimensions"):
        AcquisitionSettings(dimensions=[Dimension(name="x", count=4)])
    with pytest.raises(ValidationError, match="At least 2 non-position dimensions"):
        AcquisitionSettings(
            dimensions=[
                Dimension(name="p", type="position", count=2),
                Dimension(name="x", count=4),
            ]
        )
    with pytest.raises(ValidationError, match="At most 5 non-position dimensions"):
        settings(*(Dimension(name=n, count=2) for n in "tczq"))
    # 5 array dimensions plus a position dimension is the maximum
    s = settings(
        Dimension(name="p", type="position", count=2),
        *(Dimension(name=n, count=2) for n in "tcz"),
    )
    assert len(s.dimensions) == 6
    assert len(s.array_dimensions) == 5


def test_last_two_dimensions_are_space() -> None:
    with pytest.raises(ValidationError, match="last two dimensions must be spatial"):
        AcquisitionSettings(dimensions=[*yx(), Dimension(name="t", count=3, type="time")])
    with pytest.raises(ValidationError, match="last two dimensions must be spatial"):
        AcquisitionSettings(
            dimensions=[
                Dimension(name="y", count=3),
                Dimension(name="x", count=3),
                Dimension(name="p", type="position", count=2),
            ]
        )


def test_untyped_frame_dimensions_become_space() -> None:
    y, x = Dimension(name="Y", count=4), Dimension(name="x", count=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # standard names: no warning
        s = AcquisitionSettings(dimensions=[y, x])
    assert [d.type for d in s.dimensions] == ["space", "space"]
    assert y.type is None  # the caller's objects are not modified

    with pytest.warns(UserWarning, match="expected to have type='space'") as record:
        s = AcquisitionSettings(
            dimensions=[Dimension(name="row", count=4), Dimension(name="col", count=4)]
        )
    assert [d.type for d in s.dimensions] == ["space", "space"]
    assert record[0].filename == __file__  # the warning points at the caller


def test_position_dimension_anywhere_but_last_two() -> None:
    p = Dimension(name="p", type="position", coords=["a", "b"])
    t = Dimension(name="t", count=3, type="time")
    for order in ([p, t], [t, p]):
        s = settings(*order)
        assert s.position_dimension_index == order.index(p)
        assert names(s.index_dimensions) == ["t"]
        assert s.num_frames == 6


# ---------------------------------------------------------------------------
# dtype, root_path, deferred fields
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("uint16", "uint16"),
        ("u2", "uint16"),
        (">u2", "uint16"),
        ("<i4", "int32"),
        (np.uint8, "uint8"),
        (np.dtype("float32"), "float32"),
        ("f8", "float64"),
        (bool, "bool"),
        ("complex64", "complex64"),
        ("", ""),
        (None, ""),
    ],
)
def test_dtype_normalised(value: Any, expected: str) -> None:
    assert AcquisitionSettings(dtype=value).dtype == expected


@pytest.mark.parametrize("value", ["not_a_valid_dtype", "O", "U8", "M8[s]", object])
def test_dtype_invalid(value: Any) -> None:
    with pytest.raises(ValidationError, match="Invalid dtype"):
        AcquisitionSettings(dtype=value)


def test_root_path_accepts_pathlike(tmp_path: Path) -> None:
    s = AcquisitionSettings(root_path=tmp_path / "a.ome.tiff")
    assert s.root_path == str(tmp_path / "a.ome.tiff")
    assert isinstance(s.format, OmeTiffFormat)
    with pytest.raises(ValidationError):
        AcquisitionSettings(root_path=5)  # type: ignore[arg-type]


def test_dimensions_and_dtype_may_be_set_later() -> None:
    s = AcquisitionSettings(root_path="a.zarr")
    assert (s.dimensions, s.dtype) == ((), "")
    with pytest.raises(ValueError, match="dimensions must be set"):
        s.validate_stream_ready()
    s.dimensions = (Dimension(name="t", count=10, type="time"), *yx(8, 4))
    with pytest.raises(ValueError, match="dtype must be set"):
        s.validate_stream_ready()
    s.dtype = "uint16"
    assert s.validate_stream_ready() is True
    assert s.shape == (10, 8, 4)
    assert s.num_frames == 10
    assert s.dimensions[-1].type == "space"
    with pytest.raises(ValidationError, match="At least 2"):
        s.dimensions = (Dimension(name="x", count=2),)
    assert s.shape == (10, 8, 4)


def test_validate_stream_ready_requires_root_path_for_files() -> None:
    s = AcquisitionSettings(dimensions=yx(), dtype="u1", format="ome-zarr")
    with pytest.raises(ValueError, match="root_path is required for ome-zarr format"):
        s.validate_stream_ready()
    scratch = AcquisitionSettings(dimensions=yx(), dtype="u1")
    assert isinstance(scratch.format, ScratchFormat)
    assert scratch.validate_stream_ready() is True


@pytest.mark.parametrize(
    "prop",
    [
        "output_path",
        "shape",
        "is_unbounded",
        "num_frames",
        "positions",
        "position_dimension_index",
        "frame_dimensions",
        "index_dimensions",
        "array_dimensions",
        "storage_index_dimensions",
        "storage_index_permutation",
        "array_storage_dimensions",
    ],
)
def test_properties_need_dimensions(prop: str) -> None:
    s = AcquisitionSettings(root_path="a.zarr")
    with pytest.raises(ValueError, match=f"Cannot access '{prop}': dimensions has not been set"):
        getattr(s, prop)


# ---------------------------------------------------------------------------
# format selection
# ---------------------------------------------------------------------------

FORMAT_CASES: list[tuple[dict[str, Any], Any]] = [
    # auto: from the root_path suffix
    ({"root_path": ""}, ScratchFormat()),
    ({"root_path": "out.ome.tiff"}, OmeTiffFormat()),
    ({"root_path": "out.ome.tif"}, OmeTiffFormat(suffix=".ome.tif")),
    ({"root_path": "out.TIF"}, OmeTiffFormat(suffix=".tif")),
    ({"root_path": "out.zarr"}, OmeZarrFormat(suffix=".zarr")),
    ({"root_path": "out.OME.ZARR"}, OmeZarrFormat(suffix=".ome.zarr")),
    ({"format": "auto", "root_path": "d/x.ome.zarr"}, OmeZarrFormat()),
    # strings
    ({"format": "scratch"}, ScratchFormat()),
    ({"format": "memory", "root_path": "x.zarr"}, ScratchFormat()),
    ({"format": "ome-tiff"}, OmeTiffFormat()),
    ({"format": "TIFF", "root_path": "x.tif"}, OmeTiffFormat(suffix=".tif")),
    ({"format": "tifffile", "root_path": "x"}, OmeTiffFormat(backend="tifffile")),
    ({"format": "ome-zarr"}, OmeZarrFormat()),
    ({"format": "Zarr", "root_path": "x.zarr"}, OmeZarrFormat(suffix=".zarr")),
    (
        {"format": "zarr-python", "root_path": "out.zarr"},
        OmeZarrFormat(backend="zarr-python", suffix=".zarr"),
    ),
    ({"format": "tensorstore"}, OmeZarrFormat(backend="tensorstore")),
    ({"format": "acquire-zarr"}, OmeZarrFormat(backend="acquire-zarr")),
    ({"format": "zarrs-python"}, OmeZarrFormat(backend="zarrs-python")),
    # "native": the format the suffix implies, zarr without one
    ({"format": "native", "root_path": "x"}, OmeZarrFormat(backend="native")),
    ({"format": "native"}, OmeZarrFormat(backend="native")),
    (
        {"format": "native", "root_path": "x.ome.tif"},
        OmeTiffFormat(backend="native", suffix=".ome.tif"),
    ),
    (
        {"format": "NATIVE", "root_path": "x.zarr"},
        OmeZarrFormat(backend="native", suffix=".zarr"),
    ),
    # dicts: a missing suffix comes from root_path, else the format default
    ({"format": {"name": "scratch"}}, ScratchFormat()),
    ({"format": {"name": "ome-zarr"}, "root_path": "o.zarr"}, OmeZarrFormat(suffix=".zarr")),
    ({"format": {"name": "ome-tiff"}, "root_path": "/tmp/noext"}, OmeTiffFormat()),
    ({"format": {"name": "ome-zarr"}, "root_path": "/tmp/noext"}, OmeZarrFormat()),
    (
        {"format": {"name": "ome-zarr", "suffix": ".zr"}, "root_path": "o.zarr"},
        OmeZarrFormat(suffix=".zr"),
    ),
    (
        {"format": {"name": "ome-zarr", "backend": "acquire-zarr"}, "root_path": "o"},
        OmeZarrFormat(backend="acquire-zarr"),
    ),
    (
        {"format": {"name": "ome-tiff", "backend": "native"}, "root_path": "o.tiff"},
        OmeTiffFormat(backend="native", suffix=".tiff"),
    ),
    # objects are kept as given
    (
        {"format": OmeTiffFormat(prefer_single_file="never")},
        OmeTiffFormat(prefer_single_file="never"),
    ),
    (
        {"format": ScratchFormat(max_memory_bytes=10), "root_path": "x.zarr"},
        ScratchFormat(max_memory_bytes=10),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "expected"), FORMAT_CASES)
def test_format_table(kwargs: dict[str, Any], expected: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert AcquisitionSettings(**kwargs).format == expected


def test_auto_format_without_suffix_picks_zarr_with_warning() -> None:
    with pytest.warns(UserWarning, match="format could not be inferred from root_path"):
        s = AcquisitionSettings(root_path="plain_dir", dimensions=yx())
    assert s.format == OmeZarrFormat()
    assert s.output_path == "plain_dir.ome.zarr"


@pytest.mark.parametrize(
    ("kwargs", "fmt", "suffix", "output"),
    [
        ({"root_path": "x.ome.zarr", "format": "ome-tiff"}, "ome-tiff", ".ome.zarr", "x.ome.zarr"),
        ({"root_path": "x.zarr", "format": "tifffile"}, "ome-tiff", ".zarr", "x.zarr"),
        ({"root_path": "x.ome.tiff", "format": "zarr"}, "ome-zarr", ".ome.tiff", "x.ome.tiff"),
        ({"root_path": "x.ome.tiff", "format": "ome-zarr"}, "ome-zarr", ".ome.tiff", "x.ome.tiff"),
        ({"root_path": "x.tif", "format": "tensorstore"}, "ome-zarr", ".tif", "x.tif"),
        ({"root_path": "x.zarr", "format": {"name": "ome-tiff"}}, "ome-tiff", ".zarr", "x.zarr"),
        ({"root_path": "x.tiff", "format": OmeZarrFormat()}, "ome-zarr", ".ome.zarr", "x.ome.zarr"),
        ({"root_path": "x", "format": OmeZarrFormat(suffix=".ome.tiff")}, "ome-zarr", ".ome.tiff",
         "x.ome.tiff"),
    ],
)  # fmt: skip
def test_format_contradicting_suffix_is_accepted(
    kwargs: dict[str, Any], fmt: str, suffix: str, output: str
) -> None:
    """0.3.2 accepts a format that contradicts root_path's extension, silently, and
    takes the extension as the format's suffix (a Zarr store named x.ome.tiff); a
    format object keeps its own suffix. create_stream warns (test_stream_api)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = AcquisitionSettings(**kwargs, dimensions=yx(), dtype="uint8")
    assert s.format.name == fmt
    assert s.format.suffix == suffix
    assert s.output_path == output
    assert s._suffix_contradiction() is not None


def test_matching_suffix_is_no_contradiction() -> None:
    for root, fmt in [("x.ome.tiff", "ome-tiff"), ("x.zarr", "tensorstore"), ("x", "zarr")]:
        s = AcquisitionSettings(root_path=root, format=fmt, dimensions=yx(), dtype="uint8")
        assert s._suffix_contradiction() is None
    scratch = AcquisitionSettings(root_path="x.ome.tiff", format="scratch", dimensions=yx())
    assert scratch._suffix_contradiction() is None


@pytest.mark.parametrize(
    ("first", "steps", "fmt", "suffix", "output"),
    [
        # root_path then format, and the other way round, in both directions
        ("a.ome.zarr", [("root_path", "x.ome.tiff"), ("format", "ome-tiff")], "ome-tiff",
         ".ome.tiff", "x.ome.tiff"),
        ("a.ome.zarr", [("format", "ome-tiff"), ("root_path", "x.ome.tiff")], "ome-tiff",
         ".ome.tiff", "x.ome.tiff"),
        ("a.ome.tiff", [("root_path", "x.ome.zarr"), ("format", "ome-zarr")], "ome-zarr",
         ".ome.zarr", "x.ome.zarr"),
        ("a.ome.tiff", [("format", "ome-zarr"), ("root_path", "x.ome.zarr")], "ome-zarr",
         ".ome.zarr", "x.ome.zarr"),
        # a contradicting root_path alone: the format and its suffix stay
        ("a.ome.zarr", [("root_path", "x.ome.tiff")], "ome-zarr", ".ome.zarr", "x.ome.zarr"),
        ("a.ome.tiff", [("root_path", "x.zarr")], "ome-tiff", ".ome.tiff", "x.ome.tiff"),
        # an assigned format gets its default suffix, whatever root_path says
        ("a.ome.tiff", [("format", "tensorstore")], "ome-zarr", ".ome.zarr", "a.ome.zarr"),
        ("a.tif", [("format", "ome-tiff")], "ome-tiff", ".ome.tiff", "a.ome.tiff"),
        ("a.ome.zarr", [("root_path", "x.ome.tiff"), ("format", {"name": "ome-tiff"})],
         "ome-tiff", ".ome.tiff", "x.ome.tiff"),
        ("a.ome.zarr", [("root_path", "x.ome.tiff"), ("format", "tifffile")], "ome-tiff",
         ".ome.tiff", "x.ome.tiff"),
        # from scratch (no root_path) to a file format
        ("", [("root_path", "x.ome.tiff"), ("format", "ome-tiff")], "ome-tiff", ".ome.tiff",
         "x.ome.tiff"),
    ],
)  # fmt: skip
def test_reassigning_root_path_and_format(
    first: str, steps: list[tuple[str, Any]], fmt: str, suffix: str, output: str
) -> None:
    """0.3.2 accepts root_path and format reassigned in either order, with no
    warning; an assigned format string or dict takes the format's default suffix
    (0.3.2 reads root_path's extension only at construction)."""
    s = AcquisitionSettings(root_path=first, dimensions=yx(), dtype="uint8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, value in steps:
            setattr(s, name, value)
    assert s.format.name == fmt
    assert s.format.suffix == suffix
    assert s.output_path == output


def test_assigned_auto_format_follows_root_path() -> None:
    """0.3.2 rejects an assigned format='auto' (ValidationError); we resolve it
    from root_path as at construction (a deliberate difference)."""
    s = AcquisitionSettings(root_path="a.ome.zarr", dimensions=yx(), dtype="uint8")
    s.root_path = "x.ome.tif"
    s.format = "auto"  # type: ignore[assignment]
    assert s.format == OmeTiffFormat(suffix=".ome.tif")


def test_format_assignment_from_string() -> None:
    s = AcquisitionSettings(root_path="test", format={"name": "ome-tiff"})
    assert isinstance(s.format, OmeTiffFormat)
    copy = s.model_copy(deep=True)
    copy.format = "acquire-zarr"  # type: ignore[assignment]
    assert copy.format == OmeZarrFormat(backend="acquire-zarr")
    assert isinstance(s.format, OmeTiffFormat)


def test_format_suffix_of_the_other_kind_is_accepted() -> None:
    """0.3.2 accepts a format model with the other format's suffix."""
    assert OmeTiffFormat(suffix=".ome.zarr").get_output_path("a/x") == "a/x.ome.zarr"
    assert OmeZarrFormat(suffix=".tif").get_output_path("a/x.ome.zarr") == "a/x.tif"


@pytest.mark.parametrize(
    "fmt",
    [
        "hdf5",
        {"name": "hdf5"},
        {"name": "ome-tiff", "backend": "tensorstore"},
        {"name": "ome-zarr", "backend": "tifffile"},
        {"name": "ome-zarr", "backend": "bogus"},
        {"name": "scratch", "backend": "native"},
    ],
)
def test_bad_formats(fmt: Any) -> None:
    with pytest.raises(ValidationError):
        AcquisitionSettings(format=fmt)


def test_unknown_format_string_lists_choices() -> None:
    with pytest.raises(ValidationError, match=r"Unknown format 'hdf5'.*'ome-zarr'"):
        AcquisitionSettings(format="hdf5")


def test_legacy_backend_key() -> None:
    with pytest.raises(ValidationError, match="`backend` is no longer a top-level"):
        AcquisitionSettings(root_path="a.zarr", backend="tensorstore")  # type: ignore[call-arg]


def test_format_defaults() -> None:
    assert OmeTiffFormat().model_dump() == {
        "name": "ome-tiff",
        "backend": "auto",
        "suffix": ".ome.tiff",
        "prefer_single_file": "auto",
        "multi_file_metadata": "redundant",
        "companion_file": "companion.ome",
    }
    assert OmeZarrFormat().model_dump() == {
        "name": "ome-zarr",
        "backend": "auto",
        "suffix": ".ome.zarr",
    }
    assert ScratchFormat().model_dump() == {
        "name": "scratch",
        "backend": "scratch",
        "max_memory_bytes": 4 * 1024**3,
        "suffix": "",
        "spill_to_disk": True,
    }
    assert OmeTiffFormat(prefer_single_file=True).prefer_single_file == "always"  # type: ignore[arg-type]
    assert OmeTiffFormat(prefer_single_file=False).prefer_single_file == "never"  # type: ignore[arg-type]
    for backend in ("auto", "tifffile", "native"):
        assert OmeTiffFormat(backend=backend).backend == backend  # type: ignore[arg-type]
    for backend in (
        "auto",
        "native",
        "tensorstore",
        "acquire-zarr",
        "zarrs-python",
        "zarr-python",
    ):
        assert OmeZarrFormat(backend=backend).backend == backend  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# output paths
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("data/image.tiff", ("data/image", ".tiff")),
        ("data/image.ome.tiff", ("data/image", ".ome.tiff")),
        ("data/image.OME.TIF", ("data/image", ".ome.tif")),
        ("data/image.test.ome.tiff", ("data/image.test", ".ome.tiff")),
        ("data/image.ome.test.zarr", ("data/image.ome.test", ".zarr")),
        ("data/image.ome.test", ("data/image.ome.test", "")),
        ("", ("", "")),
    ],
)
def test_ome_stem_suffix(path: str, expected: tuple[str, str]) -> None:
    assert _ome_stem_suffix(path) == expected


def test_get_output_path_per_format() -> None:
    tiff = OmeTiffFormat()
    assert tiff.get_output_path("d/a.ome.tiff") == "d/a.ome.tiff"
    assert tiff.get_output_path("d/a.tif") == "d/a.ome.tiff"
    assert tiff.get_output_path("d/a.ome.tiff", num_positions=3) == "d/a"
    never = OmeTiffFormat(prefer_single_file="never")
    assert never.get_output_path("d/a.ome.tiff") == "d/a"
    always = OmeTiffFormat(prefer_single_file="always")
    assert always.get_output_path("d/a.ome.tiff", num_positions=3) == "d/a.ome.tiff"
    zarr = OmeZarrFormat(suffix=".zarr")
    assert zarr.get_output_path("d/a.ome.zarr", num_positions=4) == "d/a.zarr"
    assert OmeZarrFormat().get_output_path("d/a") == "d/a.ome.zarr"
    assert ScratchFormat().get_output_path("d/whatever.zarr") == "d/whatever.zarr"


def test_output_path_property() -> None:
    p2 = Dimension(name="p", type="position", count=2)
    assert settings(root_path="o.ome.tiff").output_path == "o.ome.tiff"
    assert settings(p2, root_path="o.ome.tiff").output_path == "o"
    always = OmeTiffFormat(prefer_single_file="always")
    # several positions in one multi-series TIFF are allowed
    s = settings(p2, root_path="o.ome.tiff", format=always)
    assert s.output_path == "o.ome.tiff"
    assert len(s.positions) == 2
    assert settings(p2, root_path="o.zarr").output_path == "o.zarr"


# ---------------------------------------------------------------------------
# compression
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["none", "lzw", "deflate", "zstd", None])
def test_tiff_compression(codec: str | None) -> None:
    assert settings(root_path="a.tif", compression=codec).compression == codec


@pytest.mark.parametrize("codec", ["none", "blosc-zstd", "blosc-lz4", "zstd", None])
def test_zarr_compression(codec: str | None) -> None:
    assert settings(root_path="a.zarr", compression=codec).compression == codec


@pytest.mark.parametrize(
    ("root", "codec", "label"),
    [
        ("a.tif", "blosc-zstd", "OME-TIFF"),
        ("a.tif", "blosc-lz4", "OME-TIFF"),
        ("a.zarr", "lzw", "OME-Zarr"),
        ("a.zarr", "deflate", "OME-Zarr"),
    ],
)
def test_compression_must_suit_format(root: str, codec: str, label: str) -> None:
    with pytest.raises(ValidationError, match=f"'{codec}' is not supported for {label}"):
        settings(root_path=root, compression=codec)
    s = settings(root_path="", compression=codec)  # scratch ignores compression
    assert s.compression == codec
    # the check runs again when the format changes afterwards
    with pytest.raises(ValidationError, match=f"not supported for {label}"):
        s.format = "tiff" if label == "OME-TIFF" else "zarr"  # type: ignore[assignment]
    assert isinstance(s.format, ScratchFormat)


def test_unknown_compression() -> None:
    with pytest.raises(ValidationError):
        settings(compression="gzip")


# ---------------------------------------------------------------------------
# storage order
# ---------------------------------------------------------------------------


def tzcp() -> list[Dimension]:
    return [
        Dimension(name="z", count=3, type="space", unit="um"),
        Dimension(name="p", type="position", count=2),
        Dimension(name="c", count=2, type="channel"),
        Dimension(name="t", count=4, type="time"),
    ]


def test_storage_order_ome_zarr_is_tczyx() -> None:
    s = settings(*tzcp(), root_path="a.ome.zarr")
    assert names(s.index_dimensions) == ["z", "c", "t"]
    assert names(s.storage_index_dimensions) == ["t", "c", "z"]
    assert s.storage_index_permutation == (2, 1, 0)
    assert names(s.array_storage_dimensions) == ["t", "c", "z", "y", "x"]
    assert names(s.array_dimensions) == ["z", "c", "t", "y", "x"]


def test_storage_order_ome_zarr_sort_details() -> None:
    s = settings(
        Dimension(name="q", count=2, type="other"),
        Dimension(name="z", count=2, type="space"),
        Dimension(name="w", count=2, type="space"),
        root_path="a.zarr",
    )
    # a space dimension with a non-standard name ranks before z; "other" last
    assert names(s.storage_index_dimensions) == ["w", "z", "q"]
    assert s.storage_index_permutation == (2, 1, 0)

    s = settings(
        Dimension(name="u", count=2),  # untyped: sorts with "other"
        Dimension(name="v", count=2, type="other"),
        Dimension(name="t", count=2, type="time"),
        root_path="a.zarr",
    )
    assert names(s.storage_index_dimensions) == ["t", "u", "v"]
    assert s.storage_index_permutation == (2, 0, 1)


def test_storage_order_ome_tiff_keeps_acquisition_order() -> None:
    s = settings(*tzcp(), root_path="a.ome.tiff")
    assert names(s.storage_index_dimensions) == ["z", "c", "t"]
    assert s.storage_index_permutation is None


def test_storage_order_scratch_is_acquisition() -> None:
    s = settings(*tzcp(), root_path="", format="scratch")
    assert names(s.storage_index_dimensions) == ["z", "c", "t"]
    assert s.storage_index_permutation is None


def test_storage_order_acquisition() -> None:
    s = settings(*tzcp(), root_path="a.zarr", storage_order="acquisition")
    assert names(s.storage_index_dimensions) == ["z", "c", "t"]
    assert s.storage_index_permutation is None


def test_storage_order_list() -> None:
    order = ["c", "t", "p", "z", "y", "x"]
    s = settings(*tzcp(), root_path="a.zarr", storage_order=order)
    assert s.storage_order == order
    assert names(s.storage_index_dimensions) == ["c", "t", "z"]
    assert s.storage_index_permutation == (1, 2, 0)


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (["p", "t", "c", "z", "x", "y"], "may not \\(yet\\) permute the last two"),
        (["y", "x", "p", "t", "c", "z"], "may not \\(yet\\) permute the last two"),
        (["p", "t", "c", "y", "z", "x"], "may not \\(yet\\) permute the last two"),
        (["t", "c", "z", "y", "x"], "don't match acquisition dimension names"),
        (["p", "t", "c", "z", "q", "y", "x"], "don't match"),
        (["p", "t", "t", "z", "y", "x"], "don't match"),
        ([], "don't match"),
    ],
)
def test_storage_order_list_errors(order: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(*tzcp(), storage_order=order)


def test_storage_order_rechecked_when_dimensions_change() -> None:
    s = settings(*tzcp(), storage_order=["p", "t", "c", "z", "y", "x"])
    with pytest.raises(ValidationError, match="don't match"):
        s.dimensions = (Dimension(name="t", count=2), *yx())
    assert len(s.dimensions) == 6


# ---------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------


def test_acquisition_properties() -> None:
    s = settings(
        Dimension(name="t", count=10, type="time"),
        Dimension(name="p", coords=[Position(name="a"), Position(name="b")]),
        Dimension(name="c", count=3, type="channel"),
    )
    assert s.shape == (10, 2, 3, 16, 16)
    assert s.is_unbounded is False
    assert s.num_frames == 60
    assert [p.name for p in s.positions] == ["a", "b"]
    assert s.position_dimension_index == 1
    assert names(s.frame_dimensions) == ["y", "x"]
    assert names(s.index_dimensions) == ["t", "c"]
    assert names(s.array_dimensions) == ["t", "c", "y", "x"]
    assert names(s.storage_index_dimensions) == ["t", "c"]
    assert s.storage_index_permutation is None


def test_properties_without_positions_and_unbounded() -> None:
    s = settings(Dimension(name="t", type="time"))
    assert s.positions == (Position(name="0"),)
    assert s.position_dimension_index is None
    assert s.is_unbounded is True
    assert s.num_frames is None
    assert s.shape == (None, 16, 16)
    assert settings().num_frames == 1


# ---------------------------------------------------------------------------
# plate
# ---------------------------------------------------------------------------


def wells(*cells: tuple[str, str]) -> Dimension:
    return Dimension(
        name="p",
        coords=[
            Position(name=f"fov{i}", plate_row=r, plate_column=c) for i, (r, c) in enumerate(cells)
        ],
    )


def test_plate_mode() -> None:
    plate = Plate(row_names=["A", "B"], column_names=["1", "2"], name="P1")
    s = settings(wells(("A", "1"), ("B", "2")), plate=plate)
    assert s.plate == plate
    assert s.plate is not None
    assert s.plate.name == "P1"


def test_plate_requires_position_dimension() -> None:
    with pytest.raises(ValidationError, match="Plate mode requires a position dim"):
        settings(plate=Plate(row_names=["A"], column_names=["1"]))


def test_plate_requires_row_and_column() -> None:
    with pytest.raises(ValidationError, match=r"must have row and column for plate mode.*\['A1'\]"):
        settings(
            Dimension(name="p", type="position", coords=["A1"]),
            plate=Plate(row_names=["A"], column_names=["1"]),
        )


def test_plate_positions_outside_plate_warn() -> None:
    with pytest.warns(UserWarning, match=r"not in the plate definition: \['fov1'\]"):
        settings(
            wells(("A", "1"), ("C", "3")),
            plate=Plate(row_names=["A"], column_names=["1"]),
        )


def test_plate_model_rules() -> None:
    with pytest.raises(ValidationError, match="row_names must be unique"):
        Plate(row_names=["A", "A"], column_names=["1"])
    with pytest.raises(ValidationError, match="column_names must be unique"):
        Plate(row_names=["A"], column_names=["1", "1"])
    with pytest.raises(ValidationError):
        Plate(row_names=[], column_names=["1"])
    with pytest.raises(ValidationError):
        Plate(row_names=["A"])  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("wells_", "shape"),
    [
        (6, (2, 3)),
        (12, (3, 4)),
        (24, (4, 6)),
        (48, (6, 8)),
        (96, (8, 12)),
        (384, (16, 24)),
        (1536, (32, 48)),
    ],
)
def test_from_standard_wells(wells_: int, shape: tuple[int, int]) -> None:
    plate = Plate.from_standard_wells(wells_)
    assert (len(plate.row_names), len(plate.column_names)) == shape
    assert plate.row_names[0] == "A"
    assert plate.column_names == [str(i) for i in range(1, shape[1] + 1)]


def test_from_standard_wells_names() -> None:
    plate = Plate.from_standard_wells(96)
    assert plate.row_names == list("ABCDEFGH")
    # beyond Z: spreadsheet style, like the useq helper
    rows = Plate.from_standard_wells(1536).row_names
    assert rows[24:] == ["Y", "Z", "AA", "AB", "AC", "AD", "AE", "AF"]
    big = Plate.from_standard_wells((80, 1)).row_names
    assert big[51:54] == ["AZ", "BA", "BB"]
    assert len(set(big)) == 80
    assert Plate.from_standard_wells((5, 4)) == Plate(
        row_names=list("ABCDE"), column_names=["1", "2", "3", "4"]
    )


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        (50, "Unrecognized standard plate size: 50"),
        (0, "Unrecognized standard plate size"),
        ((0, 4), r"\(n_rows, n_columns\) with positive integers"),
        ((0, 4, 2), r"it must be \(n_rows, n_columns\)"),
        ((2.5, 3), "positive integers"),
    ],
)
def test_from_standard_wells_errors(arg: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Plate.from_standard_wells(arg)


# ---------------------------------------------------------------------------
# JSON contract with the C++ engine
# ---------------------------------------------------------------------------


def rich_settings(translucent: bool = True) -> AcquisitionSettings:
    return AcquisitionSettings(
        root_path="/data/run1.ome.zarr",
        dimensions=[
            Dimension(name="t", count=None, unit="ms", scale=250, chunk_size=4),
            Dimension(
                name="p",
                coords=[
                    Position(
                        name="fov0",
                        plate_row="A",
                        plate_column="1",
                        x_coord=1.5,
                        y_coord=-2,
                        z_coord=0.25,
                    ),
                    Position(
                        name="fov1",
                        plate_row="B",
                        plate_column="2",
                        grid_row=0,
                        grid_column=1,
                        x_coord=100,
                        y_coord=200,
                        z_coord=3,
                    ),
                ],
            ),
            Dimension(
                name="c",
                coords=[
                    Channel(name="DAPI", color="blue", excitation_wavelength_nm=405),
                    Channel(
                        name="GFP",
                        color=(0, 255, 0, 0.5) if translucent else "#00FF00",
                        emission_wavelength_nm=510,
                        fluorophore="EGFP",
                    ),
                    "BF",
                ],
            ),
            Dimension(name="z", count=5, unit="µm", scale=0.5, translation=-1.0, chunk_size=5),
            Dimension(
                name="y",
                count=64,
                unit="um",
                scale=0.1,
                chunk_size=32,
                shard_size_chunks=2,
            ),
            Dimension(
                name="x",
                count=64,
                unit="micron",
                scale=0.1,
                translation=10,
                chunk_size=32,
                shard_size_chunks=2,
            ),
        ],
        dtype=">u2",
        format={"name": "ome-zarr", "backend": "native"},
        compression="blosc-zstd",
        storage_order="ome",
        plate=Plate.from_standard_wells(96),
        overwrite=True,
    )


def test_json_contract_shapes() -> None:
    data = json.loads(rich_settings().model_dump_json())
    assert set(data) == {
        "root_path",
        "dimensions",
        "dtype",
        "format",
        "compression",
        "storage_order",
        "plate",
        "overwrite",
    }  # "pyramid" (beyond 0.3.2) only when set: 0.3.2 forbids unknown keys
    assert data["dtype"] == "uint16"
    assert data["format"] == {
        "name": "ome-zarr",
        "backend": "native",
        "suffix": ".ome.zarr",
    }
    assert data["compression"] == "blosc-zstd"
    assert data["storage_order"] == "ome"
    assert data["overwrite"] is True
    assert data["plate"] == {
        "row_names": list("ABCDEFGH"),
        "column_names": [str(i) for i in range(1, 13)],
        "name": None,
    }

    t, p, c, z, y, x = data["dimensions"]
    assert t == {
        "name": "t",
        "count": None,
        "type": "time",
        "coords": None,
        "chunk_size": 4,
        "shard_size_chunks": None,
        "unit": "millisecond",
        "scale": 250.0,
        "translation": None,
    }
    assert [d["type"] for d in data["dimensions"]] == [
        "time",
        "position",
        "channel",
        "space",
        "space",
        "space",
    ]
    assert [d["unit"] for d in (z, y, x)] == ["micrometer"] * 3
    assert (z["scale"], z["translation"], x["translation"]) == (0.5, -1.0, 10.0)
    assert (y["chunk_size"], y["shard_size_chunks"]) == (32, 2)

    assert p["count"] == 2
    assert p["coords"] == [
        {
            "name": "fov0",
            "plate_row": "A",
            "plate_column": "1",
            "grid_row": None,
            "grid_column": None,
            "x_coord": 1.5,
            "y_coord": -2.0,
            "z_coord": 0.25,
        },
        {
            "name": "fov1",
            "plate_row": "B",
            "plate_column": "2",
            "grid_row": 0,
            "grid_column": 1,
            "x_coord": 100.0,
            "y_coord": 200.0,
            "z_coord": 3.0,
        },
    ]
    assert c["count"] == 3
    assert c["coords"] == [
        {
            "name": "DAPI",
            "excitation_wavelength_nm": 405,
            "emission_wavelength_nm": None,
            "fluorophore": None,
            "color": "#0000ff",
        },
        {
            "name": "GFP",
            "excitation_wavelength_nm": None,
            "emission_wavelength_nm": 510,
            "fluorophore": "EGFP",
            "color": "#00ff0080",
        },
        {
            "name": "BF",
            "excitation_wavelength_nm": None,
            "emission_wavelength_nm": None,
            "fluorophore": None,
            "color": None,
        },
    ]


def test_json_contract_other_fields() -> None:
    with pytest.warns(UserWarning, match="expected to have type='space'"):
        s = AcquisitionSettings(
            root_path="r.ome.tiff",
            dimensions=[
                Dimension(name="q", count=2),  # type not inferable: null
                Dimension(name="z", coords=[0.5, 1, "top"]),
                Dimension(name="row", count=4),
                Dimension(name="col", count=4),
            ],
            dtype=np.float32,
            storage_order=["q", "z", "row", "col"],
            format=OmeTiffFormat(prefer_single_file="never"),
            compression="zstd",
        )
    data = json.loads(s.model_dump_json())
    assert [d["type"] for d in data["dimensions"]] == [None, None, "space", "space"]
    assert data["dimensions"][1]["coords"] == [0.5, 1.0, "top"]
    assert data["storage_order"] == ["q", "z", "row", "col"]
    assert data["dtype"] == "float32"
    assert data["compression"] == "zstd"
    assert data["plate"] is None
    assert data["format"] == {
        "name": "ome-tiff",
        "backend": "auto",
        "suffix": ".ome.tiff",
        "prefer_single_file": "never",
        "multi_file_metadata": "redundant",
        "companion_file": "companion.ome",
    }
    scratch = json.loads(AcquisitionSettings(dimensions=yx()).model_dump_json())
    assert scratch["format"]["name"] == "scratch"
    assert scratch["format"]["suffix"] == ""
    assert scratch["dtype"] == ""


def test_json_round_trip() -> None:
    original = rich_settings(translucent=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        restored = AcquisitionSettings.model_validate_json(original.model_dump_json())
    assert restored == original
    assert restored.model_dump_json() == original.model_dump_json()
    assert isinstance(restored.dimensions[2].coords[0], Channel)  # type: ignore[index]
    assert isinstance(restored.dimensions[1].coords[0], Position)  # type: ignore[index]
    # translucent colours survive up to 8-bit alpha precision
    data = json.loads(rich_settings().model_dump_json())
    again = AcquisitionSettings.model_validate(data)
    assert json.loads(again.model_dump_json()) == data


def test_json_schema_is_generated() -> None:
    schema = AcquisitionSettings.model_json_schema()
    assert {"root_path", "dimensions", "format"} <= set(schema["properties"])
