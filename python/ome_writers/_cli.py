"""The command line: `ome-writers info|validate|recover PATH` (or `python -m ome_writers`).

Exit codes: 0 success (for `validate`: every check that ran passed); 1 the output is
invalid or unreadable, a check failed, or recovery failed; 2 a usage error (unknown
command or option, missing argument, PATH does not exist).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["EXIT_INVALID", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

OME_NS = "{http://www.openmicroscopy.org/Schemas/OME/2016-06}"
ZARR_JOURNAL = "ome_writers.journal.jsonl"
TIFF_SUFFIXES = (".tif", ".tiff")


class InvalidOutput(Exception):
    """The path is not an output ome_writers can read, or it is damaged."""


# --------------------------------------------------------------------------- finding


@dataclass
class Output:
    """What lies at PATH: an OME-Zarr store, or OME-TIFF file(s)."""

    path: Path
    format: str  # "ome-zarr" or "ome-tiff"
    tiff_files: list[Path] = field(default_factory=list)
    companion: Path | None = None


def _is_tiff(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head in (b"II*\0", b"II+\0", b"MM\0*", b"MM\0+")


def find_output(path: Path) -> Output:
    if path.is_dir() and (path / "zarr.json").is_file():
        return Output(path, "ome-zarr")
    if path.is_file():
        if _is_tiff(path):
            return Output(path, "ome-tiff", tiff_files=[path])
        raise InvalidOutput(f"{path} is not a TIFF file")
    if path.is_dir():
        tiffs = sorted(p for p in path.iterdir() if p.name.lower().endswith(TIFF_SUFFIXES))
        tiffs = [p for p in tiffs if _is_tiff(p)]
        if tiffs:
            companions = sorted(path.glob("*.companion.ome"))
            return Output(path, "ome-tiff", tiffs, companions[0] if companions else None)
        raise InvalidOutput(f"{path} holds neither zarr.json nor TIFF files")
    raise InvalidOutput(f"{path} is neither a file nor a directory")


# ------------------------------------------------------------------------------ TIFF


@dataclass
class TiffInfo:
    bigtiff: bool
    ifds: int
    width: int
    height: int
    bits: int
    sample_format: int
    compression: int
    description: str


_COMPRESSION = {1: "none", 5: "lzw", 8: "deflate", 32946: "deflate", 50000: "zstd"}


def read_tiff(path: Path, max_ifds: int = 50_000_000) -> TiffInfo:
    """Header, first IFD's tags and the number of IFDs of a (Big)TIFF file."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(16)
        if len(head) < 8 or head[:2] not in (b"II", b"MM"):
            raise InvalidOutput(f"{path}: not a TIFF header")
        bo = "<" if head[:2] == b"II" else ">"
        magic = struct.unpack(bo + "H", head[2:4])[0]
        if magic == 43:
            big, count_fmt, entry_size, off_fmt = True, "Q", 20, "Q"
            first = struct.unpack(bo + "Q", head[8:16])[0]
        elif magic == 42:
            big, count_fmt, entry_size, off_fmt = False, "H", 12, "I"
            first = struct.unpack(bo + "I", head[4:8])[0]
        else:
            raise InvalidOutput(f"{path}: TIFF magic number {magic}")
        count_size = struct.calcsize(count_fmt)
        off_size = struct.calcsize(off_fmt)

        def read_at(offset: int, n: int) -> bytes:
            if offset + n > size:
                raise InvalidOutput(f"{path}: an IFD points past the end of the file")
            f.seek(offset)
            return f.read(n)

        tags: dict[int, tuple[int, int, bytes]] = {}
        ifds = 0
        offset = first
        seen: set[int] = set()
        while offset:
            if offset in seen or ifds >= max_ifds:
                raise InvalidOutput(f"{path}: the IFD chain loops")
            seen.add(offset)
            (n,) = struct.unpack(bo + count_fmt, read_at(offset, count_size))
            if ifds == 0:
                raw = read_at(offset + count_size, n * entry_size)
                for i in range(n):
                    entry = raw[i * entry_size : (i + 1) * entry_size]
                    tag, typ = struct.unpack(bo + "HH", entry[:4])
                    (cnt,) = struct.unpack(bo + off_fmt, entry[4 : 4 + off_size])
                    tags[tag] = (typ, cnt, entry[4 + off_size :])
            (offset,) = struct.unpack(
                bo + off_fmt, read_at(offset + count_size + n * entry_size, off_size)
            )
            ifds += 1

        def value(tag: int, default: int = 0) -> int:
            if tag not in tags:
                return default
            typ, _, data = tags[tag]
            fmt = {3: "H", 4: "I", 16: "Q"}.get(typ, "I")
            return int(struct.unpack(bo + fmt, data[: struct.calcsize(fmt)])[0])

        description = ""
        if 270 in tags:
            _, cnt, data = tags[270]
            if cnt <= len(data):
                text = data[:cnt]
            else:
                (where,) = struct.unpack(bo + off_fmt, data[:off_size])
                text = read_at(where, cnt)
            description = text.rstrip(b"\0").decode("utf-8", errors="replace")
    return TiffInfo(
        big, ifds, value(256), value(257), value(258), value(339, 1), value(259, 1), description
    )


