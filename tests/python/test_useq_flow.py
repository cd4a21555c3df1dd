"""The path pymmcore-plus takes: useq sequence -> settings -> stream -> live view -> metadata."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import frame_for
from ome_writers import AcquisitionSettings, create_stream, useq_to_acquisition_settings

useq = pytest.importorskip("useq")


def frame_meta(event: useq.MDAEvent, i: int) -> dict:
    """Roughly what pymmcore-plus attaches to each frame (nested dicts included)."""
    return {
        "format": "frame-dict",
        "version": "1.0",
        "runner_time_ms": 10.0 * i,
        "exposure_ms": 10.0,
        "camera_device": "Camera",
        "position": {"x": event.x_pos, "y": event.y_pos, "z": event.z_pos},
        "mda_event": {
            "index": dict(event.index),
            "channel": getattr(event.channel, "config", None),
        },
    }


@pytest.mark.parametrize("fmt", ["ome-zarr", "ome-tiff"])
def test_mda_sequence_round_trip(tmp_path: Path, fmt: str) -> None:
    seq = useq.MDASequence(
        axis_order="tpcz",
        channels=["DAPI", {"config": "FITC", "exposure": 1}],
        stage_positions=[(0, 0, 0), (100, 50, 0)],
        time_plan={"interval": 0.1, "loops": 2},
        z_plan={"range": 2, "step": 1},
    )
    raw = useq_to_acquisition_settings(seq, image_width=24, image_height=16)
    settings = AcquisitionSettings.model_validate(
        {
            "root_path": str(tmp_path / ("mda.ome.zarr" if fmt == "ome-zarr" else "mda.ome.tiff")),
            "dtype": "uint16",
            "overwrite": True,
            **raw,
        }
    )
    events = list(seq)
    assert settings.num_frames == len(events) == 2 * 2 * 2 * 3
    with create_stream(settings) as stream:
        view = stream.view()
        for i, event in enumerate(events):
            stream.append(frame_for(i, (16, 24), "uint16"), frame_metadata=frame_meta(event, i))
            if i == 5:
                stream.flush()
                # Live view mid-run: frame 5 is at its acquisition index.
                idx = tuple(event.index.get(k, 0) for k in "tpcz")
                np.testing.assert_array_equal(view[idx], frame_for(5, (16, 24), "uint16"))
    arr = np.asarray(stream.view())
    for i, event in enumerate(events):
        idx = tuple(event.index.get(k, 0) for k in "tpcz")
        np.testing.assert_array_equal(arr[idx], frame_for(i, (16, 24), "uint16"))
    meta = stream.get_metadata()
    if fmt == "ome-zarr":
        assert set(meta) == {"0", "1"}
        root = Path(settings.output_path)
        entries = json.loads((root / "1" / "zarr.json").read_text())["attributes"]["ome_writers"][
            "frame_metadata"
        ]
        assert entries[0]["mda_event"]["index"]["p"] == 1
        assert entries[0]["position"]["x"] == 100
    else:
        ome = meta[0]
        assert [c.name for c in ome.images[0].pixels.channels] == ["DAPI", "FITC"]
        plane = ome.images[1].pixels.planes[0]
        ann = {a.id: a for a in ome.structured_annotations.map_annotations}[
            plane.annotation_refs[0].id
        ]
        values = {m.k: m.value for m in ann.value.ms}
        first_p1 = next(e for e in events if e.index.get("p") == 1)
        assert json.loads(values["position"]) == {
            "x": first_p1.x_pos,
            "y": first_p1.y_pos,
            "z": first_p1.z_pos,
        }
