"""Windows paths in settings: a drive letter, backslashes, UNC, long paths.

On Linux these are plain names (a backslash is an ordinary byte), so what can
be checked here is that the model and the C++ output-path rule keep them
intact, as strings and as `pathlib.PureWindowsPath`: the suffix logic works
on the text, not on the separators. The same paths are written for real by
the Windows build under wine (scripts/mingw.sh: the consumer example writes
to a Z:\\ path, and the C++ tests cover paths past MAX_PATH).
"""

from __future__ import annotations

from pathlib import PureWindowsPath

import pytest

from ome_writers import AcquisitionSettings, Dimension

DIMS = [
    Dimension(name="t", count=2, type="time"),
    Dimension(name="y", count=4, type="space"),
    Dimension(name="x", count=5, type="space"),
]

LONG_DIR = "C:\\" + "\\".join(["acquisition_folder_" + "x" * 40] * 8)  # well past MAX_PATH


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ("C:\\data\\run.ome.zarr", "C:\\data\\run.ome.zarr"),
        ("C:\\data\\run.OME.ZARR", "C:\\data\\run.ome.zarr"),
        ("C:/data/run.zarr", "C:/data/run.zarr"),
        ("\\\\server\\share\\exp\\run.ome.zarr", "\\\\server\\share\\exp\\run.ome.zarr"),
        ("\\\\?\\C:\\data\\run.ome.zarr", "\\\\?\\C:\\data\\run.ome.zarr"),
        (LONG_DIR + "\\run.ome.zarr", LONG_DIR + "\\run.ome.zarr"),
    ],
)
def test_zarr_output_path_keeps_windows_paths(root: str, expected: str) -> None:
    s = AcquisitionSettings(root_path=root, dimensions=DIMS, dtype="uint16")
    assert s.root_path == root
    assert s.format.name == "ome-zarr"
    assert s.output_path == expected


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ("D:\\scope\\cells.ome.tif", "D:\\scope\\cells.ome.tif"),
        ("D:\\scope\\cells.TIFF", "D:\\scope\\cells.tiff"),
        ("\\\\nas\\lab\\cells.ome.tiff", "\\\\nas\\lab\\cells.ome.tiff"),
    ],
)
def test_tiff_output_path_keeps_windows_paths(root: str, expected: str) -> None:
    s = AcquisitionSettings(root_path=root, dimensions=DIMS, dtype="uint16")
    assert s.format.name == "ome-tiff"
    assert s.output_path == expected


def test_pure_windows_path_is_accepted_as_its_text() -> None:
    p = PureWindowsPath("C:/Users/lab/Documents/run 1/cells.ome.zarr")
    s = AcquisitionSettings(root_path=p, dimensions=DIMS, dtype="uint16")
    assert s.root_path == "C:\\Users\\lab\\Documents\\run 1\\cells.ome.zarr"
    assert s.output_path == s.root_path
    unc = PureWindowsPath("//server/share/exp/cells.ome.tiff")
    s = AcquisitionSettings(root_path=unc, dimensions=DIMS, dtype="uint16")
    assert s.output_path == "\\\\server\\share\\exp\\cells.ome.tiff"


def test_a_drive_letter_is_not_a_url() -> None:
    # "C://data" has the shape of a one-letter URL scheme: it is a drive.
    s = AcquisitionSettings(root_path="C://data/run.ome.zarr", dimensions=DIMS, dtype="uint16")
    assert s.output_path == "C://data/run.ome.zarr"


def test_settings_round_trip_keeps_windows_paths() -> None:
    root = "\\\\server\\share\\exp\\run.ome.zarr"
    s = AcquisitionSettings(root_path=root, dimensions=DIMS, dtype="uint16")
    again = AcquisitionSettings.model_validate_json(s.model_dump_json())
    assert again.root_path == root
    assert again.output_path == root
