"""Kill torture for issue #14 (crash safe by default), shared by the test and the script.

A child process (`_kill_child.py`) streams frames whose pixels are a function of their frame
number and reports every append and flush with its CLOCK_MONOTONIC time; the parent kills it
with SIGKILL at a random moment and then judges the output as standard readers see it, without
`recover()`:

- it opens (Zarr: zarr-python, tensorstore, ome-zarr-models; TIFF: tifffile and ome-types with
  XSD validation);
- every frame appended at least `checkpoint_interval + GRACE` seconds before the kill reads
  back bit-exact at its index, with its frame metadata in the standard place;
- nothing that reads back is garbled: a non-blank frame is exactly the frame for its index.

Then it calls `recover()` and checks every frame acknowledged by `flush()` the same way.
Only numpy and ome_writers are imported at module level: the child imports this module too,
and the readers would slow its start.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
CHILD = HERE / "_kill_child.py"

SHAPE = (64, 64)
DTYPE = np.uint16
GRACE = 0.5  # a frame is due `checkpoint_interval + GRACE` seconds after its append returned
DEFAULT_CHECKPOINT = 1.0
FAST_CHECKPOINT = 0.25
KILL_WINDOW = (0.2, 4.0)  # seconds after the first append
FPS_RANGE = (100.0, 200.0)
STARTUP_TIMEOUT = 60.0
FORMATS = ("ome-zarr", "ome-tiff")

# Storage dimension name -> OME-XML plane letter.
_LETTER = {"t": "T", "c": "C", "z": "Z"}
_PLANE_DIMS: tuple[dict[str, Any], ...] = (
    {"name": "y", "count": SHAPE[0]},
    {"name": "x", "count": SHAPE[1]},
)
_TILED_PLANE_DIMS: tuple[dict[str, Any], ...] = (
    {"name": "y", "count": SHAPE[0], "chunk_size": SHAPE[0] // 2},
    {"name": "x", "count": SHAPE[1]},
)
_POSITIONS = ("A", "B")


# ---------------------------------------------------------------------------
# Layouts and geometry
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """One acquisition shape; `dims` are `Dimension` keyword arguments (JSON, for the child)."""

    name: str
    fmt: str
    dims: tuple[dict[str, Any], ...]
    note: str

    @property
    def outer(self) -> tuple[dict[str, Any], ...]:
        return self.dims[:-2]

    @property
    def counts(self) -> list[int | None]:
        return [self._count(d) for d in self.outer]

    @staticmethod
    def _count(d: dict[str, Any]) -> int | None:
        if d.get("coords") is not None:
            return len(d["coords"])
        return d.get("count")

    @property
    def position_axis(self) -> int | None:
        for k, d in enumerate(self.outer):
            if d.get("type") == "position":
                return k
        return None

    @property
    def positions(self) -> int:
        axis = self.position_axis
        return 1 if axis is None else len(self.outer[axis]["coords"])

    @property
    def storage_names(self) -> list[str]:
        axis = self.position_axis
        return [d["name"] for k, d in enumerate(self.outer) if k != axis]

    @property
    def total_frames(self) -> int | None:
        total = 1
        for c in self.counts:
            if c is None:
                return None
            total *= c
        return total

    @property
    def suffix(self) -> str:
        return ".ome.zarr" if self.fmt == "ome-zarr" else ".ome.tiff"


def _t(count: int | None = None, **chunks: int) -> dict[str, Any]:
    return {"name": "t", "count": count, "type": "time", **chunks}


def _layouts() -> dict[str, Layout]:
    c2 = {"name": "c", "count": 2, "type": "channel"}
    z4 = {"name": "z", "count": 4, "type": "space", "chunk_size": 4}
    p2 = {"name": "p", "type": "position", "coords": list(_POSITIONS)}
    plane = _PLANE_DIMS
    items = [
        Layout("zarr-t-bounded", "ome-zarr", (_t(1000), *plane), "1-frame chunks, bounded"),
        Layout("zarr-t", "ome-zarr", (_t(), *plane), "1-frame chunks, unbounded"),
        Layout("zarr-tz-chunk4", "ome-zarr", (_t(), z4, *plane), "4-frame chunks, unbounded"),
        Layout(
            "zarr-tc-shard8-bounded",
            "ome-zarr",
            (_t(500, chunk_size=1, shard_size_chunks=8), c2, *plane),
            "1-frame chunks in 8-chunk shards, bounded",
        ),
        Layout(
            "zarr-t-chunk3-shard2-tiled",
            "ome-zarr",
            (_t(chunk_size=3, shard_size_chunks=2), *_TILED_PLANE_DIMS),
            "3-frame half-plane chunks in 2-chunk shards, unbounded",
        ),
        Layout("zarr-tp", "ome-zarr", (_t(), p2, *plane), "2 positions (bf2raw), unbounded"),
        Layout("tiff-t-bounded", "ome-tiff", (_t(1000), *plane), "one file, bounded"),
        Layout("tiff-t", "ome-tiff", (_t(), *plane), "one file, unbounded"),
        Layout("tiff-tc", "ome-tiff", (_t(), c2, *plane), "2 channels, unbounded"),
        Layout("tiff-tp", "ome-tiff", (_t(), p2, *plane), "2 positions (2 files), unbounded"),
        Layout(
            "tiff-tp-bounded", "ome-tiff", (_t(500), p2, *plane), "2 positions (2 files), bounded"
        ),
    ]
    return {layout.name: layout for layout in items}


LAYOUTS = _layouts()


def settings_for(layout: Layout, root: str | os.PathLike[str]) -> Any:
    """The AcquisitionSettings of `layout` at `root` (the child and the parent agree)."""
    from ome_writers import AcquisitionSettings, Dimension

    return AcquisitionSettings(
        root_path=os.fspath(root),
        format=layout.fmt,
        dtype="uint16",
        dimensions=[Dimension(**d) for d in layout.dims],
    )


def locate(layout: Layout, i: int) -> tuple[int, tuple[int, ...]]:
    """Frame number -> (position, storage index): acquisition digits without the position."""
    counts = layout.counts
    digits: list[int] = []
    rest = i
    for c in reversed(counts[1:]):
        assert c is not None
        digits.append(rest % c)
        rest //= c
    digits.append(rest)
    digits.reverse()
    axis = layout.position_axis
    pos = 0 if axis is None else digits.pop(axis)
    return pos, tuple(digits)


def frame_number(layout: Layout, pos: int, index: Sequence[int]) -> int | None:
    """Storage index of position `pos` -> frame number; None when no frame maps there."""
    digits = list(index)
    axis = layout.position_axis
    if axis is not None:
        digits.insert(axis, pos)
    counts = layout.counts
    if len(digits) != len(counts):
        return None
    n = 0
    for k, (d, c) in enumerate(zip(digits, counts, strict=True)):
        if d < 0 or (c is not None and d >= c):
            return None
        n = d if k == 0 else n * c + d  # type: ignore[operator]
    return n


# ---------------------------------------------------------------------------
# Frame content
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def frame_pixels(i: int) -> np.ndarray:
    """Frame i: random pixels, none zero (a zero reveals an unwritten part), and i encoded
    in the first two pixels (a misplaced frame is named); read-only because it is cached."""
    frame = np.random.default_rng(i).integers(1, 1 << 16, size=SHAPE, dtype=DTYPE)
    frame[0, 0] = i % 65535 + 1
    frame[0, 1] = i // 65535 + 1
    frame.flags.writeable = False
    return frame


def frame_metadata(i: int) -> dict[str, Any]:
    return {"i": i, "label": f"frame-{i}"}


def identify(pixels: np.ndarray) -> int | None:
    """The frame number whose exact pixels these are, or None."""
    if pixels.shape != SHAPE:
        return None
    i = (int(pixels[0, 1]) - 1) * 65535 + int(pixels[0, 0]) - 1
    if i < 0 or not np.array_equal(pixels, frame_pixels(i)):
        return None
    return i


def judge_pixels(pixels: np.ndarray, i: int) -> tuple[str, str] | None:
    """None when `pixels` are frame i; else (kind, detail) of what is wrong."""
    expected = frame_pixels(i)
    if pixels.shape == expected.shape and np.array_equal(pixels, expected):
        return None
    if pixels.shape != expected.shape:
        return "wrong plane shape", f"shape {pixels.shape}"
    zeros = int(np.count_nonzero(pixels == 0))
    if zeros == pixels.size:
        return "missing (all fill value)", ""
    other = identify(pixels)
    if other is not None:
        return "holds another frame's pixels", f"frame {i} holds frame {other}"
    differ = int(np.count_nonzero(pixels != expected))
    if zeros:
        return "torn (partly fill value)", f"frame {i}: {zeros} of {pixels.size} pixels zero"
    return "garbled pixels", f"frame {i}: {differ} of {pixels.size} pixels differ"


# ---------------------------------------------------------------------------
# Problems of one run
# ---------------------------------------------------------------------------


def _ranges(frames: Iterable[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7' (a lost checkpoint loses runs of frames)."""
    out: list[str] = []
    ordered = sorted(set(frames))
    k = 0
    while k < len(ordered):
        j = k
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[k]) if j == k else f"{ordered[k]}-{ordered[j]}")
        k = j + 1
    if len(out) > 12:
        out = [*out[:6], "...", *out[-4:]]
    return ", ".join(out)


