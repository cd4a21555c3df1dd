"""Engines that write the pixels through another library.

Each adapter keeps what makes the output ours in the C++ core: the settings are
validated, frames routed and every metadata document (the groups' zarr.json with
their OME attributes and frame metadata, the OME-XML) rendered by
`ome_writers._core.OutputPlan`, exactly as the native engine does. The library
named by the backend does the array I/O: tensorstore (which also reaches object
storage), zarr-python, zarr-python with zarrs' codec pipeline, acquire-zarr, and
tifffile. The libraries are imported only when their engine is created.

What the adapters do not have (the native engine's alone): the bounded queue and
writer threads (an append returns when the library has the frame), periodic
checkpoints (documents are written at `flush()` and `close()`), and `copy=False`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ._backends import Engine, check_metadata_update, tiff_metadata_documents

if TYPE_CHECKING:
    from ._schema import AcquisitionSettings

__all__ = ["ADAPTERS", "is_url"]

# Futures tensorstore may have in flight before an append waits for the oldest.
_MAX_PENDING_WRITES = 64


def is_url(path: str) -> bool:
    """True for 'scheme://...' (a one-letter scheme is a Windows drive)."""
    scheme, sep, _ = path.partition("://")
    return bool(sep) and len(scheme) >= 2 and scheme[0].isalpha() and scheme.isascii()


def _write_file_atomic(path: Path, data: bytes) -> None:
    """Replace `path` whole: a reader sees the old document or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _prepare_local_store(root: Path, overwrite: bool) -> None:
    """The native engine's rules for an existing output: refuse, or replace a Zarr group."""
    if not os.path.lexists(root):
        return
    if not overwrite:
        raise FileExistsError(f"File '{root}' already exists. Use overwrite=True to replace it.")
    if root.is_dir() and not root.is_symlink():
        if not (root / "zarr.json").exists() and any(root.iterdir()):
            raise FileExistsError(
                f"'{root}' exists, but is not a Zarr group. Refusing to overwrite. "
                "Please delete manually."
            )
        shutil.rmtree(root)
    else:
        root.unlink()


class _AdapterEngine(Engine):
    """Routing, validation and documents from the C++ plan; pixels by `_write`."""

    #: pip extra and import names are in `_backends.BACKENDS[name]`.
    name = "adapter"

    def __init__(self, settings: AcquisitionSettings, options: dict[str, Any]) -> None:
        from . import _core

        native_only = sorted(options)
        if native_only:
            raise ValueError(
                f"create_stream options {native_only} tune the native engine; backend "
                f"{self.name!r} does not take them (use backend='native' or leave them out)"
            )
        if settings.pyramid is not None:
            # The levels are computed by the native engine's writer (docs/pyramids.md).
            raise NotImplementedError(
                "pyramid (multiscale levels) is written by the native engine only; use "
                "backend='native' or 'auto'"
            )
        self._settings = settings
        self._dtype = np.dtype(settings.dtype)
        self._frame_shape = tuple(int(d.count or 0) for d in settings.dimensions[-2:])
        self._plan = _core.OutputPlan(settings.model_dump_json())
        self._output = settings.output_path
        self._frames = 0
        self._closed = False
        self._bytes = 0

    # Subclasses write the pixels.
    def _write(self, position: int, index: tuple[int, ...], frame: np.ndarray) -> None:
        raise NotImplementedError

    def _skip(self, position: int, index: tuple[int, ...]) -> None:
        """A frame without data: nothing to write where missing data reads as zeros."""

    def _store(
        self,
        position: int,
        index: tuple[int, ...],
        frame: np.ndarray | None,
        metadata_json: str | None,
    ) -> None:
        """Writes a frame (None: a skipped one), then records it in the plan."""
        if frame is None:
            self._skip(position, index)
        else:
            self._write(position, index, frame)
        self._plan.record(position, list(index), metadata_json, skipped=frame is None)

    def append(self, frame: np.ndarray, metadata_json: str | None) -> float | None:
        position, index = self.locate(self._frames)
        self._store(position, index, frame, metadata_json)
        self._frames += 1
        self._bytes += frame.nbytes
        return None

    def skip(self, frames: int) -> None:
        total = self._plan.total_frames
        if total is not None and self._frames + frames > total:
            raise IndexError(
                f"Cannot skip {frames} frames: would exceed total of {total} frames "
                f"({self._frames} appended)."
            )
        for _ in range(frames):
            position, index = self.locate(self._frames)
            self._store(position, index, None, None)
            self._frames += 1

    def locate(self, frame_number: int) -> tuple[int, tuple[int, ...]]:
        total = self._plan.total_frames
        if total is not None and frame_number >= total:
            raise IndexError(
                f"Cannot append frame: would exceed total of {total} frames. "
                "Check your AcquisitionSettings.dimensions."
            )
        position, index = self._plan.locate(frame_number)
        return int(position), tuple(int(i) for i in index)

    def stats(self) -> dict[str, float]:
        return {"frames_appended": float(self._frames), "bytes_appended": float(self._bytes)}

    def set_global_metadata(self, namespace: str, metadata_json: str) -> None:
        self._plan.set_global_metadata(namespace, metadata_json)
        self._write_documents()

    def _write_documents(self) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------- OME-Zarr


