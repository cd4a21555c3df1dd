"""useq-schema MDASequence → AcquisitionSettings conversion."""

from __future__ import annotations

import sys
import warnings
from typing import Any, NamedTuple

import pytest

from ome_writers._schema import AcquisitionSettings, Channel, Plate, Position
from ome_writers._useq import dims_from_useq, useq_to_acquisition_settings

try:
    import useq
except ImportError:  # pragma: no cover - useq-schema is a test dependency
    useq = None

needs_useq = pytest.mark.skipif(useq is None, reason="useq-schema not installed")


# ---------------------------------------------------------------------------
# optional dependency
# ---------------------------------------------------------------------------


def test_missing_useq_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "useq", None)  # makes `import useq` fail
    with pytest.raises(ImportError, match="pip install"):
        useq_to_acquisition_settings(object(), 8, 8)  # type: ignore[arg-type]
    with (
        pytest.raises(ImportError, match="useq-schema"),
        pytest.warns(DeprecationWarning),
    ):
        dims_from_useq(object(), 8, 8)  # type: ignore[arg-type]


@needs_useq
def test_not_a_sequence() -> None:
    with pytest.raises(ValueError, match=r"seq must be a useq\.MDASequence"):
        useq_to_acquisition_settings({"channels": ["a"]}, 8, 8)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# dimension layout for many sequence shapes
# ---------------------------------------------------------------------------


class Pos(NamedTuple):
    name: str
    row: str | None = None
    col: str | None = None
    grid_row: int | None = None
    grid_col: int | None = None


class Case(NamedTuple):
    id: str
    seq: Any
    dim_names: str
    positions: list[Pos] | None = None


