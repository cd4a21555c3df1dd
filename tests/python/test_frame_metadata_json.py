"""Frame metadata is encoded in C++ for plain dicts: the files hold what Python's json would."""

from __future__ import annotations

import enum
import json
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr

from conftest import frame_for
from ome_writers import AcquisitionSettings, Dimension, _core, create_stream
from ome_writers._stream import _metadata_json


class Level(enum.IntEnum):
    HIGH = 3


PLAIN: list[dict[str, Any]] = [
    {"delta_t": 0.01, "exposure_time": 10.0, "position_z": -0.0, "camera_temperature": 20.0},
    {"big": 1e16, "e15": 1e15, "tiny": 5e-324, "max": 1.7976931348623157e308, "pi": 3.14159},
    {"i": -(2**63), "j": 2**63 - 1, "zero": 0, "t": True, "f": False, "n": None},
    {"text": 'quote " backslash \\ newline \n tab \t bell \x07 é \u2028 😀', "": ""},
    {"nested": {"list": [1, [2.5, (3, "x")], {}], "tuple": (), "dict": {"a": {"b": [None]}}}},
    {"float64": np.float64(0.1), "enum": Level.HIGH},  # subclasses of float and int
    {},
]

# Not encoded in C++: Python's encoder (and its errors) decide these.
NOT_PLAIN: list[Any] = [
    {1: "int key"},
    {"x": float("nan")},
    {"x": float("inf")},
    {"x": 2**64},
    {"x": np.float32(1.5)},
    {"x": np.uint8(7)},
    {"x": "\ud800"},
    {"x": {1, 2}},
    OrderedDict(a=1),  # a dict subclass: Python's encoder calls its items()
    {"x": OrderedDict(a=1)},
    [("a", 1)],
    "not a dict",
]


@pytest.mark.parametrize("metadata", PLAIN)
def test_plain_dicts_encode_to_what_json_reads_back_alike(metadata: dict[str, Any]) -> None:
    text = _core.metadata_json(metadata)
    assert text is not None
    ours, theirs = json.loads(text), json.loads(json.dumps(metadata))
    assert ours == theirs
    # Same JSON types too: 10.0 stays a float, not the integer 10.
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("metadata", NOT_PLAIN)
def test_anything_else_is_left_to_python(metadata: Any) -> None:
    assert _core.metadata_json(metadata) is None


def test_cycles_are_left_to_python() -> None:
    cycle: dict[str, Any] = {}
    cycle["me"] = cycle
    assert _core.metadata_json(cycle) is None
    with pytest.raises(ValueError, match="frame_metadata cannot be serialised"):
        _metadata_json(cycle, "frame_metadata")
    deep: dict[str, Any] = {"v": 1}
    for _ in range(40):  # deeper than the C++ encoder goes: Python's encoder takes it
        deep = {"d": deep}
    assert _core.metadata_json(deep) is None
    assert json.loads(_metadata_json(deep, "frame_metadata") or "") == deep


@pytest.mark.parametrize("fmt", ["ome-zarr", "ome-tiff"])
def test_files_hold_the_metadata_as_json_would(tmp_path: Path, fmt: str) -> None:
    s = AcquisitionSettings(
        root_path=str(tmp_path / ("m.ome.zarr" if fmt == "ome-zarr" else "m.ome.tiff")),
        dtype="uint16",
        format=fmt,
        dimensions=[Dimension(name="t", count=None, type="time"), Dimension(name="y", count=8),
                    Dimension(name="x", count=8)],
    )  # fmt: skip
    metas = [m for m in PLAIN if m] + [{1: "int key", "v": np.uint8(7)}]
    with create_stream(s) as stream:
        for i, m in enumerate(metas):
            stream.append(frame_for(i, (8, 8), "uint16"), frame_metadata=m, copy=i % 2 == 0)
    expected = [json.loads(json.dumps(m, default=lambda v: v.item())) for m in metas]
    if fmt == "ome-zarr":
        stored = zarr.open_group(s.output_path, mode="r").attrs["ome_writers"]["frame_metadata"]
        assert [{k: v for k, v in e.items() if k != "storage_index"} for e in stored] == expected
        assert repr(stored[0]["exposure_time"]) == "10.0"
        data = zarr.open_array(Path(s.output_path) / "0", mode="r")[:]
    else:
        with tifffile.TiffFile(s.output_path) as tif:
            data = tif.asarray()
            xml = tif.ome_metadata or ""
        assert 'ExposureTime="10' in xml and "camera_temperature" in xml
    for i in range(len(metas)):
        np.testing.assert_array_equal(data[i], frame_for(i, (8, 8), "uint16"))


@pytest.mark.parametrize("fmt", ["ome-zarr", "ome-tiff"])
def test_files_are_the_same_as_with_pythons_encoder(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ome_writers._stream as stream_module

    def write(name: str) -> str:
        s = AcquisitionSettings(
            root_path=str(tmp_path / name / ("m.ome.zarr" if fmt == "ome-zarr" else "m.ome.tiff")),
            dtype="uint16",
            format=fmt,
            dimensions=[Dimension(name="t", count=None, type="time"), Dimension(name="y", count=8),
                        Dimension(name="x", count=8)],
        )  # fmt: skip
        with create_stream(s) as stream:
            for i, m in enumerate(m for m in PLAIN if m):
                stream.append(frame_for(i, (8, 8), "uint16"), frame_metadata=m)
        if fmt == "ome-zarr":
            return (Path(s.output_path) / "zarr.json").read_text()
        with tifffile.TiffFile(s.output_path) as tif:
            xml = tif.ome_metadata or ""
        # Each file has its own UUID and acquisition date.
        xml = re.sub(r"urn:uuid:[0-9a-f-]+", "urn:uuid:-", xml)
        return re.sub(r"<AcquisitionDate>[^<]*<", "<AcquisitionDate><", xml)

    ours = write("cpp")
    monkeypatch.setattr(stream_module, "_plain_metadata_json", None)
    theirs = write("python")
    assert "camera_temperature" in ours
    assert ours.replace("cpp", "python") == theirs
