"""Behaviours that code written for ome-writers 0.3.2 relies on (issue #12).

Each test names what 0.3.2 does (run side by side with 0.3.2 to find out) and
checks that we do the same, reading the files with independent readers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr

from conftest import frame_for
from ome_writers import Dimension, create_stream


def _attrs(path: Path) -> dict:
    return json.loads((path / "zarr.json").read_text())["attributes"]


def test_image_groups_carry_an_ome_writers_block(make_settings) -> None:
    """0.3.2 writes `ome_writers: {version, frame_metadata: [...]}` into an image group's
    attributes once they are written with metadata (frame metadata, update_metadata,
    set_global_metadata), an empty list when no frame had any. We write the block on
    every image group, so code reading `attrs["ome_writers"]["frame_metadata"]` finds it
    whether or not the acquisition gave frame metadata; the bf2raw root owns no frames
    and gets none.
    """
    yx = [Dimension(name="y", count=4), Dimension(name="x", count=5)]
    single = make_settings("one.ome.zarr", dimensions=[Dimension(name="t", count=2), *yx])
    multi = make_settings(
        "two.ome.zarr",
        dimensions=[
            Dimension(name="t", count=2),
            Dimension(name="p", type="position", coords=["A", "B"]),
            *yx,
        ],
    )
    for s in (single, multi):
        with create_stream(s) as stream:
            for i in range(s.num_frames):
                meta = {"i": i} if s is multi and i == 0 else None
                stream.append(frame_for(i, (4, 5), "uint16"), frame_metadata=meta)
    root = Path(single.output_path)
    block = _attrs(root)["ome_writers"]
    assert block["frame_metadata"] == []
    assert isinstance(block["version"], str) and block["version"]
    group = zarr.open_group(root, mode="r")
    assert group.attrs["ome_writers"]["frame_metadata"] == []
    np.testing.assert_array_equal(group["0"][1], frame_for(1, (4, 5), "uint16"))

    root = Path(multi.output_path)
    assert "ome_writers" not in _attrs(root)
    a = _attrs(root / "A")["ome_writers"]["frame_metadata"]
    b = _attrs(root / "B")["ome_writers"]["frame_metadata"]
    assert a == [{"i": 0, "storage_index": [0]}]
    assert b == []


def test_two_plate_fields_with_one_path_are_refused(make_settings) -> None:
    """0.3.2 stores two positions of one well that differ only in grid coordinates
    under the same `row/column/name` group, the second overwriting the first's
    frames. We refuse them at create_stream, before anything is written or an
    existing store is replaced.
    """
    from ome_writers import Plate, Position

    fields = [
        Position(name="f", plate_row="A", plate_column="1", grid_row=0, grid_column=c)
        for c in range(2)
    ]
    s = make_settings(
        "plate.ome.zarr",
        dimensions=[
            Dimension(name="p", type="position", coords=fields),
            Dimension(name="y", count=4),
            Dimension(name="x", count=4),
        ],
        plate=Plate(row_names=["A"], column_names=["1"]),
        overwrite=True,
    )
    existing = Path(s.output_path)
    existing.mkdir()
    (existing / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    with pytest.raises(ValueError, match="positions 0 and 1 would both be stored in group 'A/1/f'"):
        create_stream(s)
    assert sorted(p.name for p in existing.iterdir()) == ["zarr.json"]
