"""Names are never paths, and overwrite=True deletes only what this library wrote.

Every position, plate row, plate column, field and companion-file name is
stored as one percent-encoded path component (see `path_component` in
cpp/src/util/fs.hpp); nothing is created outside the output, and each frame
reads back at its index.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr

from conftest import frame_for
from ome_writers import (
    AcquisitionSettings,
    Dimension,
    OmeTiffFormat,
    Plate,
    Position,
    create_stream,
)

SHAPE = (4, 5)
LONG = "n" * 300


def hostile_names(tmp_path: Path) -> list[str]:
    """Names that would leave the output, replace it, or break a path."""
    return ["..", "../../../v", str(tmp_path / "elsewhere"), "a/b", "a\\b", ".", "x\x00y"]


def snapshot(tmp_path: Path, output: Path) -> dict[str, str]:
    """Every path under tmp_path outside `output`, with a hash of each file's bytes."""
    out = {}
    for p in sorted(tmp_path.rglob("*")):
        if p == output or output in p.parents:
            continue
        rel = str(p.relative_to(tmp_path))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def decoys(tmp_path: Path) -> None:
    """Files where an escaping name would write: an existing zarr.json among them."""
    (tmp_path / "a" / "v").mkdir(parents=True)
    (tmp_path / "a" / "v" / "zarr.json").write_text("the user's")
    (tmp_path / "a" / "b" / "c").mkdir(parents=True, exist_ok=True)


def stream_frames(settings: AcquisitionSettings) -> None:
    with create_stream(settings) as stream:
        for i in range(settings.num_frames or 0):
            stream.append(frame_for(i, SHAPE, "uint16"))


def dims(positions: list[Position]) -> list[Dimension]:
    return [
        Dimension(name="p", type="position", coords=positions),
        Dimension(name="t", count=2, type="time"),
        Dimension(name="y", count=SHAPE[0]),
        Dimension(name="x", count=SHAPE[1]),
    ]


def read_tiff(path: Path) -> np.ndarray:
    """The planes of one file (not the multi-file series tifffile assembles)."""
    return tifffile.imread(path, is_ome=False)


def check_frames(arrays: list[np.ndarray]) -> None:
    """Frame i (position-major, then t) at arrays[position][t]."""
    for pos, data in enumerate(arrays):
        for t in range(2):
            np.testing.assert_array_equal(data[t], frame_for(pos * 2 + t, SHAPE, "uint16"))


def test_zarr_position_names_stay_inside_the_output(tmp_path: Path) -> None:
    from ome_zarr_models.v05 import BioFormats2Raw

    decoys(tmp_path)
    names = [*hostile_names(tmp_path), "ok"]
    s = AcquisitionSettings(
        root_path=str(tmp_path / "a" / "b" / "c" / "data.ome.zarr"),
        dimensions=dims([Position(name=n) for n in names]),
        dtype="uint16",
    )
    root = Path(s.output_path)
    before = snapshot(tmp_path, root)
    stream_frames(s)
    assert snapshot(tmp_path, root) == before
    top = zarr.open_group(root, mode="r")
    # The root stays the bioformats2raw group; the series list names the stored paths.
    assert top.attrs["ome"]["bioformats2raw.layout"] == 3
    series = zarr.open_group(root / "OME", mode="r").attrs["ome"]["series"]
    assert series == ["%2E%2E", "..%2F..%2F..%2Fv", str(tmp_path / "elsewhere").replace("/", "%2F"),
                      "a%2Fb", "a%5Cb", "%2E", "x%00y", "ok"]  # fmt: skip
    assert sorted(p.name for p in root.iterdir()) == sorted([*series, "OME", "zarr.json"])
    check_frames([np.asarray(zarr.open_array(root / p / "0", mode="r")) for p in series])
    BioFormats2Raw.from_zarr(top)
    # The display names stay as given.
    xml = (root / "OME" / "METADATA.ome.xml").read_text()
    assert 'Name="../../../v"' in xml


