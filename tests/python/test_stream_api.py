"""OMEStream behaviour: drop-in API of ome-writers 0.3.2, minus its bugs."""

from __future__ import annotations

import gc
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import ome_writers
from conftest import frame_for, read_zarr_both, refcounts
from ome_writers import AcquisitionSettings, Dimension, Position, _core, create_stream
from ome_writers._backends import BACKENDS

FORMATS = ["ome-zarr", "ome-tiff"]


def simple(make_settings, fmt: str, count: int | None = 4, **kw: object) -> AcquisitionSettings:
    return make_settings(
        "s",
        format=fmt,
        dimensions=[
            Dimension(name="t", count=count, type="time"),
            Dimension(name="y", count=6),
            Dimension(name="x", count=5),
        ],
        **kw,
    )


def read_back(settings: AcquisitionSettings) -> np.ndarray:
    if settings.format.name == "ome-zarr":
        return read_zarr_both(Path(settings.output_path) / "0")
    import tifffile

    return tifffile.imread(settings.output_path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_reused_buffer_never_corrupts_earlier_frames(make_settings, fmt: str) -> None:
    s = simple(make_settings, fmt, count=50)
    buf = np.zeros((6, 5), np.uint16)
    with create_stream(s) as stream:
        for i in range(50):
            buf[:] = frame_for(i, (6, 5), "uint16")
            stream.append(buf)
    data = read_back(s)
    for i in range(50):
        np.testing.assert_array_equal(data[i], frame_for(i, (6, 5), "uint16"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_wrong_shape_and_dtype_raise_and_the_stream_stays_usable(make_settings, fmt: str) -> None:
    s = simple(make_settings, fmt, count=3)
    with create_stream(s) as stream:
        with pytest.raises(ValueError, match=r"\(8, 9\).*\(6, 5\)"):
            stream.append(np.zeros((8, 9), np.uint16))
        with pytest.raises(TypeError, match=r"float64.*uint16"):
            stream.append(np.zeros((6, 5), np.float64))
        with pytest.raises(TypeError, match="int32"):
            stream.append(np.zeros((6, 5), np.int32))
        stream.append(frame_for(0, (6, 5), "uint8"))  # uint8 -> uint16 is safe
        with pytest.raises(TypeError, match="not JSON serialisable"):
            stream.append(frame_for(1, (6, 5), "uint16"), frame_metadata={"bad": object()})
        stream.append(
            frame_for(1, (6, 5), "uint16"), frame_metadata={"v": np.float32(1.5), "i": np.int64(3)}
        )
        stream.append(frame_for(2, (6, 5), "uint16"))
        with pytest.raises(IndexError, match="exceed total of 3 frames"):
            stream.append(frame_for(3, (6, 5), "uint16"))
    data = read_back(s)
    np.testing.assert_array_equal(data[0], frame_for(0, (6, 5), "uint8").astype(np.uint16))
    np.testing.assert_array_equal(data[1], frame_for(1, (6, 5), "uint16"))
    np.testing.assert_array_equal(data[2], frame_for(2, (6, 5), "uint16"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_skip_validation(make_settings, fmt: str) -> None:
    s = simple(make_settings, fmt, count=3)
    with create_stream(s) as stream:
        for bad in (0, -1, 1.5):
            with pytest.raises(ValueError, match="positive"):
                stream.skip(frames=bad)  # type: ignore[arg-type]
        with pytest.raises(IndexError, match="tried to skip 4"):
            stream.skip(frames=4)
        stream.skip(frames=3)


@pytest.mark.parametrize("fmt", FORMATS)
def test_close_is_idempotent_and_append_after_close_fails(make_settings, fmt: str) -> None:
    s = simple(make_settings, fmt)
    stream = create_stream(s)
    stream.append(frame_for(0, (6, 5), "uint16"))
    stream.close()
    stream.close()
    assert stream.closed
    with pytest.raises(RuntimeError, match="closed"):
        stream.append(frame_for(1, (6, 5), "uint16"))


def test_garbage_collected_open_stream_warns_and_finalises(make_settings) -> None:
    s = simple(make_settings, "ome-zarr", count=None)
    stream = create_stream(s)
    stream.append(frame_for(0, (6, 5), "uint16"))
    with pytest.warns(UserWarning, match="not closed before garbage collection"):
        del stream
        gc.collect()
    assert read_back(s).shape == (1, 6, 5)


def test_existing_output_is_not_touched_without_overwrite(make_settings) -> None:
    for fmt in FORMATS:
        s = simple(make_settings, fmt)
        with create_stream(s) as stream:
            stream.append(frame_for(0, (6, 5), "uint16"))
        out = Path(s.output_path)
        before = os.stat(out).st_mtime_ns
        with pytest.raises(FileExistsError, match="overwrite"):
            create_stream(s)
        assert os.stat(out).st_mtime_ns == before
        np.testing.assert_array_equal(
            read_back(s).reshape(-1, 6, 5)[0], frame_for(0, (6, 5), "uint16")
        )


def test_overwrite_refuses_a_directory_that_is_not_zarr(make_settings, tmp_path: Path) -> None:
    s = simple(make_settings, "ome-zarr", overwrite=True)
    out = Path(s.output_path)
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a Zarr group"):
        create_stream(s)
    assert (out / "precious.txt").read_text() == "keep me"


def test_settings_are_copied_at_create(make_settings) -> None:
    s = simple(make_settings, "ome-zarr", count=2)
    stream = create_stream(s)
    s.dimensions = (Dimension(name="y", count=3), Dimension(name="x", count=3))
    stream.append(frame_for(0, (6, 5), "uint16"))
    stream.close()
    assert stream.settings.dimensions[0].name == "t"


def test_zarr_metadata_get_update_and_global(make_settings) -> None:
    s = simple(make_settings, "ome-zarr", count=2)
    with create_stream(s) as stream:
        meta = stream.get_metadata()
        assert list(meta) == ["."]
        assert meta["."]["ome"]["version"] == "0.5"
        meta["."]["custom"] = {"k": 1}
        stream.update_metadata(meta)
        with pytest.raises(KeyError, match="nope"):
            stream.update_metadata({"nope": {}})
        stream.set_global_metadata("my_ns", {"a": 1, "b": [1, 2]})
        stream.set_global_metadata("my_ns", {"a": 2})
        stream.set_global_metadata("other", {"c": "x"})
        for reserved in ("ome", "ome_writers", ""):
            with pytest.raises(ValueError):
                stream.set_global_metadata(reserved, {})
        for i in range(2):
            stream.append(frame_for(i, (6, 5), "uint16"), frame_metadata={"i": i})
    attrs = json.loads((Path(s.output_path) / "zarr.json").read_text())["attributes"]
    assert attrs["custom"] == {"k": 1}
    assert attrs["my_ns"] == {"a": 2}
    assert attrs["other"] == {"c": "x"}
    assert [e["i"] for e in attrs["ome_writers"]["frame_metadata"]] == [0, 1]
    assert attrs["ome_writers"]["version"] == _core.version()


def test_global_metadata_goes_to_the_bf2raw_root(make_settings) -> None:
    s = make_settings(
        "g.ome.zarr",
        dimensions=[
            Dimension(name="p", type="position", coords=["A", "B"]),
            Dimension(name="y", count=4),
            Dimension(name="x", count=4),
        ],
    )
    with create_stream(s) as stream:
        stream.set_global_metadata("seq", {"n": 2})
        stream.append(frame_for(0, (4, 4), "uint16"))
        stream.append(frame_for(1, (4, 4), "uint16"))
    root = json.loads((Path(s.output_path) / "zarr.json").read_text())["attributes"]
    assert root["seq"] == {"n": 2}
    assert "ome_writers" not in root
    assert set(create_stream_metadata_keys(s)) == {"A", "B"}


def create_stream_metadata_keys(s: AcquisitionSettings) -> list[str]:
    s2 = s.model_copy(update={"overwrite": True})
    with create_stream(s2) as stream:
        keys = list(stream.get_metadata())
        stream.append(frame_for(0, (4, 4), "uint16"))
        stream.append(frame_for(1, (4, 4), "uint16"))
    return keys


def test_tiff_metadata_get_update_and_global(make_settings) -> None:
    import ome_types
    import tifffile

    s = simple(make_settings, "ome-tiff", count=2)
    stream = create_stream(s)
    stream.set_global_metadata("acq", {"seq": {"t": 2}})
    for i in range(2):
        stream.append(
            frame_for(i, (6, 5), "uint16"), frame_metadata={"delta_t": i * 0.5, "laser": 3}
        )
    with pytest.raises(RuntimeError, match="after the stream is closed"):
        stream.update_metadata(stream.get_metadata())
    stream.close()
    meta = stream.get_metadata()
    assert isinstance(meta[0], ome_types.OME)
    pixels = meta[0].images[0].pixels
    assert [p.delta_t for p in pixels.planes] == [0.0, 0.5]
    anns = meta[0].structured_annotations.map_annotations
    assert [a.namespace for a in anns] == [None, None, "acq"]
    assert anns[2].value.ms[0].k == "seq"
    assert json.loads(anns[2].value.ms[0].value) == {"t": 2}
    meta[0].images[0].name = "renamed"
    stream.update_metadata(meta)
    with pytest.raises(TypeError):
        stream.update_metadata({0: "not an OME object"})
    with tifffile.TiffFile(s.output_path) as tf:
        assert ome_types.from_xml(tf.ome_metadata).images[0].name == "renamed"
        assert tf.series[0].shape == (2, 6, 5)


def test_update_metadata_errors_keep_0_3_2_wording(make_settings) -> None:
    """0.3.2: Zarr update_metadata with an unknown group raises KeyError "Unknown
    path: nope"; TIFF update_metadata raises RuntimeError "update_metadata() must be
    called after the stream context exits" before close, then TypeError "Expected
    dict[int, ome_types.model.OME] metadata, got <class 'list'>" for a non-dict,
    TypeError "Expected ome_types.model.OME for position 0" for a wrong value and
    KeyError "Unknown position index: 7" for an unknown file. Ours add detail after
    those phrases.

    (The TIFF checks used to run in another order, and an unknown file index was a
    ValueError from the engine.)
    """
    z = simple(make_settings, "ome-zarr", count=1)
    with create_stream(z) as stream:
        stream.append(frame_for(0, (6, 5), "uint16"))
        with pytest.raises(KeyError, match=r"Unknown path: nope \(the groups are \['\.'\]\)"):
            stream.update_metadata({"nope": {}})
    with pytest.raises(KeyError, match="Unknown path: nope"):
        stream.update_metadata({"nope": {}})  # after close too

    t = simple(make_settings, "ome-tiff", count=1)
    stream = create_stream(t)
    stream.append(frame_for(0, (6, 5), "uint16"))
    with pytest.raises(
        RuntimeError, match=re.escape("must be called after the stream context exits")
    ):
        stream.update_metadata([])  # the closed check comes first, as in 0.3.2
    stream.close()
    meta = stream.get_metadata()
    for bad in ([meta[0]], None):
        phrase = f"Expected dict[int, ome_types.model.OME] metadata, got {type(bad)}"
        with pytest.raises(TypeError, match=re.escape(phrase)):
            stream.update_metadata(bad)
    with pytest.raises(TypeError, match=re.escape("Expected ome_types.model.OME for position 0")):
        stream.update_metadata({0: "not an OME object"})
    for key in (7, "0"):
        with pytest.raises(KeyError, match=f"Unknown position index: {key} "):
            stream.update_metadata({key: meta[0]})
    meta[0].images[0].name = "kept"
    stream.update_metadata({0: meta[0]})
    import ome_types
    import tifffile

    with tifffile.TiffFile(t.output_path) as tf:
        assert ome_types.from_xml(tf.ome_metadata).images[0].name == "kept"


@pytest.mark.parametrize(
    ("root", "fmt", "kind"),
    [
        ("x.ome.tiff", "ome-zarr", "OME-Zarr"),
        ("x.ome.tiff", "tensorstore", "OME-Zarr"),
        ("x.ome.zarr", "ome-tiff", "OME-TIFF"),
        ("x.zarr", "tifffile", "OME-TIFF"),
    ],
)
def test_format_contradicting_root_path_writes_at_root_path_with_a_warning(
    tmp_path: Path, root: str, fmt: str, kind: str
) -> None:
    """0.3.2 accepts root_path="x.ome.tiff" with format="ome-zarr" silently and writes
    an OME-Zarr store named x.ome.tiff (its TIFF counterpart, x.ome.zarr with
    format="ome-tiff", fails at the first append with AttributeError). We write the
    format at settings.output_path (= root_path) and warn at create_stream, naming
    the path; the output reads back with zarr-python / tifffile."""
    import tifffile

    zarr = pytest.importorskip("zarr")

    s = AcquisitionSettings(
        root_path=str(tmp_path / root),
        format=fmt,
        dtype="uint16",
        dimensions=[
            Dimension(name="t", count=3, type="time"),
            Dimension(name="y", count=6),
            Dimension(name="x", count=5),
        ],
    )
    assert s.output_path == str(tmp_path / root)
    with pytest.warns(UserWarning, match=f"Writing {kind} to '{re.escape(s.output_path)}'"):
        stream = create_stream(s)
    with stream:
        for i in range(3):
            stream.append(frame_for(i, (6, 5), "uint16"))
    assert [p.name for p in tmp_path.iterdir()] == [root]
    if kind == "OME-Zarr":
        data = zarr.open_array(Path(s.output_path) / "0", mode="r")[...]
        assert zarr.open_group(s.output_path, mode="r").attrs["ome"]["version"] == "0.5"
    else:
        with tifffile.TiffFile(s.output_path) as tf:
            assert tf.is_ome
            data = tf.asarray()
    for i in range(3):
        np.testing.assert_array_equal(data[i], frame_for(i, (6, 5), "uint16"))


def test_reassigned_root_path_writes_the_formats_own_suffix(tmp_path: Path) -> None:
    """0.3.2 keeps the format (and its suffix) when only root_path is reassigned:
    a Zarr settings object given root_path="x.ome.tiff" writes x.ome.zarr, silently.
    We write the same path and warn; after format="ome-tiff" too, no warning and an
    OME-TIFF file x.ome.tiff (read back with tifffile)."""
    import tifffile

    zarr = pytest.importorskip("zarr")

    s = AcquisitionSettings(
        root_path=str(tmp_path / "a.ome.zarr"),
        dtype="uint8",
        dimensions=[Dimension(name="y", count=4), Dimension(name="x", count=4)],
    )
    s.root_path = str(tmp_path / "x.ome.tiff")
    with pytest.warns(UserWarning, match=re.escape(f"Writing OME-Zarr to '{tmp_path}/x.ome.zarr'")):
        stream = create_stream(s)
    with stream:
        stream.append(np.full((4, 4), 7, np.uint8))
    assert (zarr.open_array(tmp_path / "x.ome.zarr" / "0", mode="r")[...] == 7).all()

    s.format = "ome-tiff"  # type: ignore[assignment]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with create_stream(s) as stream:
            stream.append(np.full((4, 4), 9, np.uint8))
    assert s.output_path == str(tmp_path / "x.ome.tiff")
    assert (tifffile.imread(s.output_path) == 9).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.ome.tiff", "x.ome.zarr"]


def test_settings_round_trip_through_cpp(make_settings) -> None:
    """Python's JSON and C++'s reading of it cannot drift apart."""
    from ome_writers import Channel, Plate, Pyramid

    cases = [
        simple(make_settings, "ome-zarr"),
        simple(make_settings, "ome-tiff", compression="lzw"),
        make_settings(
            "rich.ome.zarr",
            dtype="float32",
            compression="blosc-zstd",
            storage_order=["c", "t", "p", "z", "y", "x"],
            plate=Plate(row_names=["A", "B"], column_names=["1"], name="pl"),
            dimensions=[
                Dimension(
                    name="t",
                    count=None,
                    type="time",
                    unit="ms",
                    scale=10,
                    chunk_size=2,
                    shard_size_chunks=3,
                ),
                Dimension(
                    name="p",
                    type="position",
                    coords=[
                        Position(
                            name="a",
                            plate_row="A",
                            plate_column="1",
                            x_coord=1.5,
                            grid_row=0,
                            grid_column=1,
                        ),
                        Position(name="b", plate_row="B", plate_column="1", z_coord=-2.0),
                    ],
                ),
                Dimension(
                    name="c",
                    type="channel",
                    coords=[
                        Channel(
                            name="DAPI",
                            excitation_wavelength_nm=358,
                            color="blue",
                            fluorophore="DAPI",
                        ),
                        Channel(name="GFP", emission_wavelength_nm=510, color=(0, 255, 0, 0.5)),
                    ],
                ),
                Dimension(name="z", count=4, type="space", unit="um", scale=0.5, translation=-1.0),
                Dimension(name="y", count=32, chunk_size=16),
                Dimension(name="x", count=48, chunk_size=16, shard_size_chunks=3),
            ],
        ),
        make_settings(
            "multi",
            format={
                "name": "ome-tiff",
                "prefer_single_file": "never",
                "multi_file_metadata": "companion-file",
            },
            dimensions=[
                Dimension(name="p", type="position", coords=["x1", "x2"]),
                Dimension(name="angle", count=3, type="other", coords=[0.0, 45.0, 90.0]),
                Dimension(name="y", count=4),
                Dimension(name="x", count=4),
            ],
        ),
        make_settings(
            "pyr.ome.zarr",
            dtype="uint8",
            dimensions=[Dimension(name="y", count=64), Dimension(name="x", count=64)],
            pyramid=Pyramid(levels="auto", method="mode"),
        ),
        make_settings(
            "pyr4.ome.tiff",
            pyramid=4,
            dimensions=[Dimension(name="y", count=64), Dimension(name="x", count=64)],
        ),
    ]
    for s in cases:
        python_side = json.loads(s.model_dump_json())
        # What the C++ engine does not read: which Python library a backend name
        # stands for, and coordinates of dimensions other than channels and
        # positions (nothing it writes uses them).
        python_side["format"].pop("backend", None)
        for d in python_side["dimensions"]:
            if d["type"] not in ("channel", "position"):
                d["coords"] = None
        cpp_side = json.loads(_core.settings_roundtrip(s.model_dump_json()))
        cpp_side.pop("engine")
        assert cpp_side == python_side
        assert _core.output_path(s.model_dump_json()) == s.output_path


def test_backend_names_and_rejections(make_settings) -> None:
    for backend in ("tensorstore", "zarr-python", "acquire-zarr", "zarrs-python", "native"):
        s = make_settings(
            f"{backend}.ome.zarr",
            format={"name": "ome-zarr", "backend": backend},
            dimensions=[Dimension(name="y", count=4), Dimension(name="x", count=4)],
        )
        spec = BACKENDS.get(backend)
        if spec is not None and spec.missing() is not None:
            # Not installable here (e.g. tensorstore on Python 3.10): refused by name.
            with pytest.raises(ValueError, match=f"Backend '{backend}' is not available"):
                create_stream(s)
            continue
        with create_stream(s) as stream:
            stream.append(frame_for(0, (4, 4), "uint16"))
        assert read_zarr_both(Path(s.output_path) / "0").shape == (4, 4)
    s = make_settings(
        "angle.ome.tiff",
        dimensions=[
            Dimension(name="angle", count=2),
            Dimension(name="y", count=4),
            Dimension(name="x", count=4),
        ],
    )
    with pytest.raises(NotImplementedError, match=r"Rejected: native: .*angle"):
        create_stream(s)
    s = make_settings(
        "angle2.ome.tiff",
        format={"name": "ome-tiff", "backend": "tifffile"},
        dimensions=[
            Dimension(name="angle", count=2),
            Dimension(name="y", count=4),
            Dimension(name="x", count=4),
        ],
    )
    with pytest.raises(NotImplementedError, match="'tifffile' does not support"):
        create_stream(s)


def test_create_stream_requires_dims_dtype_and_path() -> None:
    with pytest.raises(ValueError, match="dimensions"):
        create_stream(AcquisitionSettings(root_path="x.ome.zarr", dtype="uint8"))
    with pytest.raises(ValueError, match="dtype"):
        create_stream(
            AcquisitionSettings(
                root_path="x.ome.zarr",
                dimensions=[Dimension(name="y", count=4), Dimension(name="x", count=4)],
            )
        )


def test_engine_options_and_stats(make_settings) -> None:
    s = simple(make_settings, "ome-zarr", count=20)
    with pytest.raises(ValueError, match="max_memory_bytes"):
        create_stream(s, max_memory_bytes=0)
    with create_stream(s, max_memory_bytes=240, append_timeout=5, writer_threads=1) as stream:
        for i in range(20):
            stream.append(frame_for(i, (6, 5), "uint16"))
        stream.flush()
        stats = stream.stats()
        assert stats["frames_written"] == 20
        assert stats["bytes_written"] >= 20 * 60
    assert ome_writers.__version__ == _core.version()


def test_dependency_versions_name_the_linked_libraries() -> None:
    import re

    from ome_writers import _core

    versions = _core.dependency_versions()
    assert list(versions) == ["libtiff", "zstd", "blosc", "libdeflate", "pugixml"]
    for name, value in versions.items():
        assert re.fullmatch(r"\d+\.\d+(\.\d+)*", value), (name, value)


def test_events_report_coordinates(make_settings) -> None:
    import threading

    s = make_settings(
        "ev.ome.zarr",
        dimensions=[
            Dimension(name="t", count=2, type="time"),
            Dimension(name="c", count=2, type="channel"),
            Dimension(name="y", count=4),
            Dimension(name="x", count=4),
        ],
    )
    seen: list[tuple[int, dict[str, int]]] = []
    done = threading.Event()

    def on_change(update: ome_writers.CoordUpdate) -> None:
        seen.append((update.frame_number, dict(update.current_indices)))
        if len(seen) == 4:
            done.set()

    with create_stream(s) as stream:
        stream.on("coords_changed", on_change)
        with pytest.raises(ValueError, match="Unknown event"):
            stream.on("nope", on_change)  # type: ignore[arg-type]
        for i in range(4):
            stream.append(frame_for(i, (4, 4), "uint16"))
        assert done.wait(5)
    assert sorted(seen, key=lambda x: x[0])[3][1] == {"t": 1, "c": 1, "y": 0, "x": 0} or sorted(
        seen, key=lambda x: x[0]
    )[3][1] == {"t": 1, "c": 1}


def page_aligned(values: np.ndarray) -> np.ndarray:
    """A copy of `values` whose data starts on a 4 KiB page."""
    raw = np.empty(values.nbytes + 4096, np.uint8)
    offset = -raw.ctypes.data % 4096
    out = raw[offset : offset + values.nbytes].view(values.dtype).reshape(values.shape)
    out[...] = values
    return out


@pytest.mark.parametrize(
    ("fmt", "backend", "compression", "held"),
    [
        ("ome-zarr", "native", "blosc-zstd", "all"),  # encoders read the arrays themselves
        ("ome-zarr", "native", None, "aligned"),  # O_DIRECT from aligned arrays; others copied
        ("ome-tiff", "native", None, "none"),  # each plane is written at once
        ("ome-zarr", "tensorstore", None, "any"),  # its own business until close
    ],
)
def test_copy_false_holds_arrays_until_written(
    make_settings, fmt: str, backend: str, compression: str | None, held: str
) -> None:
    spec = BACKENDS.get(backend)
    if spec is not None and (missing := spec.missing()) is not None:
        pytest.skip(f"backend {backend!r} is not available on this Python: {missing}")
    s = make_settings(
        "b",
        format={"name": fmt, "backend": backend},
        compression=compression,
        dimensions=[
            Dimension(name="t", count=6, type="time", chunk_size=4),
            Dimension(name="y", count=64),
            Dimension(name="x", count=64),
        ],
    )
    frames = [frame_for(i, (64, 64), "uint16") for i in range(6)]
    frames[0] = page_aligned(frames[0])
    frames[1] = page_aligned(frames[1])
    misaligned = np.empty(64 * 64 * 2 + 4096 + 2, np.uint8)
    start = -misaligned.ctypes.data % 4096 + 2
    frames[2] = misaligned[start : start + 64 * 64 * 2].view(np.uint16).reshape(64, 64)
    frames[2][...] = frame_for(2, (64, 64), "uint16")

    base = refcounts(frames)
    stream = create_stream(s)
    for i in range(3):
        stream.append(frames[i], copy=False)
    stream.flush()
    # All three wait in the open 4-frame chunk (Zarr) or are written (TIFF).
    if held != "any":
        expect = {"all": [1, 1, 1], "aligned": [1, 1, 0], "none": [0, 0, 0]}[held]
        assert refcounts(frames) == [b + e for b, e in zip(base, [*expect, 0, 0, 0], strict=True)]
    for i in range(3, 6):
        stream.append(frames[i], copy=False)
    stream.close()
    assert refcounts(frames) == base
    data = read_back(s)
    for i in range(6):
        np.testing.assert_array_equal(data[i], frames[i])


@pytest.mark.parametrize("fmt", FORMATS)
def test_copy_false_with_a_view_or_a_cast_and_bad_values(make_settings, fmt: str) -> None:
    s = simple(make_settings, fmt, count=3)
    wide = np.stack([frame_for(0, (6, 5), "uint16")] * 2, axis=-1)  # (6, 5, 2)
    with create_stream(s) as stream:
        with pytest.raises(TypeError, match="copy must be True or False, got 'no'"):
            stream.append(frame_for(0, (6, 5), "uint16"), copy="no")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"\(8, 9\)"):
            stream.append(np.zeros((8, 9), np.uint16), copy=False)
        stream.append(wide[:, :, 0], copy=False)  # not contiguous: queued as a contiguous copy
        stream.append(frame_for(1, (6, 5), "uint8"), copy=False)  # cast: a new array
        buf = frame_for(2, (6, 5), "uint16")
        stream.append(buf, copy=False)
    buf[:] = 0  # after close the caller may reuse it
    data = read_back(s)
    np.testing.assert_array_equal(data[0], frame_for(0, (6, 5), "uint16"))
    np.testing.assert_array_equal(data[1], frame_for(1, (6, 5), "uint8").astype(np.uint16))
    np.testing.assert_array_equal(data[2], frame_for(2, (6, 5), "uint16"))


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("max_memory_bytes", 0, "max_memory_bytes must be positive, got 0"),
        ("max_memory_bytes", -5, "max_memory_bytes must be positive, got -5"),
        ("append_timeout", -1, "append_timeout must be >= 0, got -1"),
        ("writer_threads", -2, "writer_threads must be >= 0, got -2"),
    ],
)
def test_engine_option_errors_are_unchanged(
    make_settings, option: str, value: int, message: str
) -> None:
    """The C++ engine checks the option values (one home for the rule); Python raises
    the same ValueError with the same message as when it checked them itself, and
    nothing is created."""
    s = simple(make_settings, "ome-zarr")
    with pytest.raises(ValueError, match=re.escape(message)):
        create_stream(s, **{option: value})
    assert not Path(s.output_path).exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_global_metadata_namespace_errors(make_settings, fmt: str) -> None:
    """The engines refuse empty and reserved namespaces (one home per engine: the C++
    core, or the scratch engine's own); the class and message are what OMEStream
    raised when it checked them itself; a non-string is refused before the engine
    (ValueError, as in 0.3.2), and the stream stays usable."""
    s = simple(make_settings, fmt, count=1)
    with create_stream(s) as stream:
        for reserved in ("ome", "ome_writers"):
            with pytest.raises(ValueError, match=f"namespace '{reserved}' is reserved"):
                stream.set_global_metadata(reserved, {})
        with pytest.raises(ValueError, match="namespace must be a non-empty string, got ''"):
            stream.set_global_metadata("", {})
        with pytest.raises(ValueError, match="namespace must be a non-empty string, got 5"):
            stream.set_global_metadata(5, {})  # type: ignore[arg-type]
        stream.set_global_metadata("mine", {"ok": True})
        stream.append(frame_for(0, (6, 5), "uint16"))