def _ome_images(xml: str) -> list[dict[str, Any]]:
    root = ET.fromstring(xml)
    if root.tag != OME_NS + "OME":
        raise InvalidOutput(f"the OME-XML root element is {root.tag}")
    images = []
    for image in root.findall(OME_NS + "Image"):
        pixels = image.find(OME_NS + "Pixels")
        if pixels is None:
            raise InvalidOutput(f"Image {image.get('ID')} has no Pixels")
        sizes = {a: int(pixels.get("Size" + a, "1")) for a in "TCZYX"}
        images.append(
            {
                "name": image.get("Name", image.get("ID", "")),
                "dimension_order": pixels.get("DimensionOrder"),
                "type": pixels.get("Type"),
                "sizes": sizes,
                "planes": len(pixels.findall(OME_NS + "Plane")),
            }
        )
    return images


def _tiff_ome_xml(out: Output, info: TiffInfo) -> str | None:
    """The OME-XML that describes the file: its own, or the companion's."""
    text = info.description
    if "<OME" not in text:
        return None
    if "BinaryOnly" in text and out.companion is not None:
        return out.companion.read_text(encoding="utf-8")
    return text


def _journal(out: Output) -> list[Path]:
    if out.format == "ome-zarr":
        return sorted(out.path.rglob(ZARR_JOURNAL))
    journal = Path(str(out.path) + ".journal.jsonl")
    return [journal] if journal.exists() else []


# ------------------------------------------------------------------------------ Zarr


