"""Acquisition settings: the pydantic models that describe what will be written.

`AcquisitionSettings` is the single object handed to `create_stream`. It lists
the dimensions in *acquisition order* (slowest first, the two in-frame
dimensions last), the pixel dtype, the output format and its options,
compression, storage order and an optional plate. Everything here is plain
validation; `AcquisitionSettings.model_dump_json()` is the contract with the
C++ engine.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    TypeAlias,
    get_args,
)

import numpy as np
import pydantic
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    TypeAdapter,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_extra_types.color import Color

from ome_writers._units import cast_unit_to_ngff, infer_dim_type_from_unit

if TYPE_CHECKING:
    from typing_extensions import Self, TypeIs

__all__ = [
    "AcquisitionSettings",
    "BackendName",
    "Channel",
    "Compression",
    "Dimension",
    "DimensionType",
    "FileFormat",
    "Format",
    "OmeTiffFormat",
    "OmeZarrFormat",
    "Plate",
    "Position",
    "PositionDimension",
    "ScratchFormat",
    "StandardAxis",
    "StandardAxisKey",
    "TiffBackendName",
    "TiffCompression",
    "ZarrBackendName",
    "ZarrCompression",
    "dims_from_standard_axes",
    "is_channel_dim",
    "is_position_dim",
    "is_spatial_dim",
]


class _BaseModel(BaseModel):
    """Strict base: unknown keys are errors and every assignment is validated.

    A failed assignment leaves the model exactly as it was (pydantic alone
    would keep the new value when a model-level validator rejects it).
    """

    model_config = ConfigDict(
        validate_default=True,
        validate_assignment=True,
        extra="forbid",
    )

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in type(self).model_fields:
            super().__setattr__(name, value)
            return
        before = dict(self.__dict__)
        try:
            super().__setattr__(name, value)
        except Exception:
            object.__setattr__(self, "__dict__", before)
            raise


_SKIPPED_DIRS = tuple(os.path.dirname(path) + os.sep for path in (__file__, pydantic.__file__))


def _caller_stacklevel() -> int:
    """`stacklevel` pointing at the first frame outside pydantic and this package.

    Warnings raised by validators then name the user's line, however deep the
    pydantic call chain is.
    """
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_SKIPPED_DIRS):
        frame = frame.f_back
        level += 1
    return level


# ---------------------------------------------------------------------------
# Literal aliases
# ---------------------------------------------------------------------------

FileFormat: TypeAlias = Literal["ome-tiff", "ome-zarr", "scratch"]
"""Output format identifiers (the `name` of a format model)."""

TiffBackendName: TypeAlias = Literal["tifffile", "native"]
"""Backends that can write OME-TIFF (all served by the native engine)."""

ZarrBackendName: TypeAlias = Literal[
    "native", "tensorstore", "acquire-zarr", "zarrs-python", "zarr-python"
]
"""Backends that can write OME-Zarr (all served by the native engine)."""

BackendName: TypeAlias = Literal[
    "tifffile", "native", "tensorstore", "acquire-zarr", "zarrs-python", "zarr-python"
]
"""Any backend name accepted by a format model."""

DimensionType: TypeAlias = Literal["space", "time", "channel", "position", "other"]
"""Kind of a dimension."""

StandardAxisKey: TypeAlias = Literal["x", "y", "z", "c", "t", "p"]
"""Names of the standard axes (see `StandardAxis`)."""

TiffCompression: TypeAlias = Literal["none", "lzw", "deflate", "zstd"]
"""Compression codecs available for OME-TIFF."""

ZarrCompression: TypeAlias = Literal["none", "blosc-zstd", "blosc-lz4", "zstd"]
"""Compression codecs available for OME-Zarr."""

Compression: TypeAlias = Literal["none", "lzw", "deflate", "zstd", "blosc-zstd", "blosc-lz4"]
"""Any compression name; `AcquisitionSettings` checks it against the format."""

NonEmptyStr: TypeAlias = Annotated[str, Field(min_length=1)]
"""A string with at least one character."""


# ---------------------------------------------------------------------------
# Standard axes
# ---------------------------------------------------------------------------

_SPACE_AXES = frozenset({"x", "y", "z"})


class StandardAxis(str, Enum):
    """Conventional axis names with a known type and default unit.

    Dimension names are free text; these six have an agreed meaning and are
    used by `dims_from_standard_axes` and the useq-schema helpers.
    """

    X = "x"
    Y = "y"
    Z = "z"
    CHANNEL = "c"
    TIME = "t"
    POSITION = "p"

    def dimension_type(self) -> DimensionType:
        """The `Dimension.type` of this axis."""
        if self.value in _SPACE_AXES:
            return "space"
        kinds: dict[str, DimensionType] = {
            "t": "time",
            "c": "channel",
            "p": "position",
        }
        return kinds[self.value]

    def unit(self) -> str | None:
        """The default OME-NGFF unit of this axis (None for c and p)."""
        if self.value in _SPACE_AXES:
            return "micrometer"
        if self is StandardAxis.TIME:
            return "second"
        return None

    def to_dimension(
        self,
        *,
        count: int | None = None,
        coords: Sequence[str | float | Channel | Position] | None = None,
        chunk_size: int | None = None,
        shard_size_chunks: int | None = None,
        scale: float | None = None,
    ) -> Dimension:
        """Build a `Dimension` named after this axis, with its type and unit."""
        return Dimension(
            name=self.value,
            count=count,
            coords=None if coords is None else list(coords),
            type=self.dimension_type(),
            unit=self.unit(),
            chunk_size=chunk_size,
            shard_size_chunks=shard_size_chunks,
            scale=scale,
        )


# ---------------------------------------------------------------------------
# dtype
# ---------------------------------------------------------------------------

# Numeric kinds only: b(ool), i(nt), u(int), f(loat), c(omplex).
_PIXEL_KINDS = frozenset("biufc")


def _dtype_name(value: Any) -> Any:
    """Return numpy's canonical name for a dtype-like value ("" = not set)."""
    if value is None or (isinstance(value, str) and value == ""):
        return ""
    try:
        dtype = np.dtype(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"Invalid dtype: {value!r}: {e}") from None
    if dtype.kind not in _PIXEL_KINDS:
        raise ValueError(
            f"Invalid dtype: {value!r}: pixel data must be a boolean, integer, "
            f"floating point or complex type, not {dtype.name!r}."
        )
    return dtype.name