@dataclass
class Problems:
    """Everything wrong with one run, grouped by kind so a lost range reads as one line."""

    frames: dict[str, list[int]] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, frames: Iterable[int] | int | None = None, detail: str = "") -> None:
        listed = self.frames.setdefault(kind, [])
        if isinstance(frames, int):
            listed.append(frames)
        elif frames is not None:
            listed.extend(frames)
        if detail and kind not in self.examples:
            self.examples[kind] = detail

    def failed(self, phase: str) -> set[int]:
        return {i for kind, fs in self.frames.items() if kind.startswith(phase) for i in fs}

    def lines(self) -> list[str]:
        out = []
        for kind, fs in self.frames.items():
            line = kind
            if fs:
                line += f": frames {_ranges(fs)} ({len(set(fs))})"
            if kind in self.examples:
                line += f"; e.g. {self.examples[kind]}"
            out.append(line)
        return out

    def __bool__(self) -> bool:
        return bool(self.frames)


def _error(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip()
    first = text.splitlines()[0] if text else type(e).__name__
    return first[:300]


# ---------------------------------------------------------------------------
# Readers' verdicts
# ---------------------------------------------------------------------------


@dataclass
class Expectation:
    """What one phase checks: `expected` frames must be present; nothing past `limit`.

    `live`: the output is as an open stream left it, so OME-XML sizes may declare planes
    not written yet (a bounded acquisition's SizeT, a partial last time point): readers
    show them blank, as Zarr shows unwritten chunks as the fill value, and tifffile only
    warns. Frames that must be there are checked one by one all the same. After recover()
    or close() the sizes must agree with the planes (README, "OME-TIFF sizes").
    """

    phase: str
    expected: list[int]
    limit: int  # highest frame number that may have been appended
    live: bool = False


def verify(layout: Layout, out: Path, exp: Expectation, problems: Problems) -> None:
    """Judge the output at `out` as standard readers see it."""
    try:
        if layout.fmt == "ome-zarr":
            _verify_zarr(layout, out, exp, problems)
        else:
            _verify_tiff(layout, out, exp, problems)
    except Exception as e:  # a reader failing where no check expected it: still a verdict
        where = traceback.extract_tb(e.__traceback__)[-1]
        problems.add(
            f"{exp.phase}a reader raised during the checks",
            exp.expected,
            f"{_error(e)} (at {Path(where.filename).name}:{where.lineno})",
        )


def _by_position(layout: Layout, frames: Iterable[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {p: [] for p in range(layout.positions)}
    for i in frames:
        out[locate(layout, i)[0]].append(i)
    return out


def _read_zarr_array(path: Path) -> np.ndarray:
    """The array by zarr-python and by tensorstore; they must agree."""
    import tensorstore as ts
    import zarr

    by_zarr = np.asarray(zarr.open_array(path, mode="r")[...])
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}}
    by_ts = ts.open(spec, read=True).result().read().result()
    if by_zarr.shape != by_ts.shape or not np.array_equal(by_zarr, by_ts):
        raise AssertionError(
            f"zarr-python {by_zarr.shape} and tensorstore {by_ts.shape} read different data"
        )
    return by_zarr


def _verify_zarr(layout: Layout, out: Path, exp: Expectation, problems: Problems) -> None:
    import zarr
    from ome_zarr_models.v05 import BioFormats2Raw, Image

    ph = exp.phase
    expected = _by_position(layout, exp.expected)
    try:
        top = zarr.open_group(out, mode="r")
    except Exception as e:
        problems.add(f"{ph}zarr-python cannot open the root group", exp.expected, _error(e))
        return
    positioned = layout.position_axis is not None
    if positioned:
        try:
            BioFormats2Raw.from_zarr(top)
        except Exception as e:
            problems.add(f"{ph}ome-zarr-models rejects the bioformats2raw root", None, _error(e))
    for p in range(layout.positions):
        name = _POSITIONS[p] if positioned else ""
        where = f"group {name!r}" if positioned else "image group"
        gpath = out / name if name else out
        try:
            group = zarr.open_group(gpath, mode="r")
        except Exception as e:
            problems.add(f"{ph}{where}: zarr-python cannot open it", expected[p], _error(e))
            continue
        try:
            Image.from_zarr(group)
        except Exception as e:
            problems.add(f"{ph}{where}: ome-zarr-models rejects it", None, _error(e))
        try:
            data = _read_zarr_array(gpath / "0")
        except Exception as e:
            problems.add(f"{ph}{where}: array 0 does not read", expected[p], _error(e))
            continue
        _judge_zarr_pixels(layout, p, data, expected[p], exp, problems, where)
        try:
            entries = group.attrs["ome_writers"]["frame_metadata"]
        except Exception as e:
            problems.add(f"{ph}{where}: no ome_writers.frame_metadata", expected[p], _error(e))
            continue
        _judge_zarr_metadata(layout, p, entries, expected[p], exp, problems, where)


def _judge_zarr_pixels(
    layout: Layout,
    p: int,
    data: np.ndarray,
    expected: list[int],
    exp: Expectation,
    problems: Problems,
    where: str,
) -> None:
    ph = exp.phase
    outer_shape = data.shape[:-2]
    if data.shape[-2:] != SHAPE or len(outer_shape) != len(layout.storage_names):
        problems.add(f"{ph}{where}: array shape {data.shape} does not fit the layout", expected)
        return
    # Every non-blank slot holds exactly its own frame (no garbage, no stale data).
    flat = data.reshape(-1, *SHAPE)
    for k in np.flatnonzero(flat.any(axis=(1, 2))):
        index = np.unravel_index(int(k), outer_shape)
        i = frame_number(layout, p, [int(v) for v in index])
        if i is None or i > exp.limit:
            found = identify(flat[k])
            problems.add(
                f"{ph}{where}: data at an index no appended frame maps to",
                [] if i is None else [i],
                f"index {tuple(int(v) for v in index)} holds "
                + ("unknown pixels" if found is None else f"frame {found}"),
            )
            continue
        verdict = judge_pixels(flat[k], i)
        if verdict is not None:
            problems.add(f"{ph}{where}: {verdict[0]}", i, verdict[1])
    for i in expected:
        index = locate(layout, i)[1]
        if any(v >= s for v, s in zip(index, outer_shape, strict=True)):
            problems.add(
                f"{ph}{where}: due frame beyond the array shape",
                i,
                f"frame {i} at {index}, shape {data.shape}",
            )
        elif not data[index].any():
            problems.add(f"{ph}{where}: missing (all fill value)", i)


def _judge_zarr_metadata(
    layout: Layout,
    p: int,
    entries: Any,
    expected: list[int],
    exp: Expectation,
    problems: Problems,
    where: str,
) -> None:
    ph = exp.phase
    if not isinstance(entries, list):
        problems.add(f"{ph}{where}: frame_metadata is not a list", expected, repr(entries)[:200])
        return
    by_index: dict[tuple[int, ...], dict[str, Any]] = {}
    for e in entries:
        index = tuple(e.get("storage_index", ())) if isinstance(e, dict) else ()
        i = frame_number(layout, p, index) if index else None
        if i is None or e.get("i") != i or e.get("label") != f"frame-{i}":
            problems.add(
                f"{ph}{where}: frame_metadata entry does not match its storage_index",
                [] if i is None else [i],
                json.dumps(e)[:200],
            )
        if index in by_index:
            problems.add(f"{ph}{where}: duplicate frame_metadata storage_index", i, str(index))
        by_index[index] = e
    for i in expected:
        if locate(layout, i)[1] not in by_index:
            problems.add(f"{ph}{where}: no frame_metadata entry", i)


def tiff_files(layout: Layout, out: Path) -> list[Path]:
    """One file per position (`<stem>_pNNN.ome.tiff` in the output directory) or `out`."""
    if layout.position_axis is None:
        return [out]
    return [out / f"{out.name}_p{p:03d}.ome.tiff" for p in range(layout.positions)]


@dataclass
class _TiffImage:
    """Plane <-> IFD of one OME Image, as the OME-XML declares it."""

    order: str  # fastest first, e.g. "CTZ"
    sizes: dict[str, int]
    blocks: list[tuple[int, int, int, str | None]]  # first plane, count, ifd, file name
    annotations: dict[tuple[int, int, int], list[dict[str, str]]]  # (z, c, t) -> maps

    def plane(self, zct: dict[str, int]) -> int:
        q = 0
        for letter in reversed(self.order):
            q = q * self.sizes[letter] + zct[letter]
        return q

    def zct(self, q: int) -> dict[str, int]:
        out = {}
        for letter in self.order:
            out[letter] = q % self.sizes[letter]
            q //= self.sizes[letter]
        return out

    @property
    def planes(self) -> int:
        return self.sizes["Z"] * self.sizes["C"] * self.sizes["T"]

    def ifd(self, q: int) -> tuple[int, str | None] | None:
        for first, count, ifd, name in self.blocks:
            if first <= q < first + count:
                return ifd + q - first, name
        return None


def _tiff_image(ome: Any, p: int) -> _TiffImage:
    images = [im for im in ome.images if im.id == f"Image:{p}"]
    if not images:
        raise LookupError(f"no Image:{p} in the OME-XML")
    px = images[0].pixels
    order = px.dimension_order.value[2:]
    sizes = {"Z": px.size_z, "C": px.size_c, "T": px.size_t}
    img = _TiffImage(order, sizes, [], {})
    for td in px.tiff_data_blocks:
        first = img.plane({"Z": td.first_z or 0, "C": td.first_c or 0, "T": td.first_t or 0})
        count = td.plane_count if td.plane_count is not None else img.planes - first
        name = td.uuid.file_name if td.uuid is not None else None
        img.blocks.append((first, count, td.ifd or 0, name))
    maps = {}
    for ann in ome.structured_annotations.map_annotations:
        maps[ann.id] = {m.k: m.value for m in ann.value.ms}
    for plane in px.planes:
        key = (plane.the_z, plane.the_c, plane.the_t)
        img.annotations[key] = [maps[r.id] for r in plane.annotation_refs if r.id in maps]
    return img


def _frame_zct(layout: Layout, i: int) -> dict[str, int]:
    index = locate(layout, i)[1]
    zct = {"Z": 0, "C": 0, "T": 0}
    for name, v in zip(layout.storage_names, index, strict=True):
        zct[_LETTER[name]] = v
    return zct


def _zct_frame(layout: Layout, p: int, zct: dict[str, int]) -> int | None:
    index = [zct[_LETTER[name]] for name in layout.storage_names]
    if any(zct[k] for k in "ZCT" if k not in {_LETTER[n] for n in layout.storage_names}):
        return None
    return frame_number(layout, p, index)


class _TiffLog(logging.Handler):
    """tifffile's complaints, per verifying thread: it logs what it cannot read (a broken
    IFD chain, planes the OME-XML declares that are not there) and carries on, so a warning
    is a reader's verdict too."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.by_thread: dict[int, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        listed = self.by_thread.get(threading.get_ident())
        if listed is not None:
            listed.append(record.getMessage())


_TIFF_LOG = _TiffLog()
_TIFF_LOG_LOCK = threading.Lock()


@contextlib.contextmanager
def _tifffile_warnings() -> Iterator[list[str]]:
    with _TIFF_LOG_LOCK:
        logger = logging.getLogger("tifffile")
        if _TIFF_LOG not in logger.handlers:
            logger.addHandler(_TIFF_LOG)
    listed: list[str] = []
    _TIFF_LOG.by_thread[threading.get_ident()] = listed
    try:
        yield listed
    finally:
        del _TIFF_LOG.by_thread[threading.get_ident()]


def _verify_tiff(layout: Layout, out: Path, exp: Expectation, problems: Problems) -> None:
    ph = exp.phase
    expected = _by_position(layout, exp.expected)
    for p, path in enumerate(tiff_files(layout, out)):
        with _tifffile_warnings() as messages:
            _verify_tiff_file(layout, p, path, expected[p], exp, problems)
        for message in messages:
            kind = re.sub(r"\d+", "N", re.sub(r"<[^>]*>\s*", "", message))
            if exp.live and kind == "OME series is missing N frames. Missing data are zeroed":
                continue  # planes declared ahead of the data: see Expectation.live
            problems.add(f"{ph}{path.name}: tifffile warns {kind!r}", None, message[:300])


def _read_ome(path: Path, tf: Any) -> Any:
    """The file's OME metadata, validated against the OME XSD (following BinaryOnly)."""
    import ome_types

    xml = tf.ome_metadata
    if xml is None:
        raise ValueError("no OME-XML in the first ImageDescription")
    ome = ome_types.from_xml(xml, validate=True)
    if ome.binary_only is not None:
        target = path.parent / ome.binary_only.metadata_file
        if target.suffix == ".ome":
            return ome_types.from_xml(target.read_text(), validate=True)
        return ome_types.from_tiff(target, validate=True)
    return ome


def _verify_tiff_file(
    layout: Layout, p: int, path: Path, expected: list[int], exp: Expectation, problems: Problems
) -> None:
    import tifffile

    ph = exp.phase
    where = path.name
    if not path.exists():
        # An empty stream writes no file; once a frame is due, the file must exist.
        if expected:
            problems.add(f"{ph}{where}: file does not exist", expected)
        return
    try:
        tf = tifffile.TiffFile(path)
    except Exception as e:
        size = path.stat().st_size
        problems.add(
            f"{ph}{where}: tifffile cannot open it", expected, f"{size} bytes: {_error(e)}"
        )
        return
    with tf:
        try:
            image = _tiff_image(_read_ome(path, tf), p)
        except Exception as e:
            problems.add(f"{ph}{where}: OME-XML missing or invalid", expected, _error(e))
            return
        _judge_tiff_file(layout, p, tf, image, expected, exp, problems, where)
    # tifffile's own view, the OME series, on a fresh handle: building the series swaps
    # pages for frames, which would change what the page reads above see.
    try:
        with tifffile.TiffFile(path) as tf:
            series = tf.series
            if not series or series[0].kind != "ome":
                raise ValueError(f"series kinds {[s.kind for s in series]}")
            series[min(p, len(series) - 1)].asarray()
    except Exception as e:
        problems.add(f"{ph}{where}: tifffile reads no OME series", None, _error(e))


def _judge_tiff_file(
    layout: Layout,
    p: int,
    tf: Any,
    image: _TiffImage,
    expected: list[int],
    exp: Expectation,
    problems: Problems,
    where: str,
) -> None:
    ph = exp.phase
    own = Path(tf.filehandle.path).name
    try:
        pages = len(tf.pages)
    except Exception as e:
        problems.add(f"{ph}{where}: the IFD chain does not read", expected, _error(e))
        return
    described: dict[int, int] = {}  # ifd -> plane
    for q in range(image.planes):
        found = image.ifd(q)
        if found is not None and found[1] in (None, own):
            described[found[0]] = q
    # Every non-blank page is exactly the frame the OME-XML puts there (or, when the
    # OME-XML does not describe it yet, some appended frame of this position).
    for ifd in range(pages):
        try:
            pixels = tf.pages[ifd].asarray()
        except Exception as e:
            problems.add(f"{ph}{where}: a page does not decode", None, f"IFD {ifd}: {_error(e)}")
            continue
        if pixels.shape != SHAPE:
            problems.add(
                f"{ph}{where}: an IFD in the chain is no {SHAPE[0]}x{SHAPE[1]} plane",
                None,
                f"IFD {ifd}: {tf.pages[ifd]!r}, shape {pixels.shape}",
            )
            continue
        if not pixels.any():
            continue
        if ifd not in described:
            found = identify(pixels)
            if found is None or found > exp.limit or locate(layout, found)[0] != p:
                problems.add(
                    f"{ph}{where}: garbled page the OME-XML does not describe",
                    None if found is None else found,
                    f"IFD {ifd} holds " + ("unknown pixels" if found is None else f"frame {found}"),
                )
            continue
        i = _zct_frame(layout, p, image.zct(described[ifd]))
        if i is None or i > exp.limit:
            problems.add(
                f"{ph}{where}: data on a plane no appended frame maps to",
                [] if i is None else [i],
                f"IFD {ifd}, plane {described[ifd]}",
            )
            continue
        verdict = judge_pixels(pixels, i)
        if verdict is not None:
            problems.add(f"{ph}{where}: {verdict[0]}", i, f"IFD {ifd}: {verdict[1]}")
    # Plane annotations name their own frame.
    for key, maps in image.annotations.items():
        i = _zct_frame(layout, p, dict(zip("ZCT", key, strict=True)))
        for m in maps:
            if i is None or m.get("i") != str(i) or m.get("label") != f"frame-{i}":
                problems.add(
                    f"{ph}{where}: a Plane's MapAnnotation names another frame",
                    [] if i is None else [i],
                    f"Plane (Z, C, T)={key}: {m}",
                )
    for i in expected:
        zct = _frame_zct(layout, i)
        q = image.plane(zct) if all(zct[k] < image.sizes[k] for k in "ZCT") else None
        found = image.ifd(q) if q is not None else None
        if q is None:
            problems.add(
                f"{ph}{where}: due frame beyond the declared sizes",
                i,
                f"frame {i} at {zct}, sizes {image.sizes}",
            )
        elif found is None or found[0] >= pages or found[1] not in (None, own):
            problems.add(
                f"{ph}{where}: due frame on no page the TiffData declares",
                i,
                f"plane {q}, TiffData {image.blocks}, {pages} pages",
            )
        elif not tf.pages[found[0]].asarray().any():
            problems.add(f"{ph}{where}: missing (blank page)", i)
        key = (zct["Z"], zct["C"], zct["T"])
        if not any(m.get("i") == str(i) for m in image.annotations.get(key, [])):
            problems.add(f"{ph}{where}: no Plane MapAnnotation with its frame metadata", i)


def write_closed(layout: Layout, root: Path, frames: int) -> Path:
    """Stream `frames` frames as the child does, then close: the output every check must
    accept (the harness's own control). Returns the output path."""
    from ome_writers import create_stream

    settings = settings_for(layout, root)
    with create_stream(settings) as stream:
        for i in range(frames):
            stream.append(frame_pixels(i), frame_metadata=frame_metadata(i))
    return Path(settings.output_path)


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """One kill: everything random about it is drawn here, from the seed."""

    seed: int
    number: int
    layout: str
    checkpoint_interval: float
    fps: float
    flush_every: int  # 0: never
    kill_after: float  # seconds after the first append
    idle_after: float | None  # the child stops appending this long after its first append

    def describe(self) -> str:
        idle = "" if self.idle_after is None else f", idle after {self.idle_after:.2f} s"
        flushes = f"flush every {self.flush_every}" if self.flush_every else "no flush"
        return (
            f"run {self.number} (seed {self.seed}) {self.layout}: checkpoint_interval "
            f"{self.checkpoint_interval}, {self.fps:.0f} fps, {flushes}, "
            f"kill {self.kill_after:.2f} s after the first append{idle}"
        )


def plan(
    seed: int,
    kills_per_format: int,
    formats: Sequence[str] = FORMATS,
    layouts: Sequence[str] | None = None,
) -> list[RunSpec]:
    """The runs, formats interleaved and layouts cycled so every layout gets its share.

    Flushes: 40 % of the runs flush every 15 frames, 20 % every 150, 40 % never. flush()
    makes frames durable by itself, so only runs that flush rarely or never show whether the
    checkpoint alone keeps every due frame; the others check that recover() keeps every
    acknowledged one. A third of the runs stop appending before the kill: an idle stream
    must be checkpointed too.
    """
    per_format = {
        fmt: [n for n, lay in LAYOUTS.items() if lay.fmt == fmt and (not layouts or n in layouts)]
        for fmt in formats
    }
    per_format = {fmt: names for fmt, names in per_format.items() if names}
    runs: list[RunSpec] = []
    for k in range(kills_per_format):
        for names in per_format.values():
            rng = random.Random(f"{seed}/{len(runs)}")
            kill_after = rng.uniform(*KILL_WINDOW)
            idle = rng.random() < 1 / 3
            runs.append(
                RunSpec(
                    seed=seed,
                    number=len(runs),
                    layout=names[k % len(names)],
                    checkpoint_interval=FAST_CHECKPOINT if k % 2 else DEFAULT_CHECKPOINT,
                    fps=rng.uniform(*FPS_RANGE),
                    flush_every=rng.choices([15, 150, 0], weights=[2, 1, 2])[0],
                    kill_after=kill_after,
                    idle_after=rng.uniform(0.0, kill_after - KILL_WINDOW[0]) if idle else None,
                )
            )
    return runs


@dataclass
class RunResult:
    spec: RunSpec
    appended: int = 0  # frames reported appended
    flushed: int = 0  # frames acknowledged by the last flush()
    due: int = 0  # frames due at the kill, checked before recover()
    failed_before: int = 0  # frames found wrong before recover() (missing due, or garbled)
    failed_after: int = 0  # frames found wrong after recover() (missing flushed, or garbled)
    killed_at: float = 0.0  # seconds after the first append
    idle: bool = False  # the child had stopped appending when it was killed
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def fmt(self) -> str:
        return LAYOUTS[self.spec.layout].fmt

    def report(self) -> str:
        head = (
            f"{self.spec.describe()}; killed at {self.killed_at:.2f} s"
            f"{' (idle)' if self.idle else ''}, {self.appended} appended, "
            f"{self.flushed} flushed, {self.due} due"
        )
        return "\n    ".join([head, *self.problems])


def _child_spec(spec: RunSpec, root: Path) -> dict[str, Any]:
    return {
        "root": str(root),
        "layout": spec.layout,
        "checkpoint_interval": spec.checkpoint_interval,
        "fps": spec.fps,
        "flush_every": spec.flush_every,
        "idle_after": spec.idle_after,
    }


@dataclass
class ChildLog:
    """What the child reported before it died, and when the parent killed it."""

    appends: dict[int, float] = field(default_factory=dict)  # frame -> append returned
    flushed: int = 0  # frames < flushed were acknowledged by flush()
    idle: bool = False
    t_first: float | None = None
    t_kill: float | None = None  # None: it died (or never appended) before the kill
    stderr: str = ""


def kill_child(spec: RunSpec, root: Path, stderr_path: Path) -> ChildLog:
    """Start the child and SIGKILL it `spec.kill_after` seconds after its first append."""
    log = ChildLog()
    lines: list[str] = []
    first = threading.Event()
    with open(stderr_path, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), json.dumps(_child_spec(spec, root))],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            bufsize=1,
        )
    assert proc.stdout is not None
    stdout = proc.stdout

    def read() -> None:
        for line in stdout:
            lines.append(line)
            if line.startswith("A "):
                first.set()
        first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        first.wait(STARTUP_TIMEOUT)
        starts = [ln for ln in lines if ln.startswith("A ")]
        if starts:
            log.t_first = float(starts[0].split()[2])
            time.sleep(max(0.0, log.t_first + spec.kill_after - time.monotonic()))
            if proc.poll() is None:
                log.t_kill = time.monotonic()
                os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        reader.join()
        stdout.close()
    for line in lines:
        parts = line.split()
        if len(parts) != 3 or not line.endswith("\n"):
            continue  # the kill may cut the last line
        if parts[0] == "A":
            log.appends[int(parts[1])] = float(parts[2])
        elif parts[0] == "F":
            log.flushed = max(log.flushed, int(parts[1]))
        elif parts[0] == "I":
            log.idle = True
    if log.t_kill is None:
        log.stderr = f"rc {proc.returncode}: " + stderr_path.read_text()[-1500:]
    return log