class _ZarrAdapter(_AdapterEngine):
    """OME-Zarr: one array "<image group>/0" per position, groups from the plan."""

    def __init__(self, settings: AcquisitionSettings, options: dict[str, Any]) -> None:
        super().__init__(settings, options)
        kvstore = getattr(settings.format, "kvstore", None)
        if kvstore is not None and self.name != "tensorstore":
            raise ValueError(
                f"format.kvstore is a tensorstore kvstore spec; backend {self.name!r} "
                "cannot use it (choose backend='tensorstore')"
            )
        if is_url(self._output) and not self._takes_urls():
            raise ValueError(
                f"root_path {settings.root_path!r} is a URL; backend {self.name!r} writes "
                "local files only. Object storage is written with backend='tensorstore' "
                "(pip install 'ome-writers[tensorstore]')."
            )
        self._shapes = [list(self._plan.declared_shape) for _ in range(self._plan.positions)]
        self._array_paths = [
            "/".join(p for p in (self._plan.zarr_image_group(i), "0") if p)
            for i in range(self._plan.positions)
        ]
        self._documents: dict[str, Any] = json.loads(
            self._plan.zarr_array_document(self._shapes[0])
        )

    @classmethod
    def _takes_urls(cls) -> bool:
        return False

    # The array's zarr.json as the native engine writes it, as a dict.
    def _array_document(self, shape: list[int]) -> dict[str, Any]:
        return json.loads(self._plan.zarr_array_document(shape))

    def _codec_parts(self) -> tuple[list[int], list[int] | None, list[dict[str, Any]]]:
        """(chunk shape, shard shape or None, compressors) of the native document."""
        doc = self._documents
        codecs = doc["codecs"]
        outer = list(doc["chunk_grid"]["configuration"]["chunk_shape"])
        if codecs[0]["name"] == "sharding_indexed":
            inner = codecs[0]["configuration"]
            return list(inner["chunk_shape"]), outer, list(inner["codecs"][1:])
        return outer, None, list(codecs[1:])

    def _grow(self, position: int, index: tuple[int, ...]) -> None:
        shape = self._shapes[position]
        declared = self._plan.declared_shape
        grown = False
        for axis, i in enumerate(index):
            if declared[axis] == 0 and i >= shape[axis]:
                shape[axis] = i + 1
                grown = True
        if grown:
            self._resize(position, shape)

    def _resize(self, position: int, shape: list[int]) -> None:
        raise NotImplementedError

    def _store(
        self,
        position: int,
        index: tuple[int, ...],
        frame: np.ndarray | None,
        metadata_json: str | None,
    ) -> None:
        self._grow(position, index)  # skipped frames extend the shape too
        super()._store(position, index, frame, metadata_json)

    def current_shape(self, position: int) -> tuple[int, ...]:
        return tuple(self._shapes[position])

    def _put(self, key: str, data: bytes) -> None:
        """Store one document at `key` (relative to the root)."""
        _write_file_atomic(Path(self._output) / key, data)

    def _write_documents(self) -> None:
        for group, text in self._plan.zarr_group_documents().items():
            self._put(f"{group}/zarr.json" if group else "zarr.json", text.encode())
        xml = self._plan.zarr_ome_xml()
        if xml is not None:
            self._put("OME/METADATA.ome.xml", xml.encode())

    def get_metadata(self) -> Any:
        return json.loads(self._plan.metadata_json())

    def update_metadata(self, metadata: Any) -> None:
        check_metadata_update(json.loads(self._plan.metadata_json()), metadata)
        self._plan.update_metadata_json(json.dumps(metadata))
        self._write_documents()


