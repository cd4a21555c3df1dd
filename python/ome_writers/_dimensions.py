"""Dimensions: standard axes, dtypes and the `Dimension` model (and its checks)."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    TypeAlias,
)

import numpy as np
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PositiveInt,
    model_validator,
)

from ome_writers._units import cast_unit_to_ngff, infer_dim_type_from_unit

from ._coords import Channel, Position, _channel_list, _position_list
from ._model_base import DimensionType, NonEmptyStr, _BaseModel, _caller_stacklevel

if TYPE_CHECKING:
    from typing_extensions import Self, TypeIs


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


if TYPE_CHECKING:
    # For type checkers: any sequence is accepted (`dimensions=[...]`, as the README
    # writes it). At run time pydantic validates the field as the tuple below, so a
    # list is stored as a tuple, exactly as before.
    DimensionList: TypeAlias = Sequence[Dimension]
else:
    DimensionList: TypeAlias = Annotated[
        tuple[Dimension, ...], AfterValidator(_check_dimension_list)
    ]
"""Dimensions in acquisition order, checked as a whole."""