def execute(spec: RunSpec, workdir: Path, keep: bool = False) -> RunResult:
    """One kill: run the child, judge its output as it was left, recover(), judge again."""
    import shutil

    import ome_writers

    started = time.monotonic()
    layout = LAYOUTS[spec.layout]
    rundir = workdir / f"run{spec.number:04d}"
    rundir.mkdir(parents=True, exist_ok=True)
    root = rundir / f"out{layout.suffix}"
    out = Path(settings_for(layout, root).output_path)
    log = kill_child(spec, root, rundir / "child.stderr")
    result = RunResult(spec, appended=len(log.appends), flushed=log.flushed, idle=log.idle)
    problems = Problems()
    if log.t_kill is None or log.t_first is None:
        problems.add("the child died or never appended before the kill", None, log.stderr)
    else:
        result.killed_at = log.t_kill - log.t_first
        limit = max(log.appends, default=-1) + 1  # one append may have returned unreported
        deadline = log.t_kill - spec.checkpoint_interval - GRACE
        due = sorted(i for i, t in log.appends.items() if t <= deadline)
        result.due = len(due)
        verify(layout, out, Expectation("before recover: ", due, limit, live=True), problems)
        try:
            ome_writers.recover(out)
        except Exception as e:
            problems.add("recover() raised", None, _error(e))
        flushed = list(range(log.flushed))
        verify(layout, out, Expectation("after recover: ", flushed, limit), problems)
    result.failed_before = len(problems.failed("before recover: "))
    result.failed_after = len(problems.failed("after recover: "))
    result.problems = problems.lines()
    result.seconds = time.monotonic() - started
    if not result.problems and not keep:
        shutil.rmtree(rundir, ignore_errors=True)
    return result