def _cases() -> list[Case]:
    if useq is None:
        return []
    grid12 = useq.GridRowsColumns(rows=1, columns=2)
    return [
        Case(
            "positions_first",
            useq.MDASequence(
                axis_order="ptcz",
                stage_positions=[(0.0, 0.0), (10.0, 10.0)],
                time_plan={"interval": 0.1, "loops": 3},
                channels=["DAPI", "Cy5"],
                z_plan={"range": 2, "step": 1.0},
            ),
            "ptczyx",
            [Pos("0"), Pos("1")],
        ),
        Case(
            "positions_inside",
            useq.MDASequence(
                axis_order="tcpz",
                stage_positions=[(0.0, 0.0), (10.0, 10.0)],
                time_plan={"interval": 0.1, "loops": 2},
                channels=["DAPI", "Cy5"],
                z_plan={"range": 2, "step": 1.0},
            ),
            "tcpzyx",
            [Pos("0"), Pos("1")],
        ),
        Case(
            "no_positions",
            useq.MDASequence(
                axis_order="tcz",
                time_plan={"interval": 0.1, "loops": 2},
                channels=["DAPI", "Cy5"],
                z_plan={"range": 2, "step": 1.0},
            ),
            "tczyx",
        ),
        Case(
            "sub_sequence_grid",
            useq.MDASequence(
                axis_order="pgtcz",
                stage_positions=[
                    useq.Position(x=0.0, y=0.0, name="single"),
                    useq.Position(
                        x=10.0,
                        y=10.0,
                        name="grid",
                        sequence=useq.MDASequence(grid_plan=grid12),
                    ),
                ],
                time_plan={"interval": 0.1, "loops": 3},
                channels=["DAPI"],
            ),
            "ptcyx",
            [
                Pos("single"),
                Pos("grid", None, None, 0, 0),
                Pos("grid", None, None, 0, 1),
            ],
        ),
        Case(
            "sub_sequence_grid_and_global_grid",
            useq.MDASequence(
                axis_order="pgtcz",
                stage_positions=[
                    useq.Position(x=0.0, y=0.0, name="single"),
                    useq.Position(
                        x=0.0,
                        y=0.0,
                        name="grid",
                        sequence=useq.MDASequence(grid_plan=grid12),
                    ),
                ],
                grid_plan=useq.GridRowsColumns(rows=2, columns=1),
                z_plan={"range": 2, "step": 1.0},
            ),
            "pzyx",
            [
                Pos("single", None, None, 0, 0),
                Pos("single", None, None, 1, 0),
                Pos("grid", None, None, 0, 0),
                Pos("grid", None, None, 0, 1),
            ],
        ),
        Case(
            "grid_only",
            useq.MDASequence(
                axis_order="gtc",
                grid_plan=grid12,
                time_plan={"interval": 0.1, "loops": 2},
                channels=["DAPI"],
            ),
            "ptcyx",
            [Pos("0000", None, None, 0, 0), Pos("0001", None, None, 0, 1)],
        ),
        Case(
            "grid_outside_positions",
            useq.MDASequence(
                axis_order="gptcz",
                stage_positions=[(0.0, 0.0), (10.0, 10.0)],
                grid_plan=grid12,
                channels=["DAPI"],
            ),
            "pcyx",
            [
                Pos("0", None, None, 0, 0),
                Pos("1", None, None, 0, 0),
                Pos("0", None, None, 0, 1),
                Pos("1", None, None, 0, 1),
            ],
        ),
        Case(
            "well_plate_points",
            useq.MDASequence(
                axis_order="ptcz",
                stage_positions=useq.WellPlatePlan(
                    plate=useq.WellPlate.from_str("96-well"),
                    a1_center_xy=(0.0, 0.0),
                    selected_wells=((0, 1), (0, 1)),
                    well_points_plan=grid12,
                ),
                time_plan={"interval": 0.1, "loops": 2},
                channels=["DAPI"],
            ),
            "ptcyx",
            [
                Pos("fov0", "A", "1", 0, 0),
                Pos("fov1", "A", "1", 0, 1),
                Pos("fov0", "B", "2", 0, 0),
                Pos("fov1", "B", "2", 0, 1),
            ],
        ),
        Case(
            "multi_phase_time",
            useq.MDASequence(
                axis_order="tc",
                time_plan=[
                    {"interval": 0.1, "loops": 3},
                    {"interval": 0.5, "loops": 2},
                ],
                channels=["DAPI"],
            ),
            "tcyx",
        ),
        Case(
            "z_absolute",
            useq.MDASequence(
                axis_order="cz",
                channels=["DAPI"],
                z_plan=useq.ZAbsolutePositions(absolute=[0, 1, 2, 3]),
            ),
            "czyx",
        ),
        Case(
            "z_relative_default_axis_order",
            useq.MDASequence(
                channels=["DAPI"], z_plan=useq.ZRelativePositions(relative=[-1, 0, 1])
            ),
            "czyx",
        ),
        Case(
            "grid_from_edges_on_position",
            useq.MDASequence(
                axis_order="pgtc",
                stage_positions=[(None, None, 3)],
                grid_plan=useq.GridFromEdges(
                    fov_width=50.0,
                    fov_height=50.0,
                    left=0.0,
                    right=100.0,
                    top=0.0,
                    bottom=100.0,
                ),
                channels=["DAPI"],
            ),
            "pcyx",
            [
                Pos("0", None, None, 0, 0),
                Pos("0", None, None, 0, 1),
                Pos("0", None, None, 1, 1),
                Pos("0", None, None, 1, 0),
            ],
        ),
        Case(
            "grid_from_polygon",
            useq.MDASequence(
                axis_order="pgtc",
                stage_positions=[useq.Position(z=3, name="poly")],
                grid_plan=useq.GridFromPolygon(
                    fov_width=50.0,
                    fov_height=50.0,
                    vertices=[(0, 0), (100, 0), (100, 100), (0, 100)],
                ),
                channels=["DAPI"],
            ),
            "pcyx",
            [
                Pos("poly", None, None, 0, 0),
                Pos("poly", None, None, 0, 1),
                Pos("poly", None, None, 1, 1),
                Pos("poly", None, None, 1, 0),
            ],
        ),
        Case(
            "random_points_two_positions",
            useq.MDASequence(
                axis_order="pgtc",
                stage_positions=[
                    useq.Position(x=1, y=2, z=3, name="rp"),
                    useq.Position(x=11, y=12, z=4, name="rp"),
                ],
                grid_plan=useq.RandomPoints(
                    num_points=2, max_width=100, max_height=100, random_seed=42
                ),
                channels=["DAPI"],
            ),
            "pcyx",
            [
                Pos("rp_p0000_g0000"),
                Pos("rp_p0000_g0001"),
                Pos("rp_p0001_g0000"),
                Pos("rp_p0001_g0001"),
            ],
        ),
        Case(
            "random_points_one_position",
            useq.MDASequence(
                axis_order="gc",
                stage_positions=[useq.Position(x=1, y=2, z=3, name="rp")],
                grid_plan=useq.RandomPoints(
                    num_points=3, max_width=100, max_height=100, random_seed=42
                ),
                channels=["DAPI"],
            ),
            "pcyx",
            [Pos("rp_g0000"), Pos("rp_g0001"), Pos("rp_g0002")],
        ),
    ]


