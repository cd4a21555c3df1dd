"""Examples are tests: each one runs, and the seed example writes what its page shows."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SEED_EXAMPLE = ROOT / "build" / "seed-cache" / "event_driven.py"
# The seed page's MapAnnotation values: np.random.seed(0) makes them exact.
SEED_TEMPERATURES = [
    37.176405234596764,
    37.04001572083672,
    36.831773331171895,
    36.904821272767585,
    36.696539103178715,
]


def test_demo_acquisition_help_writes_nothing(tmp_path: Path) -> None:
    for flag in ("--help", "-h"):
        result = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "demo_acquisition.py"), flag],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        assert result.stdout.startswith("usage: demo_acquisition.py")
    assert list(tmp_path.iterdir()) == []
    bad = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo_acquisition.py"), "--frobnicate"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert list(tmp_path.iterdir()) == []


def test_demo_acquisition_writes_both_formats(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo_acquisition.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert (tmp_path / "demo.ome.zarr" / "zarr.json").exists()
    assert (tmp_path / "demo.ome.tiff").exists()
    # The demo compares the two files when tifffile and zarr (Python 3.11+) are there.
    if all(importlib.util.find_spec(m) is not None for m in ("tifffile", "zarr")):
        assert "pixel data identical in both files: True" in result.stdout
    else:
        assert "pixel data identical" not in result.stdout


def seed_example() -> Path:
    """examples/event_driven.py of ome-writers 0.3.2, the seed page's script, unchanged.

    scripts/setup.sh takes it from the 0.3.2 sdist into build/seed-cache; the tests
    download nothing.
    """
    if not SEED_EXAMPLE.is_file():
        pytest.fail(f"{SEED_EXAMPLE} is missing: run scripts/setup.sh, which provisions it")
    return SEED_EXAMPLE


def run_seed(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(seed_example()), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )


def test_seed_example_ome_tiff(tmp_path: Path, ome_schema) -> None:  # type: ignore[no-untyped-def]
    import ome_types
    import tifffile

    run_seed(tmp_path, "tiff")
    path = tmp_path / "example_event_driven.ome.tiff"
    with tifffile.TiffFile(path) as tf:
        xml = tf.ome_metadata
        assert tf.series[0].shape == (5, 256, 256)
        assert tf.series[0].axes == "TYX"
    ome_schema.validate(xml)
    ome = ome_types.from_xml(xml)
    pixels = ome.images[0].pixels
    assert (pixels.dimension_order.value, pixels.type.value) == ("XYTCZ", "uint16")
    assert (pixels.size_x, pixels.size_y, pixels.size_t) == (256, 256, 5)
    assert pixels.tiff_data_blocks[0].plane_count == 5
    anns = {a.id: a for a in ome.structured_annotations.map_annotations}
    for i, plane in enumerate(pixels.planes):
        assert (plane.the_t, plane.the_z, plane.the_c) == (i, 0, 0)
        assert plane.exposure_time == 0.01
        assert plane.position_x == 100.0 + i * 0.5
        assert plane.position_y == pytest.approx(200.0 + i * 0.3)
        assert plane.position_z == 50.0
        assert plane.position_x_unit.value == "µm"
        assert plane.delta_t is not None and plane.delta_t >= 0
        ann = anns[plane.annotation_refs[0].id]
        values = {m.k: m.value for m in ann.value.ms}
        assert float(values["temperature"]) == SEED_TEMPERATURES[i]
        assert float(values["laser_power"]) == 50.0


@pytest.mark.parametrize("args", [(), ("zarr",)], ids=["auto", "zarr"])
def test_seed_example_ome_zarr(tmp_path: Path, args: tuple[str, ...]) -> None:
    zarr = pytest.importorskip("zarr")
    Image = pytest.importorskip("ome_zarr_models.v05").Image

    run_seed(tmp_path, *args)
    root = tmp_path / "example_event_driven.ome.zarr"
    attrs = json.loads((root / "zarr.json").read_text())["attributes"]
    assert list(attrs) == ["ome", "ome_writers"]
    frames = attrs["ome_writers"]["frame_metadata"]
    assert list(attrs["ome_writers"]) == ["version", "frame_metadata"]
    assert len(frames) == 5
    for i, entry in enumerate(frames):
        assert list(entry) == [
            "delta_t",
            "exposure_time",
            "position_x",
            "position_y",
            "position_z",
            "temperature",
            "laser_power",
            "storage_index",
        ]
        assert entry["storage_index"] == [i]
        assert entry["temperature"] == SEED_TEMPERATURES[i]
        assert entry["position_x"] == 100.0 + i * 0.5
    Image.from_zarr(zarr.open_group(root, mode="r"))
    assert zarr.open_array(root / "0", mode="r").shape == (5, 256, 256)
