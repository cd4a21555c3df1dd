"""Coordinates of dimensions and plates: `Channel`, `Position` and `Plate`."""

from __future__ import annotations

from collections import Counter
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
)

from pydantic import (
    AfterValidator,
    Field,
    PositiveInt,
    TypeAdapter,
    field_serializer,
    model_validator,
)
from pydantic_extra_types.color import Color

from ._model_base import NonEmptyStr, _BaseModel

if TYPE_CHECKING:
    from typing_extensions import Self


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