@needs_useq
@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.id)
def test_sequence_layout(case: Case) -> None:
    seq = case.seq
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = useq_to_acquisition_settings(
            seq, image_width=48, image_height=32, pixel_size_um=0.25
        )
    dims = result["dimensions"]
    assert "".join(d.name for d in dims) == case.dim_names

    by_name = {d.name: d for d in dims}
    y, x = by_name["y"], by_name["x"]
    assert (y.count, x.count) == (32, 48)
    assert (y.scale, x.scale) == (0.25, 0.25)
    assert (y.unit, x.unit, y.type, x.type) == ("micrometer",) * 2 + ("space",) * 2
    if "t" in by_name:
        t = by_name["t"]
        assert (t.type, t.unit, t.count) == (
            "time",
            "second",
            seq.time_plan.num_timepoints(),
        )
        interval = getattr(seq.time_plan, "interval", None)
        assert t.scale == (interval.total_seconds() if interval else 1.0)
    if "z" in by_name:
        z = by_name["z"]
        assert (z.type, z.unit, z.count) == (
            "space",
            "micrometer",
            seq.z_plan.num_positions(),
        )
        assert z.scale == getattr(seq.z_plan, "step", 1.0)
    if "c" in by_name:
        c = by_name["c"]
        assert (c.type, c.unit, c.scale) == ("channel", None, 1.0)
        assert c.coords == [Channel(name=ch.config) for ch in seq.channels]

    s = AcquisitionSettings(**result, root_path="", dtype="u2")
    events = list(seq)
    assert s.num_frames == len(events)

    p = by_name.get("p")
    if case.positions is None:
        assert p is None
        assert result["plate"] is None
        return
    assert p is not None
    assert p.type == "position"
    assert p.count == len({(e.index.get("p", 0), e.index.get("g")) for e in events})
    got = [
        Pos(q.name, q.plate_row, q.plate_column, q.grid_row, q.grid_column) for q in p.coords or []
    ]
    assert got == case.positions
    assert all(
        isinstance(q, Position) and q.x_coord is not None and q.y_coord is not None
        for q in p.coords or []
    )


@needs_useq
def test_stage_coordinates() -> None:
    seq = useq.MDASequence(
        axis_order="pgc",
        stage_positions=[useq.Position(x=100.0, y=200.0, z=5.0, name="s")],
        grid_plan=useq.GridRowsColumns(rows=1, columns=2, fov_width=10, fov_height=10),
        channels=["DAPI"],
    )
    coords = useq_to_acquisition_settings(seq, 8, 8)["dimensions"][0].coords
    assert coords is not None
    events = list(seq)
    # relative grid points are offsets from the stage position
    assert [(q.x_coord, q.y_coord, q.z_coord) for q in coords] == [
        (e.x_pos, e.y_pos, 5.0) for e in events
    ]
    assert coords[0].x_coord != coords[1].x_coord