def test_zarr_plate_names_stay_inside_the_output(tmp_path: Path) -> None:
    decoys(tmp_path)
    hostile = hostile_names(tmp_path)
    rows, columns = [*hostile, "A"], [*reversed(hostile), "1"]
    positions = [
        Position(name=field, plate_row=row, plate_column=col)
        for field, row, col in zip(hostile, rows, columns, strict=False)
    ]
    positions.append(Position(name="fov0", plate_row="A", plate_column="1"))
    s = AcquisitionSettings(
        root_path=str(tmp_path / "a" / "b" / "c" / "plate.ome.zarr"),
        dimensions=dims(positions),
        plate=Plate(row_names=rows, column_names=columns),
        dtype="uint16",
    )
    root = Path(s.output_path)
    before = snapshot(tmp_path, root)
    stream_frames(s)
    assert snapshot(tmp_path, root) == before
    plate = zarr.open_group(root, mode="r").attrs["ome"]["plate"]
    arrays = []
    for well in plate["wells"]:
        row, col = well["path"].split("/")
        assert plate["rows"][well["rowIndex"]]["name"] == row
        assert plate["columns"][well["columnIndex"]]["name"] == col
        images = zarr.open_group(root / well["path"], mode="r").attrs["ome"]["well"]["images"]
        assert len(images) == 1
        arrays.append(np.asarray(zarr.open_array(root / well["path"] / images[0]["path"] / "0")))
    assert [w["path"] for w in plate["wells"]][:2] == ["%2E%2E/x%00y", "..%2F..%2F..%2Fv/%2E"]
    check_frames(arrays)
    # Names that are already valid path components are stored as they are (0.3.2's paths).
    assert (root / "A" / "1" / "fov0" / "0" / "zarr.json").is_file()


@pytest.mark.parametrize("where", ["name", "plate_row", "plate_column"])
def test_zarr_names_too_long_for_a_file_are_refused(tmp_path: Path, where: str) -> None:
    pos = {"name": "f", "plate_row": "A", "plate_column": "1", where: LONG}
    s = AcquisitionSettings(
        root_path=str(tmp_path / "long.ome.zarr"),
        dimensions=dims([Position(**pos), Position(**{**pos, "name": "g"})]),
        plate=Plate(row_names=[pos["plate_row"]], column_names=[pos["plate_column"]]),
        dtype="uint16",
    )
    with pytest.raises(ValueError, match="too long"):
        create_stream(s)
    assert list(tmp_path.iterdir()) == []


def test_tiff_companion_file_stays_inside_the_output(tmp_path: Path) -> None:
    decoys(tmp_path)
    for k, companion in enumerate(hostile_names(tmp_path)):
        s = AcquisitionSettings(
            root_path=str(tmp_path / "a" / "b" / "c" / f"run{k}"),
            dimensions=dims([Position(name=n) for n in ["../x", "/y"]]),
            format=OmeTiffFormat(multi_file_metadata="companion-file", companion_file=companion),
            dtype="uint16",
        )
        out = Path(s.output_path)
        before = snapshot(tmp_path, out)
        stream_frames(s)
        assert snapshot(tmp_path, out) == before, companion
        tiffs = {f"run{k}_p000.ome.tiff", f"run{k}_p001.ome.tiff"}
        files = {p.name for p in out.iterdir()}
        assert len(files) == 3 and tiffs < files, files
        (companion_name,) = files - tiffs
        assert companion_name not in (".", "..") and "/" not in companion_name
        assert "ome_writers" in (out / companion_name).read_text()
        check_frames([read_tiff(out / f"run{k}_p{p:03d}.ome.tiff") for p in range(2)])


def test_tiff_companion_file_too_long_is_refused(tmp_path: Path) -> None:
    s = AcquisitionSettings(
        root_path=str(tmp_path / "run"),
        dimensions=dims([Position(name="p0"), Position(name="p1")]),
        format=OmeTiffFormat(multi_file_metadata="companion-file", companion_file=LONG),
        dtype="uint16",
    )
    with pytest.raises(ValueError, match="too long"):
        create_stream(s)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["ome-zarr", "ome-tiff"])