DTypeStr: TypeAlias = Annotated[str, BeforeValidator(_dtype_name)]
"""A numpy dtype name ("" while unset), from any dtype-like input."""


# ---------------------------------------------------------------------------
# Coordinate models
# ---------------------------------------------------------------------------


def _hex_color(color: Color) -> str:
    """Lowercase ``#rrggbb``, or ``#rrggbbaa`` when the colour is translucent."""
    rgba = color.as_rgb_tuple(alpha=True)
    r, g, b = rgba[:3]
    text = f"#{r:02x}{g:02x}{b:02x}"
    if len(rgba) == 4 and rgba[3] is not None and float(rgba[3]) < 1:
        text += f"{round(float(rgba[3]) * 255):02x}"
    return text


class Channel(_BaseModel):
    """One channel of a channel dimension, with optional acquisition metadata.

    A plain string is accepted wherever a `Channel` is expected and becomes its
    name. Written to OME-XML `Channel` and to OME-Zarr `omero.channels`.
    """

    name: NonEmptyStr = Field(description="Channel name shown to the user.")
    excitation_wavelength_nm: PositiveInt | None = Field(
        default=None, description="Excitation wavelength in nanometers."
    )
    emission_wavelength_nm: PositiveInt | None = Field(
        default=None, description="Emission wavelength in nanometers."
    )
    fluorophore: str | None = Field(
        default=None,
        description="Fluorophore name (free text; FPbase names are a good choice).",
    )
    color: Color | None = Field(
        default=None,
        description="Suggested display colour: a CSS name, a hex string or an "
        "RGB(A) tuple. Serialised to JSON as lowercase '#rrggbb' ('#rrggbbaa' "
        "when translucent).",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @field_serializer("color", when_used="json")
    def _color_to_hex(self, color: Color | None) -> str | None:
        return None if color is None else _hex_color(color)


class Position(_BaseModel):
    """One stage position (field of view) of a position dimension.

    A plain string is accepted wherever a `Position` is expected and becomes its
    name. Plate row/column place the position in a well; grid row/column place
    it in a tiled grid; x/y/z are stage coordinates in the units of the spatial
    dimensions.
    """

    name: NonEmptyStr = Field(
        description="Position name; unique among positions of the same well and grid cell."
    )
    plate_row: str | None = Field(default=None, description="Plate row name.")
    plate_column: str | None = Field(default=None, description="Plate column name.")
    grid_row: int | None = Field(default=None, description="Grid row index.")
    grid_column: int | None = Field(default=None, description="Grid column index.")
    x_coord: float | None = Field(default=None, description="Stage X coordinate.")
    y_coord: float | None = Field(default=None, description="Stage Y coordinate.")
    z_coord: float | None = Field(default=None, description="Stage Z coordinate.")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _check_pairs(self) -> Self:
        if (self.plate_row is None) != (self.plate_column is None):
            raise ValueError("plate_row and plate_column must both be set or both be None")
        if (self.grid_row is None) != (self.grid_column is None):
            raise ValueError("grid_row and grid_column must both be set or both be None")
        return self


def _unique_channel_names(channels: list[Channel]) -> list[Channel]:
    counts = Counter(ch.name for ch in channels)
    if dupes := [name for name, n in counts.items() if n > 1]:
        raise ValueError(f"Channel names must be unique, duplicates: {dupes}")
    return channels


def _unique_position_names(positions: list[Position]) -> list[Position]:
    # A name may repeat across wells / grid cells, never within one.
    groups: dict[tuple[Any, ...], Counter[str]] = {}
    for pos in positions:
        key = (pos.plate_row, pos.plate_column, pos.grid_row, pos.grid_column)
        groups.setdefault(key, Counter())[pos.name] += 1
    for key, counts in groups.items():
        dupes = [name for name, n in counts.items() if n > 1]
        if not dupes:
            continue
        plate_row, plate_column, grid_row, grid_column = key
        if all(v is None for v in key):
            raise ValueError(
                f"All positions without row/column must have unique names, duplicates: {dupes}"
            )
        where = []
        if plate_row is not None:
            where.append(f'well ("{plate_row}", "{plate_column}")')
        if grid_row is not None:
            where.append(f"grid position ({grid_row}, {grid_column})")
        raise ValueError(
            "Position names must be unique within each group. "
            f"Duplicate names in {', '.join(where)}: {dupes}"
        )
    return positions


_channel_list: TypeAdapter[list[Channel]] = TypeAdapter(
    Annotated[list[Channel], AfterValidator(_unique_channel_names)]
)
_position_list: TypeAdapter[list[Position]] = TypeAdapter(
    Annotated[list[Position], AfterValidator(_unique_position_names)]
)


# ---------------------------------------------------------------------------
# Dimension
# ---------------------------------------------------------------------------


def _type_from_coords_and_unit(coords: list[Any] | None, unit: Any) -> Any:
    """Infer a dimension type from Channel/Position coords or a known unit."""
    by_unit = infer_dim_type_from_unit(unit)
    by_coords = None
    if coords:
        if any(isinstance(c, Channel) for c in coords):
            by_coords = "channel"
        elif any(isinstance(c, Position) for c in coords):
            by_coords = "position"
    if by_coords and by_unit and by_coords != by_unit:
        raise ValueError(
            f"Conflicting dimension type inference: coords suggests "
            f"type='{by_coords}' but unit suggests type='{by_unit}'. "
            "Give an explicit `type` or remove one of them."
        )
    return by_coords or by_unit


def _cast_coords(coords: list[Any], dim_type: Any) -> list[Any]:
    """Check coords against the dimension type; make Channel/Position objects."""
    for model, kind in ((Channel, "channel"), (Position, "position")):
        if not any(isinstance(c, model) for c in coords):
            continue
        if not all(isinstance(c, (str, model)) for c in coords):
            raise ValueError(f"May not mix {model.__name__} objects with other coord types.")
        if dim_type is not None and dim_type != kind:
            raise ValueError(
                f"{model.__name__} objects in coords require type='{kind}', got type='{dim_type}'"
            )
    if dim_type == "channel":
        return _channel_list.validate_python(coords)
    if dim_type == "position":
        return _position_list.validate_python(coords)
    return coords


def _normalise_dimension(data: dict[str, Any]) -> dict[str, Any]:
    """Infer type and count, fill position coords, cast coords and unit.

    Works on a dict of (possibly unvalidated) field values and returns a new
    dict; idempotent, so it can run both before and after field validation.
    """
    out = dict(data)
    coords = out.get("coords")
    if coords is not None:
        if isinstance(coords, (str, bytes)) or not isinstance(coords, Iterable):
            raise ValueError("`coords` must be a list of coordinate values.")
        coords = list(coords)
    count = out.get("count")
    unit = out.get("unit")
    dim_type = out.get("type")
    if dim_type is None:
        dim_type = _type_from_coords_and_unit(coords, unit)

    if dim_type == "position":
        if coords is None:
            if count is None:
                raise NotImplementedError(
                    "Unbounded position dimensions (count=None) are not yet "
                    "implemented. Give explicit coords or a finite count."
                )
            if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                coords = [Position(name=str(i)) for i in range(count)]
        elif not coords:
            raise NotImplementedError(
                "Empty coords for position dimensions are not yet implemented. "
                "Give position names or a count to generate them."
            )

    if coords is not None:
        if count is None:
            out["count"] = len(coords)
        elif len(coords) != count:
            raise ValueError(f"Length of coords ({len(coords)}) does not match count ({count}).")
        out["coords"] = _cast_coords(coords, dim_type)

    if isinstance(unit, str):
        out["unit"] = cast_unit_to_ngff(unit, dim_type)
    if dim_type is not None:
        out["type"] = dim_type
    return out


class Dimension(_BaseModel):
    """One axis of the acquisition, listed in acquisition order.

    `type` is inferred when omitted: Channel/Position coords give
    ``"channel"``/``"position"``; a recognised unit gives ``"space"`` or
    ``"time"``. The name alone never sets the type (use `StandardAxis` for
    that), except that the last two dimensions of `AcquisitionSettings`
    become ``"space"``.
    """

    name: NonEmptyStr = Field(
        description="Dimension name, unique within the acquisition. Prefer the "
        "standard names x, y, z, c, t, p."
    )
    count: PositiveInt | None = Field(
        default=None,
        description="Number of elements. None means unbounded (first dimension "
        "only). Taken from len(coords) when omitted.",
    )
    type: DimensionType | None = Field(
        default=None,
        description="One of 'space', 'time', 'channel', 'position', 'other'; "
        "inferred from coords or unit when omitted.",
    )
    coords: list[str | float | Channel | Position] | None = Field(
        default=None,
        description="Coordinate value of each element (length = count). Strings "
        "become Channel objects in a channel dimension and Position objects in a "
        "position dimension.",
    )
    chunk_size: PositiveInt | None = Field(
        default=None,
        description="Elements per chunk (Zarr). Default: the whole count for the "
        "two in-frame dimensions, 1 otherwise.",
    )
    shard_size_chunks: PositiveInt | None = Field(
        default=None,
        description="Chunks (not elements) per shard (Zarr v3). If any dimension "
        "sets it, sharding is on and the others get one chunk per shard.",
    )
    unit: str | None = Field(
        default=None,
        description="Physical unit. For 'space'/'time' dimensions it must be a "
        "length/time unit (NGFF name, OME symbol or common abbreviation) and is "
        "stored as the OME-NGFF name; free text otherwise.",
    )
    scale: float | None = Field(
        default=None,
        description="Physical size of one element (pixel size, time interval).",
    )
    translation: float | None = Field(
        default=None, description="Physical coordinate of the first element."
    )

    @model_validator(mode="before")
    @classmethod
    def _normalise_input(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return _normalise_dimension(data)
        return data

    @model_validator(mode="after")
    def _normalise_fields(self) -> Self:
        # On assignment pydantic validates only the assigned value, so derived
        # fields (type, count, unit spelling, coord objects) are settled here.
        current = {name: self.__dict__.get(name) for name in type(self).model_fields}
        for name, value in _normalise_dimension(current).items():
            if self.__dict__.get(name) is not value:
                self.__dict__[name] = value
        return self


class PositionDimension(Dimension):
    """Deprecated: use ``Dimension(type="position", coords=[...])``.

    Accepts the legacy ``positions=`` keyword; the name defaults to ``"p"``.
    """

    name: str = "p"
    type: Literal["position"] = "position"
    coords: list[Position] | None = None  # type: ignore[assignment]

    @model_validator(mode="before")
    @classmethod
    def _legacy_positions(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            data.setdefault("name", "p")
            data.setdefault("type", "position")
            if (positions := data.pop("positions", None)) is not None:
                data["coords"] = positions
        return data

    def model_post_init(self, context: Any, /) -> None:
        """Emit the deprecation warning."""
        warnings.warn(
            "PositionDimension is deprecated. "
            "Use Dimension(name='p', type='position', coords=[...]) instead.",
            DeprecationWarning,
            stacklevel=_caller_stacklevel(),
        )


if TYPE_CHECKING:

    class _ChannelDimension(Dimension):
        type: Literal["channel"]
        coords: list[Channel] | None  # type: ignore[assignment]

    class _PositionDimension(Dimension):
        type: Literal["position"]
        coords: list[Position] | None  # type: ignore[assignment]

    class _SpatialDimension(Dimension):
        type: Literal["space"]
        coords: list[float] | None  # type: ignore[assignment]


def is_channel_dim(dim: Dimension) -> TypeIs[_ChannelDimension]:
    """Whether `dim` is a channel dimension (its coords are Channel objects)."""
    return dim.type == "channel"


def is_position_dim(dim: Dimension) -> TypeIs[_PositionDimension]:
    """Whether `dim` is a position dimension (its coords are Position objects)."""
    return dim.type == "position"


def is_spatial_dim(dim: Dimension) -> TypeIs[_SpatialDimension]:
    """Whether `dim` is a spatial dimension."""
    return dim.type == "space"


def _check_dimension_list(dims: tuple[Dimension, ...]) -> tuple[Dimension, ...]:
    """Rules for `AcquisitionSettings.dimensions` (empty = not set yet)."""
    if not dims:
        return ()
    n_positions = sum(d.type == "position" for d in dims)
    if n_positions > 1:
        raise ValueError("Only one position dimension is allowed.")
    if any(d.count is None for d in dims[1:]):
        raise ValueError("Only the first dimension may be unbounded (count=None).")
    n_array = len(dims) - n_positions
    if n_array < 2:
        raise ValueError("At least 2 non-position dimensions are required (usually Y and X).")
    if n_array > 5:
        raise ValueError(
            "At most 5 non-position dimensions are allowed for both OME-Zarr and "
            f"OME-TIFF, got {n_array}."
        )
    counts = Counter(d.name for d in dims)
    if dupes := [name for name, n in counts.items() if n > 1]:
        raise ValueError(f"Dimension names must be unique, duplicates: {dupes}")

    out = list(dims)
    for i in (-2, -1):
        dim = out[i]
        if dim.type == "space":
            continue
        if dim.type is not None:
            raise ValueError(
                "The last two dimensions must be spatial dimensions (type='space'), "
                f"got {dim.name!r} with type={dim.type!r}."
            )
        if dim.name.lower() not in {"x", "y"}:
            warnings.warn(
                "The last two dimensions are expected to have type='space'. "
                f"Setting type='space' for non-standard dimension name {dim.name!r}.",
                UserWarning,
                stacklevel=_caller_stacklevel(),
            )
        # Copy rather than mutate: the caller may share this Dimension.
        out[i] = dim.model_copy(update={"type": "space"})
    return tuple(out)


DimensionList: TypeAlias = Annotated[tuple[Dimension, ...], AfterValidator(_check_dimension_list)]
"""Dimensions in acquisition order, checked as a whole."""


# ---------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------

_TIFF_EXTS = (".tiff", ".tif")
_ZARR_EXTS = (".zarr",)


def _ome_stem_suffix(path: str) -> tuple[str, str]:
    """Split `path` into (stem, suffix) around a trailing ``[.ome].tif[f]|.zarr``.

    The returned suffix keeps ``.ome`` when present and is lowercase; an
    unrecognised extension gives ``(path, "")``:
    ``"a/img.OME.TIF"`` → ``("a/img", ".ome.tif")``,
    ``"a/img.ome.test"`` → ``("a/img.ome.test", "")``.
    """
    text = str(path)
    lower = text.lower()
    for ext in (*_TIFF_EXTS, *_ZARR_EXTS):
        if lower.endswith(ext):
            stem = text[: -len(ext)]
            if stem.lower().endswith(".ome"):
                return stem[:-4], ".ome" + ext
            return stem, ext
    return text, ""


def _suffix_kind(suffix: str) -> FileFormat | None:
    lower = suffix.lower()
    if lower.endswith(_TIFF_EXTS):
        return "ome-tiff"
    if lower.endswith(_ZARR_EXTS):
        return "ome-zarr"
    return None


class OmeTiffFormat(_BaseModel):
    """OME-TIFF output options."""

    name: Literal["ome-tiff"] = Field(default="ome-tiff", description="Format id.")
    backend: TiffBackendName | Literal["auto"] = Field(
        default="auto",
        description="'auto', 'tifffile' or 'native'; all select the native engine.",
    )
    suffix: str = Field(
        default=".ome.tiff",
        description="File extension of the TIFF file(s).",
    )
    prefer_single_file: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="'auto': one file for a single position, one file per "
        "position otherwise; 'always': one (multi-series) file even for several "
        "positions; 'never': one file per position even for a single position. "
        "True/False mean 'always'/'never'.",
    )
    multi_file_metadata: Literal["redundant", "master-tiff", "companion-file"] = Field(
        default="redundant",
        description="With one file per position: 'redundant' = full OME-XML "
        "in every file; 'master-tiff' = full OME-XML in the first file only; "
        "'companion-file' = full OME-XML in a separate companion file.",
    )
    companion_file: str = Field(
        default="companion.ome",
        description="File name of the companion OME-XML file.",
    )

    @field_validator("prefer_single_file", mode="before")
    @classmethod
    def _bool_to_mode(cls, value: Any) -> Any:
        if value is True:
            return "always"
        if value is False:
            return "never"
        return value

    def get_output_path(self, root_path: str, *, num_positions: int = 1) -> str:
        """The TIFF file path (single file) or the directory (one file per position)."""
        stem, _ = _ome_stem_suffix(root_path)
        single = self.prefer_single_file == "always" or (
            self.prefer_single_file == "auto" and num_positions <= 1
        )
        return stem + self.suffix if single else stem


class OmeZarrFormat(_BaseModel):
    """OME-Zarr (NGFF v0.5, Zarr v3) output options."""

    name: Literal["ome-zarr"] = Field(default="ome-zarr", description="Format id.")
    backend: ZarrBackendName | Literal["auto"] = Field(
        default="auto",
        description="'auto', 'native', 'tensorstore', 'acquire-zarr', "
        "'zarrs-python' or 'zarr-python'; all select the native engine.",
    )
    suffix: str = Field(default=".ome.zarr", description="Extension of the Zarr directory.")

    def get_output_path(self, root_path: str, *, num_positions: int = 1) -> str:
        """The Zarr directory path (always one store)."""
        stem, _ = _ome_stem_suffix(root_path)
        return stem + self.suffix


class ScratchFormat(_BaseModel):
    """Non-standard scratch output: numpy arrays in memory or raw memmaps on disk."""

    name: Literal["scratch"] = Field(default="scratch", description="Format id.")
    backend: Literal["scratch"] = Field(default="scratch", description="The scratch backend.")
    max_memory_bytes: int = Field(
        default=4 * 1024**3,
        description="Memory budget; beyond it data spills to a temporary "
        "directory (spill_to_disk=True) or MemoryError is raised.",
    )
    suffix: str = Field(default="", description="Suffix of disk-backed files.")
    spill_to_disk: bool = Field(
        default=True,
        description="Spill to a temporary directory when over budget and no root_path is set.",
    )

    def get_output_path(self, root_path: str, *, num_positions: int = 1) -> str:
        """`root_path` unchanged."""
        return root_path


Format: TypeAlias = Annotated[
    OmeTiffFormat | OmeZarrFormat | ScratchFormat, Field(discriminator="name")
]
"""One of the format models, selected by `name`."""

# String shortcuts: name → (format model, backend). "native" and "auto" are
# resolved from the root_path suffix instead.
_FORMAT_STRINGS: dict[str, tuple[type[OmeTiffFormat | OmeZarrFormat], Any]] = {
    "ome-tiff": (OmeTiffFormat, "auto"),
    "tiff": (OmeTiffFormat, "auto"),
    "tifffile": (OmeTiffFormat, "tifffile"),
    "ome-zarr": (OmeZarrFormat, "auto"),
    "zarr": (OmeZarrFormat, "auto"),
    "tensorstore": (OmeZarrFormat, "tensorstore"),
    "acquire-zarr": (OmeZarrFormat, "acquire-zarr"),
    "zarrs-python": (OmeZarrFormat, "zarrs-python"),
    "zarr-python": (OmeZarrFormat, "zarr-python"),
}
_SCRATCH_STRINGS = ("scratch", "memory")


def _format_from_string(text: str, root_path: str) -> Any:
    """Resolve a format string (case-insensitive) against the root_path suffix."""
    key = text.strip().lower()
    _, suffix = _ome_stem_suffix(root_path)
    kind = _suffix_kind(suffix)
    if key in _SCRATCH_STRINGS:
        return ScratchFormat()
    if key == "auto":
        if root_path == "":
            return ScratchFormat()
        if kind is None:
            warnings.warn(
                f"Output format could not be inferred from root_path {root_path!r}; "
                "writing OME-Zarr. Name the format explicitly (e.g. "
                "format='ome-zarr') or give root_path a '.ome.zarr' or '.ome.tiff' "
                "extension: this may be an error in future versions.",
                UserWarning,
                stacklevel=_caller_stacklevel(),
            )
            return OmeZarrFormat()
        model: type[OmeTiffFormat | OmeZarrFormat]
        model = OmeTiffFormat if kind == "ome-tiff" else OmeZarrFormat
        return model(suffix=suffix)
    backend: Any
    if key == "native":
        model = OmeTiffFormat if kind == "ome-tiff" else OmeZarrFormat
        backend = "native"
    elif key in _FORMAT_STRINGS:
        model, backend = _FORMAT_STRINGS[key]
    else:
        known = sorted([*_FORMAT_STRINGS, *_SCRATCH_STRINGS, "auto", "native"])
        raise ValueError(f"Unknown format {text!r}; expected one of {known}.")
    # As in ome-writers 0.3.2, root_path's extension becomes the format's suffix
    # even when it names the other format (x.ome.tiff + "ome-zarr" writes a Zarr
    # store named x.ome.tiff); create_stream warns about such a contradiction.
    if suffix:
        return model(backend=backend, suffix=suffix)
    return model(backend=backend)


# ---------------------------------------------------------------------------
# Plate
# ---------------------------------------------------------------------------

_STANDARD_PLATES: dict[int, tuple[int, int]] = {
    6: (2, 3),
    12: (3, 4),
    24: (4, 6),
    48: (6, 8),
    96: (8, 12),
    384: (16, 24),
    1536: (32, 48),
}


def _row_label(index: int) -> str:
    """Spreadsheet-style row label of a 0-based index: A..Z, AA, AB, ..., AZ, BA."""
    if index < 0:
        raise ValueError(f"row index must be >= 0, got {index}")
    label = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        label = chr(ord("A") + rem) + label
    return label


def _unique_names(names: list[str], what: str) -> list[str]:
    if dupes := [n for n, c in Counter(names).items() if c > 1]:
        raise ValueError(f"Plate {what} must be unique, duplicates: {dupes}")
    return names


class Plate(_BaseModel):
    """Plate geometry for HCS metadata (the acquisition order comes from the
    position dimension; positions refer to wells by row and column name)."""

    row_names: Annotated[
        list[str],
        Field(min_length=1),
        AfterValidator(lambda v: _unique_names(v, "row_names")),
    ] = Field(description="All row names of the plate, e.g. ['A', 'B', ...].")
    column_names: Annotated[
        list[str],
        Field(min_length=1),
        AfterValidator(lambda v: _unique_names(v, "column_names")),
    ] = Field(description="All column names of the plate, e.g. ['1', '2', ...].")
    name: str | None = Field(default=None, description="Plate name.")

    @classmethod
    def from_standard_wells(cls, num_wells_or_shape: int | tuple[int, int]) -> Self:
        """A plate from a standard well count (6 ... 1536) or a (rows, columns) pair.

        Rows are named A..Z, AA, AB, ... and columns "1".."N".
        """
        if isinstance(num_wells_or_shape, (tuple, list)):
            shape = tuple(num_wells_or_shape)
            valid = len(shape) == 2 and all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape
            )
            if not valid:
                raise ValueError(
                    "If providing a tuple for plate shape, it must be "
                    f"(n_rows, n_columns) with positive integers, got {shape!r}."
                )
            n_rows, n_cols = shape
        elif num_wells_or_shape in _STANDARD_PLATES:
            n_rows, n_cols = _STANDARD_PLATES[num_wells_or_shape]
        else:
            raise ValueError(
                f"Unrecognized standard plate size: {num_wells_or_shape!r}. "
                f"Supported sizes: {list(_STANDARD_PLATES)}"
            )
        return cls(
            row_names=[_row_label(i) for i in range(n_rows)],
            column_names=[str(i + 1) for i in range(n_cols)],
        )


# ---------------------------------------------------------------------------
# Storage order
# ---------------------------------------------------------------------------


def _zarr_rank(dim: Dimension) -> tuple[int, int]:
    """NGFF axis order: time, channel, space (z, y, x; unknown names first), other."""
    if dim.type == "time":
        return (0, 0)
    if dim.type == "channel":
        return (1, 0)
    if dim.type == "space":
        return (2, {"z": 0, "y": 1, "x": 2}.get(dim.name, -1))
    return (3, 0)


def _tiff_rank(dim: Dimension) -> int:
    """OME-TIFF: t, c and z rank equally (acquisition order kept), then y, x, rest."""
    return {"t": 1, "c": 1, "z": 1, "y": 3, "x": 4}.get(dim.name.lower(), 5)


def _storage_order_of(
    index_dims: tuple[Dimension, ...],
    storage_order: str | list[str],
    format_name: str,
) -> tuple[Dimension, ...]:
    if isinstance(storage_order, list):
        by_name = {d.name: d for d in index_dims}
        return tuple(by_name[n] for n in storage_order if n in by_name)
    if storage_order == "ome" and format_name == "ome-zarr":
        return tuple(sorted(index_dims, key=_zarr_rank))
    if storage_order == "ome" and format_name == "ome-tiff":
        return tuple(sorted(index_dims, key=_tiff_rank))
    return index_dims  # "acquisition", or scratch (always acquisition order)


# Custom axes (type "other" or none) rank with channel, as NGFF 0.5 and yaozarrs have it.
# ---------------------------------------------------------------------------
# AcquisitionSettings
# ---------------------------------------------------------------------------


def _path_to_str(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _format_for_assignment(value: Any) -> Any:
    """An assigned format, resolved without root_path's extension.

    ome-writers 0.3.2 resolves a format against root_path only at construction,
    so `settings.format = "ome-zarr"` gets the default '.ome.zarr' suffix whatever
    root_path says; users who switch format by assignment rely on that output
    path. "auto" and "native" name no format of their own, so they keep
    following root_path (0.3.2 rejects an assigned "auto").
    """
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _FORMAT_STRINGS:
            model, backend = _FORMAT_STRINGS[key]
            return model(backend=backend)
        return value
    if isinstance(value, Mapping) and "suffix" not in value:
        formats: dict[Any, type[OmeTiffFormat | OmeZarrFormat]] = {
            "ome-tiff": OmeTiffFormat,
            "ome-zarr": OmeZarrFormat,
        }
        if (chosen := formats.get(value.get("name"))) is not None:
            return {**value, "suffix": chosen.model_fields["suffix"].default}
    return value


class AcquisitionSettings(_BaseModel):
    """Everything `create_stream` needs to know about an acquisition.

    `dimensions` and `dtype` may be left empty at construction and set later;
    `validate_stream_ready()` checks that they are set.
    """

    root_path: Annotated[str, BeforeValidator(_path_to_str)] = Field(
        default="",
        description="Output location (str or path). Its extension ('.ome.zarr', "
        "'.ome.tiff', ...) chooses the format when format='auto'. Empty only for "
        "the scratch format.",
    )
    dimensions: DimensionList = Field(
        default=(),
        description="Dimensions in acquisition order (slowest first). The last "
        "two are the in-frame (Y, X) dimensions; 2-5 non-position dimensions plus "
        "at most one position dimension; only the first may be unbounded.",
    )
    dtype: DTypeStr = Field(
        default="",
        description="Pixel data type as a numpy name ('uint16', ...); any numpy "
        "dtype-like is accepted.",
    )
    format: Format = Field(  # type: ignore[assignment]
        default="auto",
        description="An OmeTiffFormat/OmeZarrFormat/ScratchFormat, a dict with a "
        "'name' key, or a string: 'ome-tiff'/'tiff', 'ome-zarr'/'zarr', a backend "
        "name, 'native', 'scratch'/'memory' or 'auto' (from the root_path "
        "extension).",
    )
    compression: Compression | None = Field(
        default=None,
        description="TIFF: 'none', 'lzw', 'deflate', 'zstd'. Zarr: 'none', "
        "'blosc-zstd', 'blosc-lz4', 'zstd'. None means no compression.",
    )
    storage_order: Literal["acquisition", "ome"] | list[str] = Field(
        default="ome",
        description="'ome': the format's canonical order (TCZYX for Zarr; TIFF "
        "keeps the acquisition order of t/c/z); 'acquisition'; or a list of all "
        "dimension names ending with the two in-frame dimensions in acquisition "
        "order.",
    )
    plate: Plate | None = Field(
        default=None,
        description="Plate geometry; requires a position dimension whose "
        "positions all have plate_row and plate_column.",
    )
    overwrite: bool = Field(
        default=False,
        description="Replace existing output at root_path instead of raising FileExistsError.",
    )

    # ----------------------------------------------------------- validators

    @model_validator(mode="before")
    @classmethod
    def _reject_legacy_backend(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "backend" in data:
            raise ValueError(
                "`backend` is no longer a top-level field in AcquisitionSettings. "
                "Give it inside `format` (e.g. format={'name': 'ome-zarr', "
                "'backend': 'tensorstore'}) or pass the backend name as `format`."
            )
        return data

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "format":
            value = _format_for_assignment(value)
        super().__setattr__(name, value)

    @field_validator("format", mode="before")
    @classmethod
    def _coerce_format(cls, value: Any, info: ValidationInfo) -> Any:
        root_path = info.data.get("root_path", "")
        if isinstance(value, str):
            return _format_from_string(value, root_path)
        if isinstance(value, Mapping):
            # 0.3.2 fills a missing suffix from root_path whichever format the
            # extension names; create_stream warns about a contradiction.
            value = dict(value)
            _, suffix = _ome_stem_suffix(root_path)
            if suffix:
                value.setdefault("suffix", suffix)
        return value

    @model_validator(mode="after")
    def _check_compression(self) -> Self:
        if self.compression is None or self.format.name == "scratch":
            return self
        if self.format.name == "ome-tiff":
            allowed, label = get_args(TiffCompression), "OME-TIFF"
        else:
            allowed, label = get_args(ZarrCompression), "OME-Zarr"
        if self.compression not in allowed:
            raise ValueError(
                f"Compression '{self.compression}' is not supported for {label}. "
                f"Supported: {allowed}."
            )
        return self

    @model_validator(mode="after")
    def _check_storage_order(self) -> Self:
        order = self.storage_order
        if not self.dimensions or not isinstance(order, list):
            return self
        names = [d.name for d in self.dimensions]
        frame = names[-2:]
        tail = order[-2:]
        if set(tail) == set(frame) and tail != frame:
            raise ValueError(
                "storage_order may not (yet) permute the last two dimensions: "
                f"they must end the list as {frame}, got {tail}."
            )
        if sorted(order) != sorted(names):
            raise ValueError(
                f"storage_order names {order!r} don't match acquisition dimension "
                f"names {names!r} (each name must appear exactly once)."
            )
        if tail != frame:
            raise ValueError(
                "storage_order may not (yet) permute the last two dimensions: "
                f"the list must end with {frame}, got {tail}."
            )
        return self

    @model_validator(mode="after")
    def _check_plate(self) -> Self:
        if self.plate is None or not self.dimensions:
            return self
        if self.position_dimension_index is None:
            raise ValueError("Plate mode requires a position dimension in dimensions.")
        positions = self.positions
        if missing := [p.name for p in positions if p.plate_row is None or p.plate_column is None]:
            raise ValueError(
                "All positions must have row and column for plate mode. "
                f"Missing row/column for positions: {missing}"
            )
        rows, cols = set(self.plate.row_names), set(self.plate.column_names)
        if outside := [
            p.name for p in positions if p.plate_row not in rows or p.plate_column not in cols
        ]:
            warnings.warn(
                "Some positions have row/column values not in the plate definition: "
                f"{outside}. These may be omitted from the plate metadata on disk.",
                UserWarning,
                stacklevel=_caller_stacklevel(),
            )
        return self

    # ----------------------------------------------------------- properties

    def _require_dimensions(self, prop: str) -> tuple[Dimension, ...]:
        if not self.dimensions:
            raise ValueError(f"Cannot access '{prop}': dimensions has not been set yet.")
        return self.dimensions

    @property
    def output_path(self) -> str:
        """`root_path` resolved by the format (file for single TIFF, else directory)."""
        self._require_dimensions("output_path")
        return self.format.get_output_path(self.root_path, num_positions=len(self.positions))

    def _suffix_contradiction(self) -> str | None:
        """A warning when root_path's or the format's extension names the other format."""
        fmt = self.format
        if fmt.name == "scratch":
            return None
        _, root_suffix = _ome_stem_suffix(self.root_path)
        clashes = [
            (where, suffix, kind)
            for where, suffix in (
                ("root_path's extension", root_suffix),
                ("format.suffix", fmt.suffix),
            )
            if (kind := _suffix_kind(suffix)) is not None and kind != fmt.name
        ]
        if not clashes:
            return None
        where, suffix, kind = clashes[0]
        labels = {"ome-tiff": "OME-TIFF", "ome-zarr": "OME-Zarr"}
        default = type(fmt).model_fields["suffix"].default
        return (
            f"root_path {self.root_path!r} and format {fmt.name!r} disagree: {where} "
            f"{suffix!r} is an {labels[kind]} extension. Writing {labels[fmt.name]} to "
            f"{self.output_path!r}, as ome-writers 0.3.2 does; give root_path the "
            f"{default!r} extension or choose format={kind!r} to silence this warning."
        )

    @property
    def shape(self) -> tuple[int | None, ...]:
        """Count of every dimension in acquisition order (None = unbounded)."""
        return tuple(d.count for d in self._require_dimensions("shape"))

    @property
    def is_unbounded(self) -> bool:
        """Whether the first dimension has no fixed count."""
        return self._require_dimensions("is_unbounded")[0].count is None

    @property
    def num_frames(self) -> int | None:
        """Frames in the whole acquisition (positions included); None if unbounded."""
        total = 1
        for dim in self._require_dimensions("num_frames")[:-2]:
            if dim.count is None:
                return None
            total *= dim.count
        return total

    @property
    def positions(self) -> tuple[Position, ...]:
        """Positions in acquisition order; one position named "0" if none declared."""
        for dim in self._require_dimensions("positions")[:-2]:
            if is_position_dim(dim) and dim.coords:
                return tuple(dim.coords)
        return (Position(name="0"),)

    @property
    def position_dimension_index(self) -> int | None:
        """Index of the position dimension in `dimensions`, or None."""
        dims = self._require_dimensions("position_dimension_index")
        for i, dim in enumerate(dims[:-2]):
            if dim.type == "position":
                return i
        return None

    @property
    def frame_dimensions(self) -> tuple[Dimension, ...]:
        """The two in-frame dimensions (usually Y, X)."""
        return self._require_dimensions("frame_dimensions")[-2:]

    @property
    def index_dimensions(self) -> tuple[Dimension, ...]:
        """Non-frame, non-position dimensions in acquisition order."""
        dims = self._require_dimensions("index_dimensions")
        return tuple(d for d in dims[:-2] if d.type != "position")

    @property
    def array_dimensions(self) -> tuple[Dimension, ...]:
        """All dimensions except the position dimension, in acquisition order."""
        dims = self._require_dimensions("array_dimensions")
        return tuple(d for d in dims if d.type != "position")

    @property
    def storage_index_dimensions(self) -> tuple[Dimension, ...]:
        """`index_dimensions` in storage order."""
        self._require_dimensions("storage_index_dimensions")
        return _storage_order_of(self.index_dimensions, self.storage_order, self.format.name)

    @property
    def storage_index_permutation(self) -> tuple[int, ...] | None:
        """For each storage axis, the acquisition index axis it comes from.

        None when storage order equals acquisition order.
        """
        self._require_dimensions("storage_index_permutation")
        acquired = [d.name for d in self.index_dimensions]
        perm = tuple(acquired.index(d.name) for d in self.storage_index_dimensions)
        return None if perm == tuple(range(len(perm))) else perm

    @property
    def array_storage_dimensions(self) -> tuple[Dimension, ...]:
        """Array dimensions in storage order (frame dimensions last)."""
        self._require_dimensions("array_storage_dimensions")
        return self.storage_index_dimensions + self.frame_dimensions

    def validate_stream_ready(self) -> Literal[True]:
        """Raise ValueError unless `create_stream` can use these settings.

        Checks that dimensions and dtype are set and that a non-scratch format
        has a root_path.
        """
        if not self.dimensions:
            raise ValueError("settings.dimensions must be set before creating a stream")
        if not self.dtype:
            raise ValueError("settings.dtype must be set before creating a stream")
        if not self.root_path and self.format.name != "scratch":
            raise ValueError(f"root_path is required for {self.format.name} format.")
        return True


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def dims_from_standard_axes(
    sizes: Mapping[str, int | Sequence[str | Position] | None],
    chunk_shapes: Mapping[str, int] | None = None,
    shard_shapes: Mapping[str, int] | None = None,
) -> list[Dimension]:
    """Dimensions for standard axis names (x, y, z, c, t, p), in the order given.

    A size is a count, or for any axis (typically p) a list of coordinate names
    or Position objects. Types and units come from `StandardAxis`. Chunks
    default to the full size for x and y and to 1 for the others (none for p);
    `shard_shapes` are in chunks per shard.

    >>> [d.name for d in dims_from_standard_axes({"t": 3, "y": 64, "x": 64})]
    ['t', 'y', 'x']
    """
    try:
        axes = [StandardAxis(key) for key in sizes]
    except ValueError:
        allowed = [a.value for a in StandardAxis]
        raise ValueError(
            f"Standard axes names must be one of {allowed}. Got: {list(sizes)}"
        ) from None
    chunks = {StandardAxis(k): v for k, v in (chunk_shapes or {}).items()}
    shards = {StandardAxis(k): v for k, v in (shard_shapes or {}).items()}

    dims = []
    for axis in axes:
        value = sizes[axis.value]
        chunk = chunks.get(axis)
        if chunk is None and axis is not StandardAxis.POSITION:
            in_frame = axis in (StandardAxis.X, StandardAxis.Y)
            chunk = value if in_frame and isinstance(value, int) else 1
        if value is None or isinstance(value, int):
            dims.append(
                axis.to_dimension(count=value, chunk_size=chunk, shard_size_chunks=shards.get(axis))
            )
        else:
            dims.append(
                axis.to_dimension(
                    coords=list(value),
                    chunk_size=chunk,
                    shard_size_chunks=shards.get(axis),
                )
            )
    return dims
