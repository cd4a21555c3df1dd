"""`AcquisitionSettings`: the single object handed to `create_stream`.

It lists the dimensions in *acquisition order* (slowest first, the two in-frame
dimensions last), the pixel dtype, the output format and its options,
compression, storage order and an optional plate. Everything here is plain
validation; `AcquisitionSettings.model_dump_json()` is the contract with the
C++ engine.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    cast,
)

from pydantic import (
    BeforeValidator,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from ._coords import Plate, Position
from ._dimensions import Dimension, DimensionList, DTypeStr, StandardAxis, is_position_dim
from ._formats import (
    _FORMAT_STRINGS,
    Format,
    OmeTiffFormat,
    OmeZarrFormat,
    _format_from_string,
    _ome_stem_suffix,
    _suffix_kind,
)
from ._model_base import (
    Compression,
    _BaseModel,
    _caller_stacklevel,
)
from ._pyramid import Pyramid, _pyramid_shorthand

if TYPE_CHECKING:
    from typing_extensions import Self


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
    pyramid: Annotated[Pyramid | None, BeforeValidator(_pyramid_shorthand)] = Field(
        default=None,
        description="Multiscale levels written during acquisition: a Pyramid, "
        "a number of levels (full resolution included) or 'auto'. None (the "
        "default) writes full resolution only.",
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
        try:
            from . import _core
        except ImportError:  # pragma: no cover - no engine: create_stream says why
            return self
        # The engine's rule (ValueError, which pydantic reports as ValidationError).
        _core.check_compression(self.format.name, self.compression)
        return self

    @model_serializer(mode="wrap")
    def _without_unset_pyramid(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A dump without a pyramid is 0.3.2's, which forbids unknown keys: it stays
        # loadable there.
        data = handler(self)
        if isinstance(data, dict) and data.get("pyramid", 0) is None:
            data.pop("pyramid")
        return data

    @model_validator(mode="after")
    def _check_pyramid(self) -> Self:
        p = self.pyramid
        if p is None:
            return self
        if self.format.name == "scratch":
            raise ValueError("pyramid is written by 'ome-zarr' and 'ome-tiff', not 'scratch'")
        if p.downsample_z and self.format.name == "ome-tiff":
            raise ValueError(
                "pyramid downsample_z=True: OME-TIFF levels are reduced planes "
                "(y and x only); use OME-Zarr to halve z"
            )
        dtype = str(self.dtype)
        if dtype.startswith("complex") and p.method != "decimate":
            raise ValueError(
                f"pyramid method {p.method!r} does not apply to dtype {dtype!r} "
                "(complex data takes 'decimate')"
            )
        if p.method == "mode" and dtype.startswith("float"):
            raise ValueError(
                f"pyramid method 'mode' is for label data (integer or bool dtypes), not {dtype!r}"
            )
        # The rules that need the frame's geometry (levels that fit, z
        # chunking) are the engine's: create_stream applies them.
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
        # The field's validator always stores a tuple (typed Sequence for callers).
        return cast("tuple[Dimension, ...]", self.dimensions)

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