def _zarr_nodes(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every zarr.json of the store (arrays' chunk directories are not walked)."""
    for dirpath, dirnames, filenames in os.walk(root):
        if "zarr.json" not in filenames:
            dirnames[:] = []
            continue
        doc_path = Path(dirpath) / "zarr.json"
        try:
            doc = json.loads(doc_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InvalidOutput(f"{doc_path}: {e}") from e
        if not isinstance(doc, dict) or doc.get("zarr_format") != 3:
            raise InvalidOutput(f"{doc_path}: not a Zarr v3 document")
        if doc.get("node_type") == "array":
            dirnames[:] = []
        dirnames.sort()
        yield Path(dirpath), doc


def _codec_names(codecs: list[dict[str, Any]]) -> list[str]:
    names = []
    for codec in codecs:
        name = codec.get("name", "?")
        if name == "sharding_indexed":
            inner = _codec_names(codec.get("configuration", {}).get("codecs", []))
            names.append(f"sharding({', '.join(inner)})")
        elif name == "blosc":
            names.append(f"blosc-{codec.get('configuration', {}).get('cname', '?')}")
        else:
            names.append(name)
    return names


def zarr_summary(out: Output) -> dict[str, Any]:
    arrays = []
    groups = []
    for path, doc in _zarr_nodes(out.path):
        rel = path.relative_to(out.path).as_posix()
        if doc.get("node_type") == "array":
            shape = [int(n) for n in doc.get("shape", [])]
            chunks = doc.get("chunk_grid", {}).get("configuration", {}).get("chunk_shape")
            arrays.append(
                {
                    "path": rel,
                    "shape": shape,
                    "dtype": doc.get("data_type"),
                    "chunks": chunks,
                    "dimension_names": doc.get("dimension_names"),
                    "codecs": _codec_names(doc.get("codecs", [])),
                    "frames": math.prod(shape[:-2]) if len(shape) >= 2 else 0,
                }
            )
        else:
            attrs = doc.get("attributes", {}) or {}
            entry: dict[str, Any] = {"path": rel, "namespaces": sorted(attrs)}
            ome = attrs.get("ome", {})
            if isinstance(ome, dict):
                entry["ome_version"] = ome.get("version")
                if "multiscales" in ome:
                    multiscale = ome["multiscales"][0]
                    entry["axes"] = [a.get("name") for a in multiscale.get("axes", [])]
                    entry["datasets"] = [d.get("path") for d in multiscale.get("datasets", [])]
                for kind in ("plate", "well", "bioformats2raw.layout"):
                    if kind in ome:
                        entry["kind"] = kind
            writer = attrs.get("ome_writers", {})
            if isinstance(writer, dict) and "frame_metadata" in writer:
                frames = writer["frame_metadata"]
                keys = sorted({k for f in frames if isinstance(f, dict) for k in f})
                entry["frame_metadata"] = {"entries": len(frames), "keys": keys}
            groups.append(entry)
    if not arrays:
        raise InvalidOutput(f"{out.path}: no arrays in the store")
    return {"groups": groups, "arrays": arrays}


# ------------------------------------------------------------------------------ info


def gather_info(out: Output) -> dict[str, Any]:
    result: dict[str, Any] = {"path": str(out.path), "format": out.format}
    if out.format == "ome-zarr":
        result.update(zarr_summary(out))
        # Frames: those of each image's full-resolution array.
        by_path = {a["path"]: a for a in result["arrays"]}
        full = [
            by_path.get(f"{g['path']}/{g['datasets'][0]}".lstrip("/").removeprefix("./"))
            for g in result["groups"]
            if g.get("datasets")
        ]
        result["frames"] = sum(a["frames"] for a in full if a is not None)
    else:
        files = []
        total = 0
        for path in out.tiff_files:
            info = read_tiff(path)
            dtype = {1: "uint", 2: "int", 3: "float", 6: "complex"}.get(info.sample_format, "?")
            entry: dict[str, Any] = {
                "path": path.name,
                "bigtiff": info.bigtiff,
                "ifds": info.ifds,
                "frame_shape": [info.height, info.width],
                "dtype": f"{dtype}{info.bits}",
                "compression": _COMPRESSION.get(info.compression, str(info.compression)),
            }
            xml = _tiff_ome_xml(out, info)
            if xml is not None:
                root = ET.fromstring(xml)
                entry["images"] = _ome_images(xml)
                entry["map_annotations"] = sum(1 for _ in root.iter(OME_NS + "MapAnnotation"))
            files.append(entry)
            total += info.ifds
        result["files"] = files
        if out.companion is not None:
            result["companion"] = out.companion.name
        result["frames"] = total
    journals = _journal(out)
    if journals:
        result["journal"] = [str(j) for j in journals]
    return result


def _print_info(info: dict[str, Any]) -> None:
    print(f"{info['path']}: {info['format']}, {info['frames']} frames")
    if info["format"] == "ome-zarr":
        for g in info["groups"]:
            line = f"  group {g['path'] or '/'}"
            if g.get("ome_version"):
                line += f": OME-NGFF {g['ome_version']}"
            if g.get("kind"):
                line += f" {g['kind']}"
            if g.get("axes"):
                line += f", axes {''.join(str(a) for a in g['axes'])}"
            extra = [n for n in g["namespaces"] if n not in ("ome", "ome_writers")]
            if extra:
                line += f", other metadata: {', '.join(extra)}"
            print(line)
            if "frame_metadata" in g:
                fm = g["frame_metadata"]
                print(f"    frame metadata: {fm['entries']} entries, keys {', '.join(fm['keys'])}")
        for a in info["arrays"]:
            shape = "x".join(str(n) for n in a["shape"])
            chunks = "x".join(str(n) for n in a["chunks"] or [])
            print(
                f"  array {a['path']}: {shape} {a['dtype']}, chunks {chunks}, "
                f"codecs {', '.join(a['codecs'])}"
            )
    else:
        for f in info["files"]:
            print(
                f"  file {f['path']}: {f['ifds']} IFDs of {f['frame_shape'][0]}x"
                f"{f['frame_shape'][1]} {f['dtype']}, compression {f['compression']}"
                + (", BigTIFF" if f["bigtiff"] else "")
            )
            for im in f.get("images", []):
                sizes = " ".join(f"{k}={v}" for k, v in im["sizes"].items())
                print(
                    f"    image {im['name']!r}: {im['type']} {im['dimension_order']} {sizes}, "
                    f"{im['planes']} Plane elements"
                )
            if f.get("map_annotations"):
                print(f"    {f['map_annotations']} MapAnnotations")
        if info.get("companion"):
            print(f"  companion {info['companion']}")
    if info.get("journal"):
        print(
            "  a journal is present: the stream is still open, or its writer died "
            "(then run `ome-writers recover PATH`)"
        )


# -------------------------------------------------------------------------- validate


@dataclass
class Check:
    name: str
    status: str  # "ok", "failed", "skipped"
    detail: str


def _try(name: str, modules: tuple[str, ...], run: Callable[[], str]) -> Check:
    """Run one reader's check; skipped when the reader is not installed."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        return Check(name, "skipped", f"{', '.join(missing)} not installed")
    try:
        return Check(name, "ok", run())
    except Exception as e:  # any reader error means the output fails that reader
        message = f"{type(e).__name__}: {e}"
        if "imagecodecs" in message:
            return Check(name, "skipped", "reading this compression needs imagecodecs")
        return Check(name, "failed", message[:500])


def _validate_zarr(out: Output) -> list[Check]:
    checks = []
    summary = zarr_summary(out)
    arrays = summary["arrays"]
    images = [g for g in summary["groups"] if g.get("axes")]
    checks.append(
        Check(
            "zarr.json documents",
            "ok",
            f"{len(summary['groups'])} groups, {len(arrays)} arrays, "
            f"{len(images)} multiscales images",
        )
    )
    data: dict[str, Any] = {}

    def zarr_python() -> str:
        import zarr

        for a in arrays:
            arr = zarr.open_array(out.path / a["path"], mode="r")
            if list(arr.shape) != a["shape"]:
                raise InvalidOutput(f"{a['path']}: shape {arr.shape} != {a['shape']}")
            data[a["path"]] = arr[...]
        return f"read every array ({len(arrays)})"

    def tensorstore() -> str:
        import numpy as np
        import tensorstore as ts

        same = 0
        for a in arrays:
            spec = {
                "driver": "zarr3",
                "kvstore": {"driver": "file", "path": str(out.path / a["path"])},
            }
            values = ts.open(spec).result().read().result()
            if a["path"] in data:
                if not np.array_equal(values, data[a["path"]]):
                    raise InvalidOutput(f"{a['path']}: tensorstore and zarr-python differ")
                same += 1
        agree = f"; identical to zarr-python's for {same}" if same else ""
        return f"read every array ({len(arrays)}){agree}"

    def ome_zarr_models() -> str:
        import zarr
        from ome_zarr_models.v05 import HCS, Image, Well

        models: dict[str, Any] = {"multiscales": Image, "plate": HCS, "well": Well}
        done = 0
        for g in summary["groups"]:
            kind = "multiscales" if g.get("axes") else g.get("kind")
            if kind in models:
                models[kind].from_zarr(zarr.open_group(out.path / g["path"], mode="r"))
                done += 1
        if not done:
            raise InvalidOutput("no OME-NGFF image, plate or well group")
        return f"{done} OME-NGFF 0.5 groups valid"

    checks.append(_try("zarr-python", ("zarr",), zarr_python))
    checks.append(_try("tensorstore", ("tensorstore",), tensorstore))
    checks.append(_try("ome-zarr-models", ("ome_zarr_models", "zarr"), ome_zarr_models))
    return checks


def _validate_tiff(out: Output) -> list[Check]:
    checks = []
    xmls: dict[str, str] = {}
    planes = 0
    for path in out.tiff_files:
        info = read_tiff(path)
        planes += info.ifds
        xml = _tiff_ome_xml(out, info)
        if xml is None:
            raise InvalidOutput(f"{path.name}: no OME-XML in the first ImageDescription")
        _ome_images(xml)
        xmls[path.name] = xml
    if out.companion is not None:
        xmls[out.companion.name] = out.companion.read_text(encoding="utf-8")
    checks.append(
        Check("TIFF structure", "ok", f"{len(out.tiff_files)} files, {planes} IFDs, OME-XML parsed")
    )

    def tifffile_check() -> str:
        import tifffile

        frames = 0
        for path in out.tiff_files:
            with tifffile.TiffFile(path) as tf:
                for series in tf.series:
                    arr = series.asarray()
                    if arr.size == 0:
                        raise InvalidOutput(f"{path.name}: an empty series")
                    frames += math.prod(arr.shape[:-2]) if arr.ndim >= 2 else 1
        return f"read every series of {len(out.tiff_files)} files ({frames} frames)"

    def ome_types_check() -> str:
        import ome_types
        import xmlschema

        xsd = Path(ome_types.__file__).parent / "ome-2016-06.xsd"
        schema = xmlschema.XMLSchema(str(xsd))
        for name, xml in xmls.items():
            errors = list(schema.iter_errors(xml))
            if errors:
                raise InvalidOutput(f"{name}: {errors[0].reason}")
            ome_types.from_xml(xml)
        return f"{len(xmls)} OME-XML documents valid against the OME 2016-06 XSD"

    checks.append(_try("tifffile", ("tifffile",), tifffile_check))
    checks.append(_try("ome-types + XSD", ("ome_types", "xmlschema"), ome_types_check))
    return checks


# ------------------------------------------------------------------------- commands


def cmd_info(args: argparse.Namespace) -> int:
    out = find_output(Path(args.path))
    info = gather_info(out)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        _print_info(info)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    out = find_output(Path(args.path))
    checks = _validate_zarr(out) if out.format == "ome-zarr" else _validate_tiff(out)
    journals = _journal(out)
    if journals:
        checks.append(
            Check("journal", "ok", "a journal is present (the stream is open or was killed)")
        )
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"  {c.status:8s} {c.name:{width}s}  {c.detail}")
    failed = [c.name for c in checks if c.status == "failed"]
    passed = sum(c.status == "ok" for c in checks)
    skipped = [c.name for c in checks if c.status == "skipped"]
    tail = f", {len(skipped)} skipped ({', '.join(skipped)})" if skipped else ""
    if failed:
        names = ", ".join(failed)
        print(f"{out.path}: INVALID: {len(failed)} failed ({names}), {passed} passed{tail}")
        return EXIT_INVALID
    print(f"{out.path}: valid {out.format}: {passed} checks passed{tail}")
    return EXIT_OK


def cmd_recover(args: argparse.Namespace) -> int:
    from ._recover import recover

    try:
        frames = recover(args.path)
    except (ValueError, OSError, RuntimeError) as e:
        print(f"ome-writers recover: {e}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{args.path}: metadata brought up to date; the journal describes {frames} frames")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ome-writers",
        description="Inspect, validate and recover OME-Zarr and OME-TIFF outputs of ome_writers.",
        epilog="exit codes:\n"
        "  0  success (validate: every check that ran passed)\n"
        "  1  invalid or unreadable output, a failed check, a failed recovery\n"
        "  2  usage error (unknown command or option, missing argument, no such PATH)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser(
        "info",
        help="what an output holds: format, shape, dtype, frames, metadata",
        description="Print what an OME-Zarr store or OME-TIFF output holds: format, arrays or "
        "files, shape, dtype, chunks and codecs, frames, and a summary of the metadata. Needs "
        "no reader package.",
    )
    info.add_argument("path", metavar="PATH", help="the output (settings.output_path)")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    info.set_defaults(run=cmd_info)
    validate = sub.add_parser(
        "validate",
        help="read an output with every installed reader and schema check",
        description="Check the output's structure, then read it with each reader the test "
        "suite uses, where installed: zarr-python, tensorstore and ome-zarr-models for "
        "OME-Zarr; tifffile and ome-types with the OME XSD (xmlschema) for OME-TIFF. Says "
        "which checks were skipped. Exit 0 when every check that ran passed, 1 otherwise.",
    )
    validate.add_argument("path", metavar="PATH", help="the output (settings.output_path)")
    validate.set_defaults(run=cmd_validate)
    recover = sub.add_parser(
        "recover",
        help="fold the journal of a killed stream into the metadata",
        description="Bring the metadata of an output whose writer died before close() up to "
        "date from the journal kept beside it (ome_writers.recover).",
    )
    recover.add_argument("path", metavar="PATH", help="the output (settings.output_path)")
    recover.set_defaults(run=cmd_recover)
    return parser


def _version() -> str:
    """The package's version and the C libraries its engine links, for bug reports."""
    from . import __version__, _core

    libs = ", ".join(f"{k} {v}" for k, v in _core.dependency_versions().items())
    return f"ome-writers {__version__} ({libs})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help and --version exit 0, argument errors 2
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    path = Path(args.path)
    if args.command != "recover" and not path.exists():
        print(f"ome-writers {args.command}: {path}: no such file or directory", file=sys.stderr)
        return EXIT_USAGE
    if (
        args.command == "recover"
        and not path.exists()
        and not Path(f"{path}.journal.jsonl").exists()
    ):
        print(f"ome-writers recover: {path}: no such file or directory", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.run(args))
    except InvalidOutput as e:
        print(f"ome-writers {args.command}: {e}", file=sys.stderr)
        return EXIT_INVALID