def run_all(
    runs: Sequence[RunSpec],
    workdir: Path,
    workers: int = 2,
    on_result: Callable[[RunResult], None] | None = None,
    keep: bool = False,
) -> list[RunResult]:
    """Run the kills, at most `workers` children at a time (the machine has 2 cores)."""
    # Import the readers first: a first import in one worker holds the GIL long enough to
    # delay the other worker's kill by tenths of a second.
    import ome_types  # noqa: F401
    import ome_zarr_models.v05  # noqa: F401
    import tensorstore  # noqa: F401
    import tifffile  # noqa: F401
    import zarr  # noqa: F401

    results: list[RunResult] = []
    lock = threading.Lock()

    def one(spec: RunSpec) -> RunResult:
        result = execute(spec, workdir, keep)
        with lock:
            results.append(result)
            if on_result is not None:
                on_result(result)
        return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, runs))
    return sorted(results, key=lambda r: r.spec.number)


_COLUMNS: tuple[tuple[str, Callable[[RunResult], int]], ...] = (
    ("kills", lambda r: 1),
    ("with due", lambda r: r.due > 0),
    ("idle", lambda r: r.idle),
    ("runs failed", lambda r: bool(r.problems)),
    ("due checked", lambda r: r.due),
    ("failed", lambda r: r.failed_before),
    ("flushed checked", lambda r: r.flushed),
    ("failed", lambda r: r.failed_after),
)


def summary(results: Sequence[RunResult]) -> str:
    """One row per format: kills (with due frames, idle, failed), then frames checked and
    frames failed before recover() (due frames) and after it (flush()-acknowledged)."""
    head = "format   " + "".join(f"  {name:>{max(len(name), 5)}}" for name, _ in _COLUMNS)
    rows = [head, "-" * len(head)]
    for fmt in sorted({r.fmt for r in results}):
        rs = [r for r in results if r.fmt == fmt]
        cells = [f"  {sum(int(get(r)) for r in rs):>{max(len(name), 5)}}" for name, get in _COLUMNS]
        rows.append(f"{fmt:9}" + "".join(cells))
    return "\n".join(rows)


def failure_report(results: Sequence[RunResult]) -> str:
    """Every failed run with its parameters and its problems, one per line."""
    return "\n".join(r.report() for r in results if r.problems)
