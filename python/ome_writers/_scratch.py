"""The scratch engine: frames kept in numpy arrays, or in raw memory-mapped files.

One array per position, shaped like the position's storage (the non-position
dimensions in storage order, which for the scratch format is acquisition order,
then the frame). An unbounded first dimension starts with room for one index
and grows by half its size whenever a frame lands beyond the end.

With `root_path` set (or when the arrays would exceed
`ScratchFormat.max_memory_bytes` and `spill_to_disk` is on, in which case a
temporary directory removed at interpreter exit is used) the arrays are
`np.memmap` files in a directory::

    pos_0.dat, pos_1.dat, ...   raw C-order pixels, shape = manifest position_shapes[i]
    manifest.json               settings + version, position_shapes, global_metadata
    frame_metadata.jsonl        {"_pos": p, "_idx": [storage index], ...metadata} per frame

`manifest.json` is written at creation, on `flush()`, on `set_global_metadata`
and at `close()`, so a crashed acquisition can still be read back.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import threading
import warnings
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._backends import Engine
from ._coord_tracker import AcquisitionGrid

if TYPE_CHECKING:
    from ._schema import AcquisitionSettings

__all__ = ["ScratchEngine"]

MANIFEST = "manifest.json"
FRAME_METADATA = "frame_metadata.jsonl"
_GROWTH = 1.5


def _package_version() -> str:
    from . import __version__

    return __version__


class ScratchEngine(Engine):
    """Engine for the non-standard "scratch" format (see the module docstring).

    Raises FileExistsError when `root_path` exists and `overwrite` is False, and
    MemoryError when the arrays would not fit in `max_memory_bytes`, no
    `root_path` is given and `spill_to_disk` is False.
    """

    name = "scratch"

    def __init__(self, settings: AcquisitionSettings) -> None:
        fmt = settings.format
        self._grid = AcquisitionGrid(settings)
        self._position_axis = settings.position_dimension_index
        self._num_frames = self._grid.num_frames
        storage_dims = settings.storage_index_dimensions
        self._permutation = settings.storage_index_permutation or tuple(range(len(storage_dims)))
        self._unbounded_axes = tuple(i for i, d in enumerate(storage_dims) if d.count is None)
        self._frame_shape = self._grid.frame_shape
        self._dtype = np.dtype(settings.dtype)
        self._frame_bytes = prod(self._frame_shape) * self._dtype.itemsize
        n_positions = len(settings.positions)
        initial = tuple(d.count or 1 for d in storage_dims)
        # Logical extent per position; the backing array may be larger (growth room).
        self._extents = [list(initial) for _ in range(n_positions)]

        self._lock = threading.Lock()
        self._next_frame = 0
        self._frames_written = 0
        self._closed = False
        self._global_metadata: dict[str, Any] = {}
        self._metadata_file: Any = None
        self._settings_dump: dict[str, Any] = json.loads(settings.model_dump_json())

        self._root: Path | None = None
        if settings.root_path:
            self._root = Path(settings.output_path)
            if self._root.exists() or self._root.is_symlink():
                if not settings.overwrite:
                    raise FileExistsError(
                        f"{self._root} already exists. Use overwrite=True to overwrite it."
                    )
                if self._root.is_dir() and not self._root.is_symlink():
                    shutil.rmtree(self._root)
                else:
                    self._root.unlink()
            self._root.mkdir(parents=True)
        else:
            estimate = n_positions * prod((*initial, *self._frame_shape)) * self._dtype.itemsize
            limit = getattr(fmt, "max_memory_bytes", None)
            if limit is not None and estimate > limit:
                if not getattr(fmt, "spill_to_disk", True):
                    raise MemoryError(
                        f"Scratch arrays would require ~{estimate / 1e9:.1f} GB, exceeding "
                        f"max_memory_bytes={limit / 1e9:.1f} GB. Set root_path to use "
                        "disk-backed storage, or increase max_memory_bytes."
                    )
                self._root = Path(tempfile.mkdtemp(prefix="ome_scratch_"))
                atexit.register(shutil.rmtree, self._root, True)
                warnings.warn(
                    f"Scratch arrays would require ~{estimate / 1e9:.1f} GB in memory "
                    f"(max_memory_bytes={limit}). Using disk-backed storage at {self._root}",
                    UserWarning,
                    stacklevel=4,  # __init__ <- select_engine <- create_stream <- caller
                )

        self._arrays: list[np.ndarray] = [
            self._new_array(i, (*initial, *self._frame_shape)) for i in range(n_positions)
        ]
        if self._root is not None:
            self._write_manifest()
            self._metadata_file = open(self._root / FRAME_METADATA, "a", encoding="utf-8")  # noqa: SIM115

    # ---------------------------------------------------------------- layout

    @property
    def root(self) -> Path | None:
        """The directory holding the memory-mapped files, or None in memory."""
        return self._root

    def _data_path(self, position: int) -> Path:
        assert self._root is not None
        return self._root / f"pos_{position}.dat"

    def _new_array(self, position: int, shape: tuple[int, ...]) -> np.ndarray:
        if self._root is None:
            return np.zeros(shape, dtype=self._dtype)
        return np.memmap(self._data_path(position), dtype=self._dtype, mode="w+", shape=shape)

    def locate(self, frame_number: int) -> tuple[int, tuple[int, ...]]:
        """(position, storage index) of the `frame_number`-th frame in acquisition order."""
        if frame_number < 0 or (self._num_frames is not None and frame_number >= self._num_frames):
            raise IndexError(
                f"frame number {frame_number} is outside the acquisition "
                f"({self._num_frames} frames)"
            )
        indices = list(self._grid.indices(frame_number))
        position = 0
        if self._position_axis is not None:
            position = indices.pop(self._position_axis)
        return position, tuple(indices[axis] for axis in self._permutation)

    # --------------------------------------------------------------- writing

    def _check_room(self, frames: int, verb: str) -> None:
        # The native engine's rule and messages (ome-writers 0.3.2's), for this
        # engine's own storage.
        if self._num_frames is None or self._next_frame + frames <= self._num_frames:
            return
        if verb == "append":
            raise IndexError(
                f"Cannot append frame: would exceed total of {self._num_frames} frames. "
                "Check your AcquisitionSettings.dimensions."
            )
        raise IndexError(
            f"Cannot skip frames: would exceed total of {self._num_frames} frames "
            f"(tried to skip {frames})"
        )

    def append(self, frame: np.ndarray, metadata_json: str | None) -> None:
        """Store the next frame (already validated and C-contiguous)."""
        with self._lock:
            self._check_room(1, "append")
            position, index = self.locate(self._next_frame)
            self._reserve(position, index)
            self._arrays[position][index] = frame
            self._next_frame += 1
            self._frames_written += 1
            if metadata_json is not None and self._metadata_file is not None:
                metadata = json.loads(metadata_json)
                if metadata:
                    record = {"_pos": position, "_idx": list(index), **metadata}
                    self._metadata_file.write(json.dumps(record) + "\n")

    def skip(self, frames: int) -> None:
        """Advance past `frames` frames; their pixels stay zero."""
        with self._lock:
            self._check_room(frames, "skip")
            for _ in range(frames):
                position, index = self.locate(self._next_frame)
                self._reserve(position, index)
                self._next_frame += 1

    def _reserve(self, position: int, index: tuple[int, ...]) -> None:
        """Make room for `index` in the position's array and extend its logical extent."""
        extent = self._extents[position]
        capacity = list(self._arrays[position].shape)
        grow = False
        for axis in self._unbounded_axes:
            needed = index[axis] + 1
            extent[axis] = max(extent[axis], needed)
            if needed > capacity[axis]:
                capacity[axis] = max(needed, int(capacity[axis] * _GROWTH))
                grow = True
        if grow:
            self._arrays[position] = self._resized(position, tuple(capacity))

    def _resized(self, position: int, shape: tuple[int, ...]) -> np.ndarray:
        old = self._arrays[position]
        keep = tuple(slice(0, n) for n in old.shape)
        if self._root is None:
            new = np.zeros(shape, dtype=self._dtype)
            new[keep] = old
            return new
        assert isinstance(old, np.memmap)
        old.flush()
        path = self._data_path(position)
        if old.shape[1:] == shape[1:]:
            # Growing the slowest axis of a C-order file only appends bytes, and the
            # file system fills them with zeros.
            del old
            self._arrays[position] = np.empty(0, dtype=self._dtype)
            os.truncate(path, prod(shape) * self._dtype.itemsize)
            return np.memmap(path, dtype=self._dtype, mode="r+", shape=shape)
        return self._rewrite(position, old[keep], shape)

    def _rewrite(self, position: int, data: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """Replace a position's file by one of `shape` whose leading corner is `data`."""
        path = self._data_path(position)
        tmp = path.with_suffix(".dat.tmp")
        new = np.memmap(tmp, dtype=self._dtype, mode="w+", shape=shape)
        new[tuple(slice(0, n) for n in data.shape)] = data
        new.flush()
        del new, data
        self._arrays[position] = np.empty(0, dtype=self._dtype)
        os.replace(tmp, path)
        return np.memmap(path, dtype=self._dtype, mode="r+", shape=shape)

    def _trim(self, position: int) -> None:
        """Flush a position's file and cut it to its logical shape (drop growth room)."""
        array = self._arrays[position]
        assert isinstance(array, np.memmap)
        array.flush()
        logical = (*self._extents[position], *self._frame_shape)
        if array.shape == logical:
            return
        if array.shape[1:] == logical[1:]:
            del array
            self._arrays[position] = np.empty(0, dtype=self._dtype)
            os.truncate(self._data_path(position), prod(logical) * self._dtype.itemsize)
            return
        corner = array[tuple(slice(0, n) for n in logical)]
        del array
        self._arrays[position] = self._rewrite(position, corner, logical)

    # --------------------------------------------------------------- reading

    def read_frame(self, position: int, storage_index: tuple[int, ...]) -> np.ndarray | None:
        """A copy of the frame at `storage_index`, or None outside the written extent."""
        with self._lock:
            if not 0 <= position < len(self._extents):
                return None
            extent = self._extents[position]
            if len(storage_index) != len(extent) or not all(
                0 <= i < n for i, n in zip(storage_index, extent, strict=True)
            ):
                return None
            if self._closed and self._root is not None and not self._arrays:
                self._arrays = [
                    np.memmap(
                        self._data_path(p),
                        dtype=self._dtype,
                        mode="r",
                        shape=(*e, *self._frame_shape),
                    )
                    for p, e in enumerate(self._extents)
                ]
            return np.array(self._arrays[position][tuple(storage_index)])

    def position_shapes(self) -> list[list[int]]:
        """Current logical shape of every position's array (storage order, frame last)."""
        with self._lock:
            return [[*e, *self._frame_shape] for e in self._extents]

    # -------------------------------------------------------------- metadata

    def get_metadata(self) -> None:
        """The scratch format has no metadata documents: None."""
        return None

    def update_metadata(self, metadata: Any) -> None:
        """Ignored: the scratch format has no metadata documents to update."""

    def set_global_metadata(self, namespace: str, metadata_json: str) -> None:
        """Keep `metadata` under `namespace` (in `manifest.json` when on disk)."""
        if not namespace:
            raise ValueError("namespace must be a non-empty string, got ''")
        if namespace in ("ome", "ome_writers"):
            raise ValueError(f"global metadata namespace '{namespace}' is reserved")
        with self._lock:
            self._global_metadata[namespace] = json.loads(metadata_json)
            if self._root is not None:
                self._write_manifest()

    def _write_manifest(self) -> None:
        assert self._root is not None
        manifest = {
            "version": _package_version(),
            **self._settings_dump,
            "position_shapes": [[*e, *self._frame_shape] for e in self._extents],
            "global_metadata": self._global_metadata,
        }
        tmp = self._root / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, self._root / MANIFEST)

    # ------------------------------------------------------------- lifecycle

    def stats(self) -> dict[str, float]:
        """Frame and byte counters (no queue: frames are stored synchronously)."""
        with self._lock:
            return {
                "frames_appended": self._next_frame,
                "frames_written": self._frames_written,
                "bytes_written": self._frames_written * self._frame_bytes,
                "queue_bytes": 0,
                "peak_queue_bytes": 0,
                "append_waits": 0,
                "append_wait_seconds": 0.0,
                "checkpoints": 0,
                "checkpoint_seconds": 0.0,
            }

    def flush(self) -> None:
        """Write memory-mapped pixels, frame metadata and the manifest to disk."""
        with self._lock:
            if self._root is None or self._closed:
                return
            for array in self._arrays:
                if isinstance(array, np.memmap):
                    array.flush()
            if self._metadata_file is not None:
                self._metadata_file.flush()
            self._write_manifest()

    def close(self) -> None:
        """Finish the files (when on disk); in memory the arrays stay readable. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._root is None:
                return
            if self._metadata_file is not None:
                self._metadata_file.close()
                self._metadata_file = None
            for position in range(len(self._arrays)):
                self._trim(position)
            self._write_manifest()
            # Release the mappings (Windows cannot delete mapped files); read_frame
            # reopens them read-only.
            self._arrays = []