@pytest.mark.parametrize("root", ["dir/", "dir/.ome.zarr", "dir/.ome.tiff", "dir/.."])
def test_root_path_naming_no_file_is_refused(tmp_path: Path, fmt: str, root: str) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(ValueError, match="names no file"):
        s = AcquisitionSettings(
            root_path=f"{tmp_path}/{root}",
            dimensions=dims([Position(name="p0")]),
            format=fmt,
            dtype="uint16",
        )
        create_stream(s)
    assert [p.name for p in tmp_path.rglob("*")] == ["dir"]


def tiff_settings(root: Path, positions: int, **kw: object) -> AcquisitionSettings:
    return AcquisitionSettings(
        root_path=str(root),
        dimensions=dims([Position(name=f"p{i}") for i in range(positions)]),
        format="ome-tiff",
        dtype="uint16",
        overwrite=True,
        **kw,
    )


def test_overwrite_refuses_a_users_directory_named_like_the_tiff(tmp_path: Path) -> None:
    user = tmp_path / "x.ome.tiff"
    user.mkdir()
    (user / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"x\.ome\.tiff' exists, but is not an OME-TIFF"):
        create_stream(tiff_settings(user, 1))
    assert (user / "keep.txt").read_text() == "mine"


def test_overwrite_keeps_files_that_only_look_like_ours(tmp_path: Path) -> None:
    out = tmp_path / "x"
    out.mkdir()
    (out / "x_p005.ome.tiff").write_text("not a tiff")
    (out / "notes.txt").write_text("mine")
    # A stale name: left alone.
    stream_frames(tiff_settings(out, 2))
    assert (out / "x_p005.ome.tiff").read_text() == "not a tiff"
    assert (out / "notes.txt").read_text() == "mine"
    # A name this run writes: refused, before anything is removed.
    with pytest.raises(FileExistsError, match=r"x_p005\.ome\.tiff' exists, but is not"):
        create_stream(tiff_settings(out, 6))
    assert (out / "x_p005.ome.tiff").read_text() == "not a tiff"
    assert (out / "x_p000.ome.tiff").is_file()


def test_overwrite_replaces_our_own_outputs(tmp_path: Path) -> None:
    out = tmp_path / "x"
    stream_frames(tiff_settings(out, 4))
    assert len(list(out.glob("x_p*.ome.tiff"))) == 4
    s = tiff_settings(out, 2)
    stream_frames(s)
    assert sorted(p.name for p in out.iterdir()) == ["x_p000.ome.tiff", "x_p001.ome.tiff"]
    check_frames([read_tiff(out / f"x_p{p:03d}.ome.tiff") for p in range(2)])
    # One file: ours, then a plain file of the user's, are replaced as overwrite says.
    single = tmp_path / "one.ome.tiff"
    for _ in range(2):
        stream_frames(tiff_settings(single, 1))
    single.write_text("plain")
    stream_frames(tiff_settings(single, 1))
    check_frames([read_tiff(single)])
    with tifffile.TiffFile(single) as tif:
        assert 'Creator="ome_writers ' in (tif.ome_metadata or "")


@pytest.mark.parametrize(
    "fmt",
    [
        {"name": "ome-zarr", "backend": "native"},
        {"name": "ome-tiff", "backend": "auto"},
        {"name": "ome-tiff", "backend": "native"},
    ],
    ids=["zarr-native", "tiff-auto", "tiff-native"],
)
@pytest.mark.parametrize("url", ["s3://bucket/run", "gs://b/x", "memory://x", "file:///tmp/x"])
def test_a_url_root_path_is_refused_and_nothing_is_written_locally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: dict[str, str], url: str
) -> None:
    """0.3.2's native paths wrote s3://bucket/... into a local directory named 's3:'.

    (OME-Zarr under "auto" goes to tensorstore: tests/python/test_object_storage.py.)
    """
    monkeypatch.chdir(tmp_path)
    settings = AcquisitionSettings(
        root_path=url + (".ome.zarr" if fmt["name"] == "ome-zarr" else ".ome.tiff"),
        format=fmt,
        dtype="uint16",
        dimensions=[Dimension(name="t", count=2), Dimension(name="y", count=4),
                    Dimension(name="x", count=4)],
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"is a URL; this engine writes local files only"):
        create_stream(settings)
    assert list(tmp_path.iterdir()) == []
