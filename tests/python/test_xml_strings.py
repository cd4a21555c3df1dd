"""Any Python string survives OME-XML (escaped, see README "Strings in OME-XML") and Zarr (exact).

The strings cover every BMP code point except the lone surrogates U+D800-U+DFFF,
which a Python str can hold but UTF-8 cannot encode (json.dumps would send them
as escapes the C++ JSON parser refuses).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ome_writers import AcquisitionSettings, Channel, Dimension, Position, create_stream

CHUNKS = 24
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")


def xml_unescape(text: str) -> str:
    """The documented decoder: each `\\uXXXX`, left to right, is that code point."""
    return _ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)


def bmp_strings() -> list[str]:
    """Every BMP code point but the surrogates, in CHUNKS strings, each made unique."""
    points = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    size = -(-len(points) // CHUNKS)
    chunks = ["".join(points[i : i + size]) for i in range(0, len(points), size)]
    # Backslashes that look like escapes, a Windows path, CR LF, NUL inside.
    chunks[0] += "\\u0041 \\\\u00e9 C:\\users\\u12 \r\n\x00end"
    return [f"{i}:{c}" for i, c in enumerate(chunks)]


STRINGS = bmp_strings()


def test_the_strings_cover_the_bmp() -> None:
    covered = set("".join(STRINGS))
    assert len(covered) == 0x10000 - 0x800
    assert {"\x00", "\x01", "\r", "\ufffe", "\uffff", "\\"} <= covered


def test_decoder_inverts_the_escaping_of_backslashes() -> None:
    assert xml_unescape(r"C:\u005Cu0041 \u0000 C:\users") == "C:\\u0041 \x00 C:\\users"


def _settings(path: Path, fmt: str, positions: list[str] | None) -> AcquisitionSettings:
    dims = [
        Dimension(name="c", type="channel", coords=[Channel(name=s) for s in STRINGS]),
        Dimension(name="y", count=2),
        Dimension(name="x", count=2),
    ]
    if positions:
        dims.insert(
            0, Dimension(name="p", type="position", coords=[Position(name=s) for s in positions])
        )
    kw: dict = {"prefer_single_file": "always"} if fmt == "ome-tiff" else {}
    return AcquisitionSettings(
        root_path=str(path / "out"), dimensions=dims, dtype="uint8", format={"name": fmt, **kw}
    )


def _write(settings: AcquisitionSettings) -> list[dict[str, str]]:
    """Stream every frame with metadata {string: string}; set global metadata too."""
    frames = []
    with create_stream(settings) as stream:
        for n in range(settings.num_frames or 0):
            s = STRINGS[n % len(STRINGS)]
            meta = {s: s, "other": s[::-1]}
            frames.append(meta)
            stream.append(np.zeros((2, 2), np.uint8), frame_metadata=meta)
        stream.set_global_metadata("strings", {s: s for s in STRINGS})
    return frames


def test_ome_tiff_round_trips_every_string(tmp_path: Path, ome_schema) -> None:  # type: ignore[no-untyped-def]
    import ome_types
    import tifffile

    settings = _settings(tmp_path, "ome-tiff", positions=STRINGS)
    frames = _write(settings)
    with tifffile.TiffFile(settings.output_path) as tf:
        xml = tf.ome_metadata
    assert xml is not None
    ome_schema.validate(xml)
    ome = ome_types.from_xml(xml)
    assert [xml_unescape(i.name or "") for i in ome.images] == STRINGS
    for image in ome.images:
        assert [xml_unescape(c.name or "") for c in image.pixels.channels] == STRINGS
    annotations = ome.structured_annotations.map_annotations
    plane_maps = [a for a in annotations if a.namespace is None]
    assert [{xml_unescape(m.k): xml_unescape(m.value) for m in a.value.ms} for a in plane_maps] == (
        frames
    )
    (global_map,) = [a for a in annotations if a.namespace == "strings"]
    decoded = {xml_unescape(m.k): json.loads(xml_unescape(m.value)) for m in global_map.value.ms}
    assert decoded == {s: s for s in STRINGS}


def test_ome_tiff_text_escapes_nothing_ordinary(tmp_path: Path) -> None:
    import tifffile

    name = "C:\\data\\run1 \\u004 µm"
    settings = AcquisitionSettings(
        root_path=str(tmp_path / "plain"),
        dimensions=[
            Dimension(name="c", type="channel", coords=[name, "a\rb"]),
            Dimension(name="y", count=2),
            Dimension(name="x", count=2),
        ],
        dtype="uint8",
        format="ome-tiff",
    )
    with create_stream(settings) as stream:
        for _ in range(2):
            stream.append(np.zeros((2, 2), np.uint8))
    with tifffile.TiffFile(settings.output_path) as tf:
        xml = tf.ome_metadata
    assert f'Name="{name}"' in xml
    assert 'Name="a&#13;b"' in xml


def test_ome_zarr_round_trips_every_string_exactly(tmp_path: Path) -> None:
    import zarr

    settings = _settings(tmp_path, "ome-zarr", positions=None)
    frames = _write(settings)
    attrs = zarr.open_group(settings.output_path, mode="r").attrs.asdict()
    assert [c["label"] for c in attrs["ome"]["omero"]["channels"]] == STRINGS
    entries = attrs["ome_writers"]["frame_metadata"]
    assert [{k: v for k, v in e.items() if k != "storage_index"} for e in entries] == frames
    assert attrs["strings"] == {s: s for s in STRINGS}


def test_ome_zarr_metadata_xml_carries_every_string(tmp_path: Path, ome_schema) -> None:  # type: ignore[no-untyped-def]
    """Zarr position names are group paths, so only the channel names are arbitrary here."""
    import ome_types

    settings = _settings(tmp_path, "ome-zarr", positions=["p0", "p1"])
    _write(settings)
    xml = (Path(settings.output_path) / "OME" / "METADATA.ome.xml").read_text(encoding="utf-8")
    ome_schema.validate(xml)
    ome = ome_types.from_xml(xml)
    for image in ome.images:
        assert [xml_unescape(c.name or "") for c in image.pixels.channels] == STRINGS