# ---------------------------------------------------------------------------
# plates
# ---------------------------------------------------------------------------


@needs_useq
def test_well_plate_plan_gives_plate() -> None:
    seq = useq.MDASequence(
        stage_positions=useq.WellPlatePlan(
            plate=useq.WellPlate.from_str("96-well"),
            a1_center_xy=(0.0, 0.0),
            selected_wells=((0, 1), (0, 1)),
        ),
        channels=["DAPI"],
    )
    result = useq_to_acquisition_settings(seq, 16, 16)
    assert result["plate"] == Plate(
        row_names=list("ABCDEFGH"),
        column_names=[str(i) for i in range(1, 13)],
        name="96-well",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = AcquisitionSettings(**result, root_path="plate.ome.zarr", dtype="u2")
    assert [(q.plate_row, q.plate_column) for q in s.positions] == [
        ("A", "1"),
        ("B", "2"),
    ]


@needs_useq
def test_plate_from_position_annotations() -> None:
    seq = useq.MDASequence(
        stage_positions=[
            useq.Position(x=0, y=0, name="f0", plate_row=0, plate_col=0),
            useq.Position(x=1, y=0, name="f1", plate_row=0, plate_col=0),
            useq.Position(x=0, y=9, name="f0", plate_row=1, plate_col=2),
        ],
        channels=["DAPI"],
    )
    result = useq_to_acquisition_settings(seq, 16, 16)
    assert result["plate"] == Plate(row_names=["A", "B"], column_names=["1", "2", "3"])
    coords = result["dimensions"][0].coords
    assert [(q.name, q.plate_row, q.plate_column) for q in coords or []] == [
        ("f0", "A", "1"),
        ("f1", "A", "1"),
        ("f0", "B", "3"),
    ]
    AcquisitionSettings(**result, root_path="p.zarr", dtype="u1")


def _plate_positions(**kwargs: Any) -> list[Any]:
    return [
        useq.Position(x=0.0, y=0.0, plate_row=0, plate_col=0, **kwargs),
        useq.Position(x=9e3, y=0.0, plate_row=0, plate_col=1, **kwargs),
    ]


@needs_useq
@pytest.mark.parametrize(
    ("axis_order", "expected"),
    [
        ("pgc", [("fov0", "A", "1", 0, 0), ("fov1", "A", "1", 0, 1),
                 ("fov0", "A", "2", 0, 0), ("fov1", "A", "2", 0, 1)]),
        # grid outside positions: fields are numbered in visiting order per well
        ("gpc", [("fov0", "A", "1", 0, 0), ("fov0", "A", "2", 0, 0),
                 ("fov1", "A", "1", 0, 1), ("fov1", "A", "2", 0, 1)]),
    ],
)  # fmt: skip
def test_unnamed_plate_positions_with_grid_are_fields(
    axis_order: str, expected: list[tuple[Any, ...]]
) -> None:
    """0.3.2 names every grid point of an unnamed plate position after the position's
    index ("0", "0", "1", "1"), so a plate's fields collide on one path (A/1/0);
    ome-writers fixed this after 0.3.2 (PR #136): fov0, fov1, ... per well, as a
    WellPlatePlan names them."""
    seq = useq.MDASequence(
        axis_order=axis_order,
        stage_positions=_plate_positions(),
        grid_plan=useq.GridRowsColumns(rows=1, columns=2, fov_width=10, fov_height=10),
        channels=["DAPI"],
    )
    coords = useq_to_acquisition_settings(seq, 8, 8)["dimensions"][0].coords
    assert [
        (q.name, q.plate_row, q.plate_column, q.grid_row, q.grid_column) for q in coords or []
    ] == expected


@needs_useq
def test_plate_position_fields_from_sub_sequences_random_points_and_no_grid() -> None:
    """Unnamed plate positions are fields fov0, fov1, ... of their well whatever
    makes them: a sub-sequence grid, random points (no '_g0000' tag needed) or
    several plain positions in one well; named positions keep their names."""
    grid = useq.GridRowsColumns(rows=1, columns=3, fov_width=10, fov_height=10)
    sub = useq.MDASequence(
        stage_positions=[
            useq.Position(x=0, y=0, plate_row=1, plate_col=0, sequence={"grid_plan": grid})
        ]
    )
    random = useq.MDASequence(
        stage_positions=[useq.Position(x=0, y=0, plate_row=0, plate_col=0)],
        grid_plan=useq.RandomPoints(
            num_points=2, max_width=100, max_height=100, fov_width=5, fov_height=5
        ),
    )
    plain = useq.MDASequence(
        stage_positions=[
            useq.Position(x=0, y=0, plate_row=0, plate_col=0),
            useq.Position(x=1, y=0, plate_row=0, plate_col=0),
            useq.Position(x=0, y=0, plate_row=1, plate_col=0),
            useq.Position(x=0, y=0, plate_row=1, plate_col=0, name="mine"),
            useq.Position(x=0, y=0),  # not in a well: named by index, as before
        ]
    )
    names = {}
    for key, seq in [("sub", sub), ("random", random), ("plain", plain)]:
        coords = useq_to_acquisition_settings(seq, 8, 8)["dimensions"][0].coords or []
        names[key] = [(q.name, q.plate_row) for q in coords]
    assert names["sub"] == [("fov0", "B"), ("fov1", "B"), ("fov2", "B")]
    assert names["random"] == [("fov0", "A"), ("fov1", "A")]
    assert names["plain"] == [
        ("fov0", "A"),
        ("fov1", "A"),
        ("fov0", "B"),
        ("mine", "B"),
        ("4", None),
    ]


@needs_useq
def test_named_plate_positions_with_grid_keep_their_names() -> None:
    """As in ome-writers after 0.3.2: a name the user gave is kept."""
    seq = useq.MDASequence(
        stage_positions=_plate_positions(name="w"),
        grid_plan=useq.GridRowsColumns(rows=1, columns=2, fov_width=10, fov_height=10),
    )
    coords = useq_to_acquisition_settings(seq, 8, 8)["dimensions"][0].coords
    assert [q.name for q in coords or []] == ["w", "w", "w", "w"]


@needs_useq
def test_plate_fields_from_grid_are_written_to_their_own_paths(tmp_path: Any) -> None:
    """With 0.3.2's names the four fields of two wells collapsed into two arrays
    (A/1/0, A/2/1); with fov names each field is its own image A/1/fov0 ... A/2/fov1
    holding its own frames (read back with zarr-python)."""
    import numpy as np
    import zarr

    seq = useq.MDASequence(
        stage_positions=_plate_positions(),
        grid_plan=useq.GridRowsColumns(rows=1, columns=2, fov_width=10, fov_height=10),
    )
    from ome_writers import create_stream

    s = AcquisitionSettings(
        **useq_to_acquisition_settings(seq, 4, 4),
        root_path=str(tmp_path / "p.ome.zarr"),
        dtype="u1",
    )
    with create_stream(s) as stream:
        for i in range(4):
            stream.append(np.full((4, 4), i + 1, np.uint8))
    root = zarr.open_group(s.output_path, mode="r")
    wells = {w["path"]: w for w in root.attrs["ome"]["plate"]["wells"]}
    assert sorted(wells) == ["A/1", "A/2"]
    for i, path in enumerate(["A/1/fov0", "A/1/fov1", "A/2/fov0", "A/2/fov1"]):
        assert (zarr.open_array(f"{s.output_path}/{path}/0", mode="r")[...] == i + 1).all()
    images = zarr.open_group(f"{s.output_path}/A/1", mode="r").attrs["ome"]["well"]["images"]
    assert [im["path"] for im in images] == ["fov0", "fov1"]


@needs_useq
def test_plate_rows_beyond_z_match_plate_helper() -> None:
    seq = useq.MDASequence(
        stage_positions=[
            useq.Position(x=0, y=0, name="a", plate_row=27, plate_col=0),
        ],
    )
    result = useq_to_acquisition_settings(seq, 16, 16)
    coords = result["dimensions"][0].coords
    assert coords is not None
    assert coords[0].plate_row == "AB"
    assert result["plate"] is not None
    assert result["plate"].row_names == Plate.from_standard_wells((28, 1)).row_names


@needs_useq
def test_half_plate_annotation_warns_and_is_ignored() -> None:
    seq = useq.MDASequence(
        stage_positions=[useq.Position(x=0, y=0, name="a", plate_row=1)],
    )
    with pytest.warns(UserWarning, match="Both must be set|both must be set"):
        result = useq_to_acquisition_settings(seq, 16, 16)
    coords = result["dimensions"][0].coords
    assert coords is not None
    assert (coords[0].plate_row, coords[0].plate_column) == (None, None)
    assert result["plate"] is None


# ---------------------------------------------------------------------------
# units, chunks, unbounded time
# ---------------------------------------------------------------------------


@needs_useq
def test_manual_units_override_defaults() -> None:
    seq = useq.MDASequence(
        axis_order="tzc",
        time_plan={"interval": 1, "loops": 3},
        z_plan={"range": 4, "step": 2},
        channels=["DAPI"],
    )
    dims = useq_to_acquisition_settings(seq, 16, 16, units={"t": (1.5, "min"), "z": None})[
        "dimensions"
    ]
    t = dims[0]
    assert (t.name, t.unit, t.scale, t.count) == ("t", "minute", 1.5, 3)
    z = dims[1]
    assert (z.name, z.unit, z.scale) == ("z", "micrometer", 2.0)


@needs_useq
def test_chunk_and_shard_shapes() -> None:
    seq = useq.MDASequence(
        axis_order="tz",
        time_plan={"interval": 1, "loops": 8},
        z_plan={"range": 4, "step": 1},
    )
    dims = useq_to_acquisition_settings(
        seq,
        64,
        32,
        chunk_shapes={"t": 4, "z": 5, "y": 16, "x": 32},
        shard_shapes={"t": 2, "x": 2},
    )["dimensions"]
    assert [(d.name, d.chunk_size, d.shard_size_chunks) for d in dims] == [
        ("t", 4, 2),
        ("z", 5, None),
        ("y", 16, None),
        ("x", 32, 2),
    ]


@needs_useq
def test_bad_pixel_size_is_ignored_with_warning() -> None:
    seq = useq.MDASequence(channels=["DAPI"])
    with pytest.warns(UserWarning, match="pixel_size_um"):
        dims = useq_to_acquisition_settings(seq, 8, 8, pixel_size_um=0)["dimensions"]
    assert [d.scale for d in dims[-2:]] == [None, None]


@needs_useq
def test_unbounded_time() -> None:
    seq = useq.MDASequence(
        axis_order="tcz",
        time_plan=useq.TIntervalDuration(interval=0, duration=3),
        channels=["DAPI", "Cy5"],
        z_plan={"range": 2, "step": 1.0},
    )
    result = useq_to_acquisition_settings(seq, image_width=64, image_height=32)
    dims = result["dimensions"]
    assert [(d.name, d.count) for d in dims] == [
        ("t", None),
        ("c", 2),
        ("z", 3),
        ("y", 32),
        ("x", 64),
    ]
    s = AcquisitionSettings(**result, root_path="u.zarr", dtype="u2")
    assert s.is_unbounded
    assert s.num_frames is None


# ---------------------------------------------------------------------------
# sequences that would give ragged arrays
# ---------------------------------------------------------------------------


def _ragged() -> list[Any]:
    if useq is None:
        return []
    grid = useq.GridRowsColumns(rows=1, columns=2)
    return [
        pytest.param(
            useq.MDASequence(
                channels=[
                    useq.Channel(config="DAPI", do_stack=True),
                    useq.Channel(config="Cy5", do_stack=False),
                ],
                z_plan={"range": 4, "step": 1.0},
            ),
            "do_stack=False",
            id="do_stack",
        ),
        pytest.param(
            useq.MDASequence(
                axis_order="tc",
                time_plan={"interval": 0.1, "loops": 4},
                channels=[
                    useq.Channel(config="DAPI"),
                    useq.Channel(config="Cy5", acquire_every=2),
                ],
            ),
            "acquire_every",
            id="acquire_every_mixed",
        ),
        pytest.param(
            useq.MDASequence(
                axis_order="tc",
                time_plan={"interval": 0.1, "loops": 4},
                channels=[
                    useq.Channel(config="DAPI", acquire_every=2),
                    useq.Channel(config="Cy5", acquire_every=2),
                ],
            ),
            "acquire_every",
            id="acquire_every_uniform",
        ),
        pytest.param(
            useq.MDASequence(
                axis_order="pgtcz",
                stage_positions=[
                    useq.Position(
                        x=0.0,
                        y=0.0,
                        name="a",
                        sequence=useq.MDASequence(grid_plan=grid),
                    ),
                    useq.Position(
                        x=1.0,
                        y=1.0,
                        name="b",
                        sequence=useq.MDASequence(z_plan={"range": 4, "step": 1.0}),
                    ),
                ],
                channels=["DAPI"],
            ),
            "Ragged dimensions detected",
            id="sub_sequence_with_z",
        ),
        pytest.param(
            useq.MDASequence(
                axis_order="gtpc",
                stage_positions=[(0.0, 0.0), (10.0, 10.0)],
                grid_plan=grid,
                time_plan={"interval": 0.1, "loops": 2},
                channels=["DAPI"],
            ),
            "non-adjacent position and grid axes",
            id="g_t_p",
        ),
        pytest.param(
            useq.MDASequence(
                axis_order="ptgcz",
                stage_positions=[(0.0, 0.0), (10.0, 10.0)],
                time_plan={"interval": 0.1, "loops": 3},
                grid_plan=grid,
            ),
            "non-adjacent position and grid axes",
            id="p_t_g",
        ),
        pytest.param(
            useq.MDASequence(
                stage_positions=useq.WellPlatePlan(
                    plate=useq.WellPlate.from_str("96-well"),
                    a1_center_xy=(0.0, 0.0),
                    selected_wells=((0,), (0,)),
                ),
                grid_plan=grid,
                channels=["DAPI"],
            ),
            "WellPlatePlan with grid_plan is not supported",
            id="well_plate_and_grid",
        ),
    ]


@needs_useq
@pytest.mark.parametrize(("seq", "message"), _ragged())
def test_ragged_sequences_raise(seq: Any, message: str) -> None:
    with pytest.raises(NotImplementedError, match=message):
        useq_to_acquisition_settings(seq, image_width=64, image_height=64)


# ---------------------------------------------------------------------------
# plan combinations: the frame count always matches the sequence
# ---------------------------------------------------------------------------


def _plans() -> tuple[list[Any], list[Any], list[Any]]:
    if useq is None:
        return [], [], []
    time_plans = [
        useq.TIntervalDuration(interval=0.1, duration=1.0),
        useq.TIntervalLoops(interval=0.0, loops=3),
        useq.TDurationLoops(duration=1.0, loops=4),
        useq.MultiPhaseTimePlan(
            phases=[
                useq.TIntervalLoops(interval=0, loops=2),
                useq.TIntervalLoops(interval=0.5, loops=2),
            ]
        ),
    ]
    z_plans = [
        useq.ZRangeAround(range=3.0, step=1.0),
        useq.ZTopBottom(top=2.0, bottom=2.0, step=1.0),
        useq.ZAboveBelow(above=2.0, below=1.0, step=1.0),
        useq.ZAbsolutePositions(absolute=[0.0, 1.0, 2.0]),
        useq.ZRelativePositions(relative=[-1.0, 0.0, 1.0]),
    ]
    grid_plans = [
        useq.GridRowsColumns(rows=2, columns=2),
        useq.GridWidthHeight(fov_height=50, fov_width=50, width=100.0, height=100.0),
        useq.RandomPoints(num_points=4, max_width=100.0, max_height=100.0, random_seed=1),
        useq.GridFromEdges(
            fov_width=50.0,
            fov_height=50.0,
            left=0.0,
            right=100.0,
            top=0.0,
            bottom=100.0,
            mode=useq.OrderMode.spiral,
        ),
        useq.GridFromPolygon(
            fov_height=50.0,
            fov_width=50.0,
            vertices=[(0, 0), (100, 0), (100, 100), (0, 100)],
        ),
    ]
    return time_plans, z_plans, grid_plans


_TIME, _Z, _GRID = _plans()


@needs_useq
@pytest.mark.parametrize("time_plan", _TIME, ids=lambda p: type(p).__name__)
@pytest.mark.parametrize("z_plan", _Z, ids=lambda p: type(p).__name__)
@pytest.mark.parametrize("grid_plan", _GRID, ids=lambda p: type(p).__name__)
def test_plan_combinations(time_plan: Any, z_plan: Any, grid_plan: Any) -> None:
    seq = useq.MDASequence(time_plan=time_plan, z_plan=z_plan, grid_plan=grid_plan)
    result = useq_to_acquisition_settings(seq, image_width=64, image_height=64)
    settings = AcquisitionSettings(**result, root_path="", dtype="u2")
    assert settings.num_frames == len(list(seq))
    names = [q.name for q in settings.positions]
    assert len(names) == len(set(names)) or all(q.grid_row is not None for q in settings.positions)


@needs_useq
def test_random_points_sub_sequence_names_are_unique() -> None:
    seq = useq.MDASequence(
        axis_order="pgtc",
        stage_positions=[
            useq.Position(
                x=100.0,
                y=200.0,
                z=0.0,
                name="grid",
                sequence=useq.MDASequence(
                    grid_plan=useq.RandomPoints(
                        num_points=4, max_width=50.0, max_height=50.0, random_seed=7
                    )
                ),
            )
        ],
        channels=["DAPI"],
    )
    result = useq_to_acquisition_settings(seq, image_width=64, image_height=64)
    coords = result["dimensions"][0].coords
    assert [q.name for q in coords or []] == [f"grid_g{i:04d}" for i in range(4)]
    assert all(q.grid_row is None and q.grid_column is None for q in coords or [])
    s = AcquisitionSettings(**result, root_path="", dtype="u2")
    assert s.num_frames == len(list(seq))


@needs_useq
def test_random_points_outside_positions_get_unique_names() -> None:
    seq = useq.MDASequence(
        axis_order="gpc",
        stage_positions=[useq.Position(x=0, y=0, name="a")],
        grid_plan=useq.RandomPoints(num_points=3, max_width=50.0, max_height=50.0, random_seed=3),
        channels=["DAPI"],
    )
    coords = useq_to_acquisition_settings(seq, 8, 8)["dimensions"][0].coords
    assert [q.name for q in coords or []] == ["a_g0000", "a_g0001", "a_g0002"]


# ---------------------------------------------------------------------------
# deprecated helper
# ---------------------------------------------------------------------------


@needs_useq
def test_dims_from_useq_is_deprecated_alias() -> None:
    seq = useq.MDASequence(
        axis_order="tc", time_plan={"interval": 2, "loops": 2}, channels=["DAPI"]
    )
    with pytest.warns(DeprecationWarning, match="`dims_from_useq` is deprecated"):
        dims = dims_from_useq(seq, 16, 8, pixel_size_um=0.5)
    expected = useq_to_acquisition_settings(seq, 16, 8, pixel_size_um=0.5)
    assert dims == expected["dimensions"]
    assert [(d.name, d.count, d.scale) for d in dims] == [
        ("t", 2, 2.0),
        ("c", 1, 1.0),
        ("y", 8, 0.5),
        ("x", 16, 0.5),
    ]