class TensorstoreEngine(_ZarrAdapter):
    """tensorstore's zarr3 driver (sharding included), on any of its kvstores."""

    name = "tensorstore"

    def __init__(self, settings: AcquisitionSettings, options: dict[str, Any]) -> None:
        import tensorstore as ts

        super().__init__(settings, options)
        self._ts = ts
        self._base = self._kvstore_spec(settings)
        self._kv = ts.KvStore.open(self._base).result()
        self._prepare(settings.overwrite)
        self._pending: list[Any] = []
        self._capacity: dict[int, list[int]] = {}
        self._arrays = [
            self._open_array(path, self._shapes[i]) for i, path in enumerate(self._array_paths)
        ]
        self._write_documents()

    @classmethod
    def _takes_urls(cls) -> bool:
        return True

    def _kvstore_spec(self, settings: AcquisitionSettings) -> dict[str, Any]:
        explicit = getattr(settings.format, "kvstore", None)
        if explicit is not None:
            return dict(explicit)
        if not is_url(self._output):
            return {"driver": "file", "path": str(Path(self._output).absolute()) + "/"}
        spec: dict[str, Any] = self._ts.KvStore.Spec(self._output.rstrip("/") + "/").to_json()
        if spec.get("driver") == "s3":
            # The standard AWS variables; credentials are read by tensorstore itself
            # (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
            if endpoint := os.environ.get("AWS_ENDPOINT_URL"):
                spec["endpoint"] = endpoint
            if region := os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"):
                spec["aws_region"] = region
        return spec

    def _key_spec(self, key: str) -> dict[str, Any]:
        spec = dict(self._base)
        spec["path"] = spec.get("path", "") + key
        return spec

    def _prepare(self, overwrite: bool) -> None:
        explicit = getattr(self._settings.format, "kvstore", None) is not None
        where = "format.kvstore" if explicit else self._output
        if explicit or is_url(self._output):
            existing = self._kv.list().result()
            if not existing:
                return
            if not overwrite:
                raise FileExistsError(
                    f"File '{where}' already exists. Use overwrite=True to replace it."
                )
            if b"zarr.json" not in existing:
                raise FileExistsError(
                    f"'{where}' exists, but is not a Zarr group. Refusing to overwrite. "
                    "Please delete manually."
                )
            self._kv.delete_range(self._ts.KvStore.KeyRange()).result()
            return
        _prepare_local_store(Path(self._output), overwrite)

    def _open_array(self, path: str, shape: list[int]) -> Any:
        doc = self._array_document(shape)
        metadata = {k: v for k, v in doc.items() if k not in ("node_type", "attributes")}
        spec = {
            "driver": "zarr3",
            "kvstore": self._key_spec(path + "/"),
            "metadata": metadata,
            "create": True,
            "delete_existing": True,
        }
        return self._ts.open(spec).result()

    def _resize(self, position: int, shape: list[int]) -> None:
        # The stored extent grows by doubling (a resize waits for every write in
        # flight); close() trims it to the frames written.
        capacity = self._capacity.setdefault(position, list(self._plan.declared_shape))
        if all(s <= c for s, c in zip(shape, capacity, strict=True)):
            return
        capacity[:] = [
            max(s, 2 * c if d == 0 else c, 1) if s > c else c
            for s, c, d in zip(shape, capacity, self._plan.declared_shape, strict=True)
        ]
        self._wait_pending(0)
        self._arrays[position] = (
            self._arrays[position].resize(exclusive_max=capacity, expand_only=True).result()
        )

    def _trim(self) -> None:
        for position, capacity in self._capacity.items():
            if capacity != self._shapes[position]:
                self._arrays[position] = (
                    self._arrays[position]
                    .resize(exclusive_max=self._shapes[position], shrink_only=True)
                    .result()
                )
                capacity[:] = self._shapes[position]

    def _write(self, position: int, index: tuple[int, ...], frame: np.ndarray) -> None:
        future = self._arrays[position][index].write(frame)
        # The frame belongs to the caller once append returns: wait for the copy.
        future.copy.result()
        self._pending.append(future)
        if len(self._pending) > _MAX_PENDING_WRITES:
            self._wait_pending(_MAX_PENDING_WRITES // 2)

    def _wait_pending(self, keep: int) -> None:
        while len(self._pending) > keep:
            self._pending.pop(0).result()

    def _put(self, key: str, data: bytes) -> None:
        self._kv.write(key, data).result()

    def read_frame(self, position: int, storage_index: tuple[int, ...]) -> np.ndarray | None:
        self._wait_pending(0)
        return np.asarray(self._arrays[position][storage_index].read().result())

    def flush(self) -> None:
        self._wait_pending(0)
        self._write_documents()

    def close(self) -> None:
        if self._closed:
            return
        self._wait_pending(0)
        self._trim()
        self._write_documents()
        self._closed = True


class ZarrPythonEngine(_ZarrAdapter):
    """zarr-python (>= 3) arrays on a local store."""

    name = "zarr-python"

    def __init__(self, settings: AcquisitionSettings, options: dict[str, Any]) -> None:
        import zarr

        super().__init__(settings, options)
        self._zarr = zarr
        _prepare_local_store(Path(self._output), settings.overwrite)
        chunks, shards, compressors = self._codec_parts()
        doc = self._documents
        fill = doc["fill_value"]
        if isinstance(fill, list):  # Zarr v3 writes a complex fill value as [real, imag]
            fill = complex(*fill)
        with self._pipeline():
            self._arrays = [
                zarr.create_array(
                    store=self._output,
                    name=path,
                    shape=tuple(self._shapes[i]),
                    dtype=self._dtype,
                    chunks=tuple(chunks),
                    shards=tuple(shards) if shards is not None else None,
                    compressors=compressors or None,
                    fill_value=fill,
                    dimension_names=doc["dimension_names"],
                    zarr_format=3,
                    overwrite=True,
                )
                for i, path in enumerate(self._array_paths)
            ]
        self._write_documents()

    @contextlib.contextmanager
    def _pipeline(self) -> Iterator[None]:
        """The codec pipeline arrays are created and written with (zarr's own)."""
        yield

    def _resize(self, position: int, shape: list[int]) -> None:
        with self._pipeline():
            self._arrays[position].resize(tuple(shape))

    def _write(self, position: int, index: tuple[int, ...], frame: np.ndarray) -> None:
        with self._pipeline():
            self._arrays[position][index] = frame

    def read_frame(self, position: int, storage_index: tuple[int, ...]) -> np.ndarray | None:
        with self._pipeline():
            return np.asarray(self._arrays[position][storage_index])

    def flush(self) -> None:
        self._write_documents()

    def close(self) -> None:
        if not self._closed:
            self._write_documents()
            self._closed = True


class ZarrsPythonEngine(ZarrPythonEngine):
    """zarr-python with the zarrs (Rust) codec pipeline doing the chunk I/O."""

    name = "zarrs-python"

    @contextlib.contextmanager
    def _pipeline(self) -> Iterator[None]:
        import zarr

        with zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"}):
            yield


class AcquireZarrEngine(_ZarrAdapter):
    """acquire-zarr's streaming writer: frames in acquisition order, one array per position."""

    name = "acquire-zarr"
    accepts_flat_frames = True

    _DTYPES: ClassVar[dict[str, str]] = {
        "uint8": "UINT8",
        "uint16": "UINT16",
        "uint32": "UINT32",
        "uint64": "UINT64",
        "int8": "INT8",
        "int16": "INT16",
        "int32": "INT32",
        "int64": "INT64",
        "float32": "FLOAT32",
        "float64": "FLOAT64",
    }

    def __init__(self, settings: AcquisitionSettings, options: dict[str, Any]) -> None:
        import acquire_zarr as az

        super().__init__(settings, options)
        _prepare_local_store(Path(self._output), settings.overwrite)
        chunks, shards, compressors = self._codec_parts()
        stored = list(self._plan.dimension_names)
        # Frames reach acquire-zarr in acquisition order; it stores them in ours
        # (storage_dimension_order), within the reorderings it can do.
        acquired = [d.name for d in settings.dimensions if d.type != "position"]
        if acquired[0] != stored[0] or acquired[-2:] != stored[-2:]:
            raise NotImplementedError(
                f"acquire-zarr cannot store acquisition order {acquired} as {stored}: it keeps "
                "the first and the last two dimensions in place (use another backend)"
            )
        dtype_name = self._DTYPES.get(self._dtype.name)
        if dtype_name is None:
            raise NotImplementedError(f"acquire-zarr cannot store dtype {self._dtype.name!r}")
        dims = []
        for name in acquired:
            axis = stored.index(name)
            dims.append(
                az.Dimension(
                    name=name,
                    kind=self._kind(az, name),
                    array_size_px=self._plan.declared_shape[axis],
                    chunk_size_px=chunks[axis],
                    shard_size_chunks=1 if shards is None else shards[axis] // chunks[axis],
                )
            )
        arrays = []
        for path in self._array_paths:
            array = az.ArraySettings(
                output_key=path, dimensions=dims, data_type=getattr(az.DataType, dtype_name)
            )
            if acquired != stored:
                array.storage_dimension_order = stored
            if compressors:
                array.compression = self._compression(az, compressors)
            arrays.append(array)
        self._az_settings = az.StreamSettings(
            store_path=self._output, arrays=arrays, version=az.ZarrVersion.V3, overwrite=True
        )
        self._stream = az.ZarrStream(self._az_settings)
        self._flat_pending = 0  # bytes of a frame begun by a flat buffer

    @staticmethod
    def _kind(az: Any, name: str) -> Any:
        lowered = name.lower()
        if lowered in ("y", "x"):
            return az.DimensionType.SPACE
        if lowered == "z":
            return az.DimensionType.SPACE
        if lowered == "c":
            return az.DimensionType.CHANNEL
        if lowered == "t":
            return az.DimensionType.TIME
        return az.DimensionType.OTHER

    @staticmethod
    def _compression(az: Any, compressors: list[dict[str, Any]]) -> Any:
        codec = compressors[0]
        if codec["name"] != "blosc":
            raise NotImplementedError(
                f"acquire-zarr compresses with blosc only, not {codec['name']!r} "
                "(use compression='blosc-zstd' or 'blosc-lz4', or another backend)"
            )
        config = codec["configuration"]
        cname = {"zstd": "BLOSC_ZSTD", "lz4": "BLOSC_LZ4"}[config["cname"]]
        shuffle = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[config["shuffle"]]
        return az.CompressionSettings(
            compressor=az.Compressor.BLOSC1,
            codec=getattr(az.CompressionCodec, cname),
            level=int(config["clevel"]),
            shuffle=shuffle,
        )

    def _resize(self, position: int, shape: list[int]) -> None:
        # acquire-zarr grows the append dimension itself.
        pass

    def _write(self, position: int, index: tuple[int, ...], frame: np.ndarray) -> None:
        self._stream.append(frame, key=self._array_paths[position])

    def _skip(self, position: int, index: tuple[int, ...]) -> None:
        if len(self._array_paths) == 1:
            self._stream.skip(int(np.prod(self._frame_shape)) * self._dtype.itemsize)
            return
        # (acquire-zarr's skip has no array key: several arrays get a blank frame.)
        blank = np.zeros(self._frame_shape, dtype=self._dtype)
        self._stream.append(blank, key=self._array_paths[position])

    def append_flat(self, data: np.ndarray, metadata_json: str | None) -> int:
        """A 1-D buffer of any length (as acquire-zarr takes): returns frames completed.

        The metadata belongs to the frame the buffer starts in. The buffer must not
        run across positions.
        """
        frame_bytes = int(np.prod(self._frame_shape)) * self._dtype.itemsize
        start = self._frames
        position, index = self.locate(start)
        end_bytes = self._flat_pending + data.nbytes
        completed = end_bytes // frame_bytes
        if completed:
            last = start + completed - (0 if end_bytes % frame_bytes else 1)
            if self._plan.locate(last)[0] != position:
                raise ValueError(
                    "a flat buffer must not run across positions: give each position's "
                    "frames in their own append"
                )
            self.locate(start + completed - 1)  # IndexError past the declared total
        self._grow(position, index)
        self._stream.append(data, key=self._array_paths[position])
        for k in range(completed):
            where = self._plan.locate(start + k)
            self._grow(int(where[0]), tuple(int(i) for i in where[1]))
            self._plan.record(where[0], list(where[1]), metadata_json if k == 0 else None)
        self._frames += completed
        self._bytes += data.nbytes
        self._flat_pending = end_bytes % frame_bytes
        return int(completed)

    def read_frame(self, position: int, storage_index: tuple[int, ...]) -> np.ndarray | None:
        return None  # acquire-zarr holds chunks until they fill: nothing to read yet

    def flush(self) -> None:
        self._write_documents()

    def close(self) -> None:
        if self._closed:
            return
        self._stream.close()
        self._closed = True
        # acquire-zarr writes its own group metadata at close: ours replaces it.
        self._write_documents()


# --------------------------------------------------------------------- OME-TIFF


class TifffileEngine(_AdapterEngine):
    """tifffile's TiffWriter: one BigTIFF page per plane; OME-XML from the plan."""

    name = "tifffile"

    _COMPRESSION: ClassVar[dict[str, str | None]] = {
        "none": None,
        "lzw": "lzw",
        "deflate": "adobe_deflate",
        "zstd": "zstd",
    }

    def __init__(self, settings: AcquisitionSettings, options: dict[str, Any]) -> None:
        import tifffile

        super().__init__(settings, options)
        if is_url(self._output):
            raise ValueError(
                f"root_path {settings.root_path!r} is a URL; backend 'tifffile' writes local "
                "files only"
            )
        self._tifffile = tifffile
        names = list(self._plan.tiff_file_names())
        # One file at the output path, or one per position in the output directory.
        self._multi = not (len(names) == 1 and names[0] == Path(self._output).name)
        self._dir = Path(self._output) if self._multi else Path(self._output).parent
        self._paths = [self._dir / n for n in names] if self._multi else [Path(self._output)]
        companion = self._plan.tiff_companion_name()
        self._companion = self._dir / companion if companion else None
        self._prepare(settings.overwrite)
        self._writers: list[Any] = [None] * len(self._paths)
        compression = str(getattr(settings, "compression", None) or "none")
        self._compression = self._COMPRESSION[compression]
        self._file_of = [0 if len(self._paths) == 1 else p for p in range(self._plan.positions)]
        # (position, storage index) -> (file, page): what live view reads.
        self._pages: dict[tuple[int, tuple[int, ...]], tuple[int, int]] = {}
        self._page_count = [0] * len(self._paths)
        self._current: tuple[int, tuple[int, ...]] = (0, ())

    def _prepare(self, overwrite: bool) -> None:
        targets = [*self._paths, *([self._companion] if self._companion else [])]
        for t in targets:
            if os.path.lexists(t):
                if not overwrite:
                    raise FileExistsError(
                        f"File '{t}' already exists. Use overwrite=True to replace it."
                    )
                if t.is_dir():
                    raise FileExistsError(f"'{t}' is a directory. Refusing to overwrite.")
        for t in targets:
            if os.path.lexists(t):
                t.unlink()
        self._dir.mkdir(parents=True, exist_ok=True)

    def _page(self, position: int, index: tuple[int, ...], frame: np.ndarray) -> None:
        file = self._file_of[position]
        self._current = (position, index)
        writer = self._writers[file]
        description = None
        if writer is None:
            writer = self._tifffile.TiffWriter(self._paths[file], bigtiff=True)
            self._writers[file] = writer
            # Placeholder until close: the OME-XML there describes every plane.
            description = self._plan.tiff_ome_xml(file, False).encode()  # UTF-8, as OME allows
        self._pages[self._current] = (file, self._page_count[file])
        self._page_count[file] += 1
        writer.write(
            frame,
            photometric="minisblack",
            compression=self._compression,
            description=description,
            metadata=None,
            software=False,
            # One series per page: tifffile's contiguous mode merges the pages of a
            # file into one series, which the OME-XML (planes of several images in
            # one file, blank pages) does not describe.
            contiguous=False,
        )

    def _write(self, position: int, index: tuple[int, ...], frame: np.ndarray) -> None:
        self._page(position, index, frame)

    def _skip(self, position: int, index: tuple[int, ...]) -> None:
        self._page(position, index, np.zeros(self._frame_shape, dtype=self._dtype))

    def _store(
        self,
        position: int,
        index: tuple[int, ...],
        frame: np.ndarray | None,
        metadata_json: str | None,
    ) -> None:
        # Recorded first: the first page's description counts its own plane.
        self._plan.record(position, list(index), metadata_json, skipped=frame is None)
        if frame is None:
            self._skip(position, index)
        else:
            self._write(position, index, frame)

    def _write_documents(self) -> None:
        if not self._closed:
            return  # the documents go into the files at close
        for file, path in enumerate(self._paths):
            if path.exists():
                self._tifffile.tiffcomment(path, self._plan.tiff_ome_xml(file, True).encode())
        if self._companion is not None:
            _write_file_atomic(self._companion, self._plan.tiff_companion_xml(True).encode())

    def flush(self) -> None:
        for writer in self._writers:
            if writer is not None:
                writer._fh.flush()

    def read_frame(self, position: int, storage_index: tuple[int, ...]) -> np.ndarray | None:
        where = self._pages.get((position, tuple(storage_index)))
        if where is None:
            return None
        file, page = where
        self.flush()
        with self._tifffile.TiffFile(self._paths[file]) as tif:
            return np.asarray(tif.pages[page].asarray())

    def close(self) -> None:
        if self._closed:
            return
        blank = np.zeros(self._frame_shape, dtype=self._dtype)
        for position in self._plan.finish_tiff():
            self._page(int(position), (), blank)
        for writer in self._writers:
            if writer is not None:
                writer.close()
        self._closed = True
        self._write_documents()

    def get_metadata(self) -> Any:
        from ome_types import from_xml

        docs = json.loads(self._plan.metadata_json(self._closed))
        return {int(k): from_xml(xml) for k, xml in docs.items()}

    def update_metadata(self, metadata: Any) -> None:
        if not self._closed:
            raise RuntimeError(
                "update_metadata() must be called after the stream context exits: "
                "OME-TIFF metadata can only be updated after the stream is closed."
            )
        indices = list(range(len(self._paths))) + ([-1] if self._companion else [])
        for key, xml in tiff_metadata_documents(metadata, indices).items():
            if key == -1 and self._companion is not None:
                _write_file_atomic(self._companion, xml.encode())
            else:
                self._tifffile.tiffcomment(self._paths[key], xml.encode())


ADAPTERS: dict[str, type[_AdapterEngine]] = {
    "tensorstore": TensorstoreEngine,
    "zarr-python": ZarrPythonEngine,
    "zarrs-python": ZarrsPythonEngine,
    "acquire-zarr": AcquireZarrEngine,
    "tifffile": TifffileEngine,
}
