"""Turn a useq-schema `MDASequence` into `AcquisitionSettings` fields.

useq-schema (>= 0.9.2) is optional: it is imported only when one of these
functions is called.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import TYPE_CHECKING, Any, TypedDict

from typing_extensions import deprecated

from ome_writers._schema import (
    Channel,
    Dimension,
    Plate,
    Position,
    StandardAxis,
    _caller_stacklevel,
    _row_label,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import ModuleType

    import useq

__all__ = [
    "AcquisitionSettingsDict",
    "UnitTuple",
    "dims_from_useq",
    "useq_to_acquisition_settings",
]

UnitTuple = tuple[float, str]
"""(scale, unit) of one axis, e.g. ``(2.0, "second")``."""


class AcquisitionSettingsDict(TypedDict):
    """Keyword arguments for `AcquisitionSettings` made from a sequence."""

    dimensions: list[Dimension]
    plate: Plate | None


_INSTALL_HINT = "pip install 'useq-schema>=0.9.2'"


def _import_useq() -> ModuleType:
    """Import useq, with an ImportError that says how to install it."""
    try:
        import useq
    except ImportError as e:
        raise ImportError(
            "useq-schema is required to convert MDA sequences; install it with "
            f"`{_INSTALL_HINT}` (or `pip install useq-schema`)."
        ) from e
    # Plate and grid fields on useq.Position arrived in 0.9.2.
    if "plate_row" not in useq.Position.model_fields:
        raise ImportError(f"useq-schema >= 0.9.2 is required; upgrade with `{_INSTALL_HINT}`.")
    return useq


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def useq_to_acquisition_settings(
    seq: useq.MDASequence,
    image_width: int,
    image_height: int,
    *,
    units: Mapping[str, UnitTuple | None] | None = None,
    pixel_size_um: float | None = None,
    chunk_shapes: Mapping[str, int] | None = None,
    shard_shapes: Mapping[str, int] | None = None,
) -> AcquisitionSettingsDict:
    """Dimensions (and plate) for `AcquisitionSettings` from a useq `MDASequence`.

    The dimensions follow ``seq.axis_order``; the position and grid axes are
    merged into one position dimension ``p`` (they must be adjacent). The time
    scale is the plan interval in seconds, the z scale the step in micrometers,
    and the y/x scale `pixel_size_um`. A time plan without a fixed number of
    points gives an unbounded ``t`` (count None). A `WellPlatePlan`, or
    positions carrying plate_row/plate_col, give a `Plate`; their fields of
    view (grid points included) are named fov0, fov1, ... within each well,
    unless the stage position has a name of its own.

    Parameters
    ----------
    seq : useq.MDASequence
        The sequence to convert.
    image_width, image_height : int
        Frame size in pixels (x and y counts).
    units : Mapping[str, tuple[float, str] | None], optional
        Per-axis ``(scale, unit)`` overriding the defaults, e.g.
        ``{"t": (1.0, "minute")}``.
    pixel_size_um : float, optional
        Pixel size for the y and x scales; ignored with a warning if <= 0.
    chunk_shapes : Mapping[str, int], optional
        Elements per chunk, by axis name (t, c, z, y, x).
    shard_shapes : Mapping[str, int], optional
        Chunks per shard, by axis name.

    Returns
    -------
    dict
        ``{"dimensions": [...], "plate": Plate | None}``, to be unpacked into
        `AcquisitionSettings(**result, root_path=..., dtype=...)`.

    Raises
    ------
    ImportError
        If useq-schema (>= 0.9.2) is not installed.
    NotImplementedError
        For sequences that cannot be stored as one regular array per position:
        non-adjacent p/g axes, ``Channel.do_stack=False`` with a z plan,
        ``Channel.acquire_every > 1``, a `WellPlatePlan` combined with a
        ``grid_plan``, or position sub-sequences with t/c/z plans.
    """
    useq_mod = _import_useq()
    if not isinstance(seq, useq_mod.MDASequence):
        # ValueError (not TypeError) as in ome-writers 0.3.2.
        raise ValueError(f"seq must be a useq.MDASequence, got {type(seq).__name__}")
    dims = _dimensions(
        useq_mod,
        seq,
        image_width,
        image_height,
        units=units or {},
        pixel_size_um=pixel_size_um,
        chunk_shapes=chunk_shapes or {},
        shard_shapes=shard_shapes or {},
    )
    return {"dimensions": dims, "plate": _plate(useq_mod, seq)}


@deprecated("Use 'useq_to_acquisition_settings' instead.", category=None)
def dims_from_useq(
    seq: useq.MDASequence,
    image_width: int,
    image_height: int,
    *,
    units: Mapping[str, UnitTuple | None] | None = None,
    pixel_size_um: float | None = None,
    chunk_shapes: Mapping[str, int] | None = None,
    shard_shapes: Mapping[str, int] | None = None,
) -> list[Dimension]:
    """Deprecated: ``useq_to_acquisition_settings(...)["dimensions"]``."""
    warnings.warn(
        "`dims_from_useq` is deprecated and will be removed in a future version. "
        "Use `useq_to_acquisition_settings` instead: dimensions can be obtained "
        "from the returned dictionary.",
        DeprecationWarning,
        stacklevel=2,
    )
    return useq_to_acquisition_settings(
        seq,
        image_width,
        image_height,
        units=units,
        pixel_size_um=pixel_size_um,
        chunk_shapes=chunk_shapes,
        shard_shapes=shard_shapes,
    )["dimensions"]


# ---------------------------------------------------------------------------
# Sequence checks
# ---------------------------------------------------------------------------


def _reject_ragged(useq_mod: ModuleType, seq: useq.MDASequence) -> None:
    """Raise NotImplementedError for sequences that give ragged arrays."""
    order = list(seq.axis_order)
    if "p" in order and "g" in order and abs(order.index("p") - order.index("g")) != 1:
        raise NotImplementedError(
            f"Cannot handle axis_order={seq.axis_order} with non-adjacent position "
            "and grid axes: positions and grid points are merged into one position "
            "dimension, so they must be iterated together."
        )
    if seq.z_plan and any(ch.do_stack is False for ch in seq.channels):
        raise NotImplementedError(
            "Sequences with Channel.do_stack=False values are not supported: "
            "channels would have z-stacks of different sizes."
        )
    if any(ch.acquire_every != 1 for ch in seq.channels):
        raise NotImplementedError(
            "Sequences with Channel.acquire_every > 1 are not supported: channels "
            "would have different numbers of timepoints."
        )
    plate_plan = isinstance(seq.stage_positions, useq_mod.WellPlatePlan)
    if plate_plan and seq.grid_plan:
        raise NotImplementedError(
            "WellPlatePlan with grid_plan is not supported. "
            "Use well_points_plan on the WellPlatePlan instead."
        )
    if not plate_plan:
        for pos in seq.stage_positions:
            sub = pos.sequence
            if sub is not None and (sub.time_plan or sub.channels or sub.z_plan):
                raise NotImplementedError(
                    "Ragged dimensions detected: position sub-sequences may only "
                    f"contain a grid_plan (position {pos.name!r} has t/c/z plans)."
                )


# ---------------------------------------------------------------------------
# Dimensions
# ---------------------------------------------------------------------------


def _sizes(seq: useq.MDASequence) -> tuple[dict[str, int | None], str]:
    """Axis sizes and used axes; t is None when the time plan has no end."""
    try:
        return dict(seq.sizes), str(seq.used_axes)
    except ZeroDivisionError:
        # e.g. TIntervalDuration(interval=0): "as fast as possible" for a
        # duration, so the number of timepoints is unknown in advance.
        without_time = seq.model_copy(update={"time_plan": None})
        sizes: dict[str, int | None] = dict(without_time.sizes)
        sizes["t"] = None
        return sizes, str(without_time.used_axes) + "t"


def _dimensions(
    useq_mod: ModuleType,
    seq: useq.MDASequence,
    image_width: int,
    image_height: int,
    *,
    units: Mapping[str, UnitTuple | None],
    pixel_size_um: float | None,
    chunk_shapes: Mapping[str, int],
    shard_shapes: Mapping[str, int],
) -> list[Dimension]:
    _reject_ragged(useq_mod, seq)
    sizes, used = _sizes(seq)

    dims: list[Dimension] = []
    positions_done = False
    for axis in map(str, seq.axis_order):
        if axis not in used:
            continue
        if axis in ("p", "g"):
            if not positions_done:
                positions_done = True
                if positions := _positions(useq_mod, seq):
                    dims.append(StandardAxis.POSITION.to_dimension(coords=positions))
            continue
        dims.append(
            _index_dimension(
                seq,
                StandardAxis(axis),
                sizes[axis],
                units.get(axis),
                chunk_shapes.get(axis),
                shard_shapes.get(axis),
            )
        )

    if pixel_size_um is not None and pixel_size_um <= 0:
        warnings.warn(
            f"Invalid pixel_size_um={pixel_size_um}: must be positive. Ignoring it.",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
        pixel_size_um = None
    for axis, count in ((StandardAxis.Y, image_height), (StandardAxis.X, image_width)):
        dims.append(
            axis.to_dimension(
                count=count,
                scale=pixel_size_um,
                chunk_size=chunk_shapes.get(axis.value),
                shard_size_chunks=shard_shapes.get(axis.value),
            )
        )
    return dims


def _index_dimension(
    seq: useq.MDASequence,
    axis: StandardAxis,
    count: int | None,
    user_unit: UnitTuple | None,
    chunk: int | None,
    shard: int | None,
) -> Dimension:
    """A t, c or z dimension with its scale, unit and channel coords."""
    scale: float = 1.0
    unit = axis.unit()
    if user_unit:
        scale, unit = user_unit
    elif axis is StandardAxis.TIME and seq.time_plan is not None:
        # A multi-phase plan has no single interval: keep scale 1.
        interval = getattr(seq.time_plan, "interval", None)
        if interval is not None:
            scale = interval.total_seconds()
    elif axis is StandardAxis.Z and seq.z_plan is not None:
        # Absolute/relative position lists have no step: keep scale 1.
        step = getattr(seq.z_plan, "step", None)
        if step is not None:
            scale = float(step)

    coords: list[Any] | None = None
    if axis is StandardAxis.CHANNEL and seq.channels:
        coords = [Channel(name=ch.config) for ch in seq.channels]
    return Dimension(
        name=axis.value,
        count=count,
        coords=coords,
        type=axis.dimension_type(),
        unit=unit,
        scale=scale,
        chunk_size=chunk,
        shard_size_chunks=shard,
    )


# ---------------------------------------------------------------------------
# Positions
# ---------------------------------------------------------------------------


def _plate_labels(pos: Any) -> tuple[str | None, str | None]:
    """useq's 0-based plate_row/plate_col as ("A", "1")-style names."""
    row, col = pos.plate_row, pos.plate_col
    if row is not None and col is not None:
        return _row_label(row), str(col + 1)
    if (row is None) != (col is None):
        warnings.warn(
            f"Position {pos.name!r} has plate_row={row} but plate_col={col}; both "
            "must be set. Ignoring its plate location.",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
    return None, None


def _positions(useq_mod: ModuleType, seq: useq.MDASequence) -> list[Position]:
    """Positions in visiting order, with p and g flattened together."""
    if isinstance(seq.stage_positions, useq_mod.WellPlatePlan):
        return _well_plate_positions(useq_mod, seq.stage_positions)
    if seq.stage_positions:
        return _stage_positions(seq)
    if seq.grid_plan is not None:
        return [
            Position(
                name=f"{i:04d}",
                grid_row=point.grid_row,
                grid_column=point.grid_col,
                x_coord=point.x,
                y_coord=point.y,
                z_coord=point.z,
            )
            for i, point in enumerate(seq.grid_plan)
        ]
    return []


def _well_plate_positions(useq_mod: ModuleType, plan: Any) -> list[Position]:
    # The plan yields absolute positions well by well; the grid location of
    # each field of view is only known from well_points_plan.
    points = plan.well_points_plan
    fovs = [points] if isinstance(points, useq_mod.RelativePosition) else list(points)
    out = []
    for i, pos in enumerate(plan):
        fov = i % len(fovs)
        out.append(
            Position(
                name=f"fov{fov}",
                plate_row=_row_label(pos.plate_row),
                plate_column=str((pos.plate_col or 0) + 1),
                grid_row=fovs[fov].grid_row,
                grid_column=fovs[fov].grid_col,
                x_coord=pos.x,
                y_coord=pos.y,
            )
        )
    return out


def _with_grid_point(
    name: str, pos: Any, point: Any, point_index: int, pos_index: int | None, *, unique: bool
) -> Position:
    """A stage position moved to one point of a grid (`unique`: the name needs no tag)."""
    if point.is_relative:
        x = (pos.x or 0) + (point.x or 0)
        y = (pos.y or 0) + (point.y or 0)
    else:
        # An absolute grid replaces the stage position's x/y.
        x, y = point.x, point.y
    if not unique and point.grid_row is None and point.grid_col is None:
        # Random points have no grid cell: make the names unique instead.
        tag = f"g{point_index:04d}"
        if pos_index is not None:
            tag = f"p{pos_index:04d}_{tag}"
        elif not name:
            tag = f"{point_index:04d}"
        name = f"{name}_{tag}" if name else tag
    plate_row, plate_column = _plate_labels(pos)
    return Position(
        name=name,
        plate_row=plate_row,
        plate_column=plate_column,
        grid_row=point.grid_row,
        grid_column=point.grid_col,
        x_coord=x,
        y_coord=y,
        z_coord=pos.z,
    )


class _FieldNames:
    """Names of unnamed positions in a well: fov0, fov1, ... per well, in visiting order.

    A WellPlatePlan names its fields of view so; stage positions in wells (with
    plate_row/plate_col) would otherwise all be named after their index, and
    the grid points of one well would share one name, hence one NGFF path
    (row/column/name) in a plate.
    """

    def __init__(self) -> None:
        self._next: Counter[tuple[Any, Any]] = Counter()

    def __call__(self, pos: Any, index: int) -> tuple[str, bool]:
        """(name, whether it is a generated field name) of the next field of `pos`."""
        if pos.name:
            return pos.name, False
        if pos.plate_row is None or pos.plate_col is None:
            return str(index), False
        well = (pos.plate_row, pos.plate_col)
        self._next[well] += 1
        return f"fov{self._next[well] - 1}", True


def _stage_positions(seq: useq.MDASequence) -> list[Position]:
    stage = list(seq.stage_positions)
    outer_grid = list(seq.grid_plan) if seq.grid_plan else []
    order = str(seq.axis_order)
    field_name = _FieldNames()
    if outer_grid and "g" in order and "p" in order and order.index("g") < order.index("p"):
        # Grid outside positions: every position is visited at each grid point.
        out = []
        for g, point in enumerate(outer_grid):
            for p, pos in enumerate(stage):
                name, unique = field_name(pos, p)
                out.append(_with_grid_point(name, pos, point, g, None, unique=unique))
        return out

    out = []
    for p, pos in enumerate(stage):
        sub_grid = pos.sequence.grid_plan if pos.sequence else None
        grid = list(sub_grid) if sub_grid else outer_grid
        if not grid:
            plate_row, plate_column = _plate_labels(pos)
            out.append(
                Position(
                    name=field_name(pos, p)[0],
                    plate_row=plate_row,
                    plate_column=plate_column,
                    grid_row=pos.grid_row,
                    grid_column=pos.grid_col,
                    x_coord=pos.x,
                    y_coord=pos.y,
                    z_coord=pos.z,
                )
            )
            continue
        pos_index = p if len(stage) > 1 else None
        for g, point in enumerate(grid):
            name, unique = field_name(pos, p)
            out.append(_with_grid_point(name, pos, point, g, pos_index, unique=unique))
    return out


# ---------------------------------------------------------------------------
# Plate
# ---------------------------------------------------------------------------


def _plate(useq_mod: ModuleType, seq: useq.MDASequence) -> Plate | None:
    """The plate of a WellPlatePlan, or one spanning annotated positions."""
    stage = seq.stage_positions
    if isinstance(stage, useq_mod.WellPlatePlan):
        return Plate(
            row_names=[_row_label(i) for i in range(stage.plate.rows)],
            column_names=[str(i + 1) for i in range(stage.plate.columns)],
            name=stage.plate.name or None,
        )
    wells = [
        (pos.plate_row, pos.plate_col)
        for pos in stage
        if pos.plate_row is not None and pos.plate_col is not None
    ]
    if not wells:
        return None
    n_rows = max(r for r, _ in wells) + 1
    n_cols = max(c for _, c in wells) + 1
    return Plate(
        row_names=[_row_label(i) for i in range(n_rows)],
        column_names=[str(i + 1) for i in range(n_cols)],
    )
