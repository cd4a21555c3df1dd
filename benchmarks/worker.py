"""One benchmark run: stream one case through one engine and measure it.

Standalone on purpose: it imports only the standard library, numpy and the library of the
engine it drives, so `run.py` can start it with each peer's own interpreter (one virtual
environment per peer) and every run gets a fresh process whose memory is its own.

    python worker.py JOB.json RESULT.json

JOB.json (written by run.py) names the case (dimensions, dtype, frame count, content),
the engine, the output format, the compression and the output directory. RESULT.json
receives the measurements and the list of outputs that `verify.py` checks afterwards.

What is measured (all inside this process):

* wall time from the first `append`/`write` call to the end of `close` ("to close"), and to
  the end of a `syncfs()` of the output's file system after close ("durable": every engine's
  files are then on stable storage; one syncfs rather than an fsync per file, which on ext4
  costs a disk-cache flush per file even when the file is already clean and would make a
  2000-chunk store pay ~0.3 s of the harness's own flushes);
* CPU seconds (user + system, all threads) from the first append to the end of close;
* the duration of every append call (`time.perf_counter_ns` around the call only), as
  percentiles over all calls and over the first `room_bytes` worth of frames (the calls
  made while a writer with a budget of twice that still has room in its queue);
* the page faults the appending thread took during the first 100 appends (getrusage
  RUSAGE_THREAD, read before the first and after the 100th);
* peak RSS growth: VmHWM at the end minus VmRSS just before the engine is created (VmHWM is reset
  through /proc/self/clear_refs first when the kernel allows it);
* the time of one `np.copyto` of a frame between hot buffers (the memcpy reference for
  append latency), and into a buffer that is not in the cache (the copy a writer that
  queues frames makes: `np.copyto` into the next of `room_bytes` of pre-faulted buffers),
  and the percentiles of bare `np.copyto`s of the run's own first `room_bytes` of frames,
  in order, into such buffers (the copy itself, with the sources as cold as the appends
  find them).

Frames are generated before timing: a few distinct base frames (uncorrelated or smooth
content), copied into as many unique buffers as `pool_bytes` allows; frame i uses buffer
i % nbuf and carries i in its first 8 bytes (little-endian uint64), stamped just before
its append. A buffer is reused only when the case is larger than the pool; run.py sizes
the pool so that every peer case gets one buffer per frame (so peers that keep a
reference to the caller's array are not punished for it), and only the MEM case (our
engine, which copies on append) reuses buffers.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import resource
import sys
import time
import traceback
import zlib
from typing import Any

import numpy as np

STAMP_BYTES = 8

# --------------------------------------------------------------------------- case layout


def resolved_counts(case: dict[str, Any]) -> list[int]:
    """Counts of the non-frame dimensions in acquisition order (unbounded first resolved)."""
    index_dims = case["dims"][:-2]
    counts = [d["count"] for d in index_dims]
    if counts and counts[0] is None:
        rest = int(np.prod(counts[1:], dtype=np.int64)) if counts[1:] else 1
        counts[0] = case["frames"] // rest
    return [int(c) for c in counts]


def frame_bytes(case: dict[str, Any]) -> int:
    """Bytes of one frame."""
    height, width = (int(d["count"]) for d in case["dims"][-2:])
    return height * width * np.dtype(case["dtype"]).itemsize


# madvise() advice that has the kernel allocate and zero pages now (Linux >= 5.14).
MADV_POPULATE_WRITE = 23


def fresh_bytes(job: dict[str, Any], unit: int) -> int:
    """Fresh memory a copying append's queue fills once: our memory budget (the default
    when the job sets none), or the whole stream if smaller, in whole `unit`s."""
    budget = job.get("max_memory_bytes") or job["room_bytes"] * 2
    want = min(budget, job["case"]["frames"] * frame_bytes(job["case"]))
    return max(unit, (want + unit - 1) // unit * unit)


def frame_layout(case: dict[str, Any]) -> dict[str, Any]:
    """Where each acquired frame goes: position index, index within that position's array.

    Positions are a meta-dimension (one array or file per position, as in ome-writers);
    removing the position axis from a C-order sweep leaves every position's frames in C
    order of the remaining dimensions, so the k-th frame of position p is its k-th plane.
    """
    index_dims = case["dims"][:-2]
    counts = resolved_counts(case)
    frames = case["frames"]
    if int(np.prod(counts, dtype=np.int64)) != frames:
        raise ValueError(f"case {case['name']}: dimension counts do not give {frames} frames")
    coords = np.unravel_index(np.arange(frames, dtype=np.int64), counts)
    pos_axis = next((k for k, d in enumerate(index_dims) if d.get("type") == "position"), None)
    array_axes = [k for k in range(len(index_dims)) if k != pos_axis]
    array_counts = [counts[k] for k in array_axes]
    if pos_axis is None:
        position = np.zeros(frames, np.int64)
        npos = 1
    else:
        position = coords[pos_axis].astype(np.int64)
        npos = counts[pos_axis]
    if array_axes:
        local = np.ravel_multi_index([coords[k] for k in array_axes], array_counts)
    else:
        local = np.zeros(frames, np.int64)
    return {
        "npos": npos,
        "position": position,
        "local": np.asarray(local, np.int64),
        "array_counts": array_counts,
        "array_dims": [index_dims[k] for k in array_axes],
        "frame_shape": tuple(int(d["count"]) for d in case["dims"][-2:]),
    }


def _hash_u32(y: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """A cheap deterministic per-pixel hash (no RNG, so every numpy version agrees)."""
    h = (x * np.uint32(2654435761) + y * np.uint32(40503) + np.uint32(k * 97531 + 1)).astype(
        np.uint32
    )
    h ^= h >> np.uint32(15)
    h *= np.uint32(0x2C1B3C6D)
    h ^= h >> np.uint32(12)
    h *= np.uint32(0x297A2D39)
    h ^= h >> np.uint32(15)
    return h


def base_frame(shape: tuple[int, int], dtype: str, content: str, k: int) -> np.ndarray:
    """The k-th distinct base frame: uncorrelated ('random') or fluorescence-like ('smooth')."""
    height, width = shape
    y = np.arange(height, dtype=np.uint32)[:, None]
    x = np.arange(width, dtype=np.uint32)[None, :]
    h = _hash_u32(y, x, k)
    dt = np.dtype(dtype)
    if content == "random":
        shift = 32 - 8 * dt.itemsize
        return (h >> np.uint32(shift)).astype(dt)
    # Smooth: background + slow gradient + a few blurred spots, plus a little noise.
    maxval = float(np.iinfo(dt).max)
    scale = maxval / 65535.0
    fy = y.astype(np.float32) / max(height - 1, 1)
    fx = x.astype(np.float32) / max(width - 1, 1)
    img = 100.0 + 400.0 * (0.6 * fx + 0.4 * fy) + 50.0 * np.sin(6.0 * fx + 0.3 * k)
    for s in range(6):
        cy = ((s * 37 + k * 11) % 97) / 97.0
        cx = ((s * 53 + k * 7) % 89) / 89.0
        sigma = 0.02 + 0.01 * (s % 3)
        img = img + 3000.0 * np.exp(-((fy - cy) ** 2 + (fx - cx) ** 2) / (2 * sigma * sigma))
    noise = (h >> np.uint32(28)).astype(np.float32) - 7.5  # ±8 counts
    img = (img + noise) * scale
    return np.clip(img, 0, maxval).astype(dt)


def content_crc(frame: np.ndarray) -> int:
    """CRC-32 of a frame's bytes after the stamp (the part that never changes)."""
    return zlib.crc32(memoryview(np.ascontiguousarray(frame)).cast("B")[STAMP_BYTES:])


def read_stamp(frame: np.ndarray) -> int:
    """The frame number stamped into the first 8 bytes."""
    raw = np.ascontiguousarray(frame).reshape(-1).view(np.uint8)[:STAMP_BYTES]
    return int(raw.view("<u8")[0])


def frame_metadata(i: int) -> dict[str, Any]:
    """The 6-key per-frame metadata dict of the metadata case."""
    return {
        "delta_t": i * 0.01,
        "exposure_time": 0.01,
        "position_x": 100.0 + 0.5 * (i % 7),
        "position_y": -50.0 + 0.25 * (i % 5),
        "position_z": 12.5,
        "camera_temperature": 20.0 + 0.001 * i,
    }


# --------------------------------------------------------------------------- engines


def _positions(case: dict[str, Any]) -> list[str]:
    for d in case["dims"][:-2]:
        if d.get("type") == "position":
            return [f"p{k}" for k in range(d["count"])]
    return []


def _zarr_codecs(compression: str | None, itemsize: int) -> list[dict[str, Any]]:
    codecs: list[dict[str, Any]] = [{"name": "bytes", "configuration": {"endian": "little"}}]
    if compression == "blosc-zstd":
        codecs.append(
            {
                "name": "blosc",
                "configuration": {
                    "cname": "zstd",
                    "clevel": 3,
                    "shuffle": "shuffle",
                    "typesize": itemsize,
                    "blocksize": 0,
                },
            }
        )
    elif compression == "zstd":
        codecs.append({"name": "zstd", "configuration": {"level": 3, "checksum": False}})
    elif compression not in (None, "none"):
        raise ValueError(f"tensorstore: unsupported compression {compression!r}")
    return codecs


class Engine:
    """One way of writing a stream of frames; subclasses wrap one library."""

    # Imported before `open()` is timed: the create time is the library's, not Python's import.
    modules: tuple[str, ...] = ()

    def __init__(self, job: dict[str, Any], layout: dict[str, Any]) -> None:
        self.job = job
        self.case = job["case"]
        self.layout = layout
        self.out_dir = job["out_dir"]
        self.compression = job.get("compression")
        self.metadata: list[dict[str, Any]] = []

    def open(self) -> None:
        """Create the output (not timed as streaming)."""

    def write(self, i: int, frame: np.ndarray, meta: dict[str, Any] | None) -> None:
        """Hand frame i to the library."""
        raise NotImplementedError

    def close(self) -> None:
        """Finish writing (timed)."""

    def outputs(self) -> list[dict[str, Any]]:
        """What verify.py reads: one entry per position (kind, path, position)."""
        raise NotImplementedError

    def library_version(self) -> str:
        """Version of the library driven."""
        return ""

    def extra(self) -> dict[str, Any]:
        """Engine-specific numbers for the result (e.g. our engine's stats())."""
        return {}

    def _write_sidecar_metadata(self) -> None:
        if self.metadata:
            with open(os.path.join(self.out_dir, "frame_metadata.json"), "w") as f:
                json.dump(self.metadata, f)


class RawEngine(Engine):
    """`write()` of the frame bytes to one file: the disk's limit."""

    def open(self) -> None:
        self.path = os.path.join(self.out_dir, "frames.raw")
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def write(self, i: int, frame: np.ndarray, meta: dict[str, Any] | None) -> None:
        view = memoryview(frame).cast("B")
        done = 0
        while done < len(view):
            done += os.write(self.fd, view[done:])

    def close(self) -> None:
        os.close(self.fd)

    def outputs(self) -> list[dict[str, Any]]:
        return [{"kind": "raw", "path": self.path, "position": None}]


class RawDirectEngine(Engine):
    """The same bytes in aligned 8 MiB `O_DIRECT` writes to one file: the disk's own limit
    (no page cache), which every uncompressed row is divided by.

    Each frame is copied into an 8 MiB staging block (one memcpy, as a copying append
    makes) that is reused: its memory is hot after the first block."""

    BLOCK = 8 << 20

    def ring_bytes(self) -> int:
        """Bytes of staging memory the frames are copied through (a multiple of BLOCK)."""
        return self.BLOCK

    def open(self) -> None:
        import mmap

        self.path = os.path.join(self.out_dir, "frames.direct")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        try:
            self.fd = os.open(self.path, flags | getattr(os, "O_DIRECT", 0), 0o644)
        except OSError:  # no O_DIRECT on this file system
            self.fd = os.open(self.path, flags, 0o644)
        # Page aligned, as O_DIRECT needs; anonymous memory, first touched by the copies.
        self.ring = mmap.mmap(-1, self.ring_bytes())
        self.base = 0  # where the block being filled starts in the ring
        self.fill = 0
        self.total = 0

    def _write_block(self) -> None:
        padded = (self.fill + 4095) // 4096 * 4096
        start = self.base
        self.ring[start + self.fill : start + padded] = bytes(padded - self.fill)
        view = memoryview(self.ring)[start : start + padded]
        done = 0
        while done < padded:
            done += os.write(self.fd, view[done:])
        view.release()
        self.fill = 0
        self.base = (self.base + self.BLOCK) % len(self.ring)

    def write(self, i: int, frame: np.ndarray, meta: dict[str, Any] | None) -> None:
        data = memoryview(frame).cast("B")
        at = 0
        while at < len(data):
            k = min(len(data) - at, self.BLOCK - self.fill)
            start = self.base + self.fill
            self.ring[start : start + k] = data[at : at + k]
            self.fill += k
            at += k
            if self.fill == self.BLOCK:
                self._write_block()
        self.total += len(data)

    def close(self) -> None:
        if self.fill:
            self._write_block()
        os.ftruncate(self.fd, self.total)  # the padding of the last block
        os.close(self.fd)
        self.ring.close()

    def outputs(self) -> list[dict[str, Any]]:
        return [{"kind": "raw", "path": self.path, "position": None}]


class RawDirectFreshEngine(RawDirectEngine):
    """`RawDirectEngine` copying the frames through as much fresh memory as our default
    memory budget (or the whole stream, if smaller), as a copying append's queue slots are
    until the queue has once held the budget: the floor of a writer that must copy and
    buffer. The kernel zeroes every new page; a helper thread has it do so a few blocks
    ahead of the copies (`MADV_POPULATE_WRITE`), off the writing thread, as our pool does.
    """

    LEAD = 8  # blocks populated ahead of the one being filled

    def ring_bytes(self) -> int:
        return fresh_bytes(self.job, self.BLOCK)

    def open(self) -> None:
        import ctypes
        import threading

        super().open()
        self.filled = 0  # blocks handed to the disk so far
        self.cond = threading.Condition()
        self.stop = False
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        anchor = ctypes.c_char.from_buffer(self.ring)
        base = ctypes.addressof(anchor)
        del anchor  # no export may outlive the mapping's close()
        nblocks = len(self.ring) // self.BLOCK

        def populate() -> None:
            for k in range(nblocks):
                with self.cond:
                    self.cond.wait_for(lambda k=k: self.stop or k < self.filled + self.LEAD)
                    if self.stop:
                        return
                # ctypes releases the GIL: the writing thread goes on meanwhile.
                if libc.madvise(base + k * self.BLOCK, self.BLOCK, MADV_POPULATE_WRITE):
                    return  # an older kernel: the copies fault the pages in themselves

        self.helper = threading.Thread(target=populate, daemon=True)
        self.helper.start()

    def _write_block(self) -> None:
        super()._write_block()
        with self.cond:
            self.filled += 1
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self.stop = True
            self.cond.notify()
        self.helper.join()
        super().close()


class RawDirectFilesEngine(Engine):
    """Each frame to its own file with `O_DIRECT`, named like a Zarr v3 chunk key with one
    chunk per frame (`c/<i>/0/0`: two new directories and a file per frame), from a few
    threads: the disk's limit for the chunk-per-frame layout, no engine in between."""

    THREADS = 4

    def open(self) -> None:
        import mmap
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self.root = os.path.join(self.out_dir, "c")
        os.mkdir(self.root)
        self.nbytes = frame_bytes(self.case)
        self.padded = (self.nbytes + 4095) // 4096 * 4096
        self.local = threading.local()
        self.mmap = mmap
        self.pool = ThreadPoolExecutor(self.THREADS)
        self.slots = threading.BoundedSemaphore(4 * self.THREADS)  # frames in flight
        self.futures: list[Any] = []
        self.direct = getattr(os, "O_DIRECT", 0)

    def _one(self, i: int, frame: np.ndarray) -> None:
        try:
            d = os.path.join(self.root, str(i))
            os.mkdir(d)
            os.mkdir(os.path.join(d, "0"))
            src = memoryview(frame).cast("B")
            if frame.ctypes.data % 4096 or self.nbytes != self.padded:
                buf = getattr(self.local, "buf", None)
                if buf is None:  # O_DIRECT needs page-aligned memory and length
                    buf = self.local.buf = self.mmap.mmap(-1, self.padded)
                buf[: self.nbytes] = src
                src = memoryview(buf)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
            path = os.path.join(d, "0", "0")
            try:
                fd = os.open(path, flags | self.direct, 0o644)
            except OSError:  # no O_DIRECT on this file system
                fd = os.open(path, flags, 0o644)
            try:
                done = 0
                while done < self.padded:
                    done += os.write(fd, src[done : self.padded])
                if self.padded != self.nbytes:
                    os.ftruncate(fd, self.nbytes)
            finally:
                os.close(fd)
        finally:
            self.slots.release()

    def write(self, i: int, frame: np.ndarray, meta: dict[str, Any] | None) -> None:
        self.slots.acquire()
        self.futures.append(self.pool.submit(self._one, i, frame))

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for f in self.futures:
            f.result()

    def outputs(self) -> list[dict[str, Any]]:
        return [{"kind": "raw-files", "path": self.root, "position": None}]


class OmeWritersEngine(Engine):
    """ome-writers' `create_stream` (ours, or 0.3.2 from PyPI), Zarr or TIFF."""

    modules = ("ome_writers",)

    def open(self) -> None:
        import ome_writers as ow

        self.ow = ow
        fmt = self.job["format"]
        root = os.path.join(self.out_dir, "data.ome.zarr" if fmt == "zarr" else "data.ome.tiff")
        dims = []
        positions = _positions(self.case)
        for d in self.case["dims"]:
            kw: dict[str, Any] = {"name": d["name"], "count": d["count"]}
            dtype = d.get("type")
            if dtype == "position":
                kw["type"] = "position"
                kw["coords"] = positions
            else:
                if dtype:
                    kw["type"] = dtype
                if d.get("chunk"):
                    kw["chunk_size"] = d["chunk"]
                if d.get("shard"):
                    kw["shard_size_chunks"] = d["shard"]
            dims.append(ow.Dimension(**kw))
        if self.job["engine"].startswith("ours"):
            backend = "native"
        elif self.job["engine"].startswith("via-"):
            backend = self.job["engine"][len("via-") :]  # an engine behind our shim
        else:
            backend = "tensorstore" if fmt == "zarr" else "tifffile"
        name = "ome-zarr" if fmt == "zarr" else "ome-tiff"
        settings = ow.AcquisitionSettings(
            root_path=root,
            dimensions=dims,
            dtype=self.case["dtype"],
            compression=self.compression,
            format={"name": name, "backend": backend},
            overwrite=True,
        )
        options: dict[str, Any] = {}
        if self.job.get("max_memory_bytes") and backend == "native":
            options["max_memory_bytes"] = int(self.job["max_memory_bytes"])
        if self.job.get("writer_threads") and backend == "native":
            options["writer_threads"] = int(self.job["writer_threads"])
        if self.job.get("checkpoint_interval") is not None and backend == "native":
            options["checkpoint_interval"] = float(self.job["checkpoint_interval"])
        self.settings = settings
        self.stream = ow.create_stream(settings, **options)
        self.output_path = settings.output_path

    def write(self, i: int, frame: np.ndarray, meta: dict[str, Any] | None) -> None:
        if self.job["engine"] in ("ours-nocopy", "ours-baseline-nocopy"):
            self.stream.append(frame, frame_metadata=meta, copy=False)
        else:
            self.stream.append(frame, frame_metadata=meta)

    def close(self) -> None:
        self.stream.close()

    def outputs(self) -> list[dict[str, Any]]:
        positions = _positions(self.case)
        out = []
        if self.job["format"] == "zarr":
            if not positions:
                path = os.path.join(self.output_path, "0")
                return [{"kind": "zarr", "path": path, "position": 0}]
            for k, p in enumerate(positions):
                path = os.path.join(self.output_path, p, "0")
                out.append({"kind": "zarr", "path": path, "position": k})
            return out
        if not positions:
            return [{"kind": "tiff", "path": self.output_path, "position": 0}]
        stem = os.path.basename(self.output_path)
        for k in range(len(positions)):
            path = os.path.join(self.output_path, f"{stem}_p{k:03d}.ome.tiff")
            out.append({"kind": "tiff", "path": path, "position": k})
        return out

    def library_version(self) -> str:
        version = str(getattr(self.ow, "__version__", ""))
        # The compressors the build links (0.3.2, the baseline, has no _core).
        core = getattr(self.ow, "_core", None)
        if core is not None and hasattr(core, "dependency_versions"):
            libs = core.dependency_versions()
            codecs = ", ".join(f"{k} {libs[k]}" for k in ("zstd", "libdeflate", "blosc"))
            version += f" ({codecs})"
        return version

    def extra(self) -> dict[str, Any]:
        stats = getattr(self.stream, "stats", None)
        if callable(stats):
            try:
                return {"stats": dict(stats())}
            except Exception as e:  # a closed stream may refuse; the numbers are optional
                return {"stats_error": repr(e)}
        return {}


class TensorstoreEngine(Engine):
    """tensorstore's zarr3 driver, one write per frame (futures kept, or awaited each)."""

    modules = ("tensorstore",)

    def open(self) -> None:
        import tensorstore as ts

        self.ts = ts
        self.await_each = self.job["engine"] == "tensorstore-await"
        # What a caller that reuses its array at once must pass (tensorstore reads the
        # source until the write's `copy` future completes).
        self.copy_frames = self.job["engine"] == "tensorstore-ourparams-copied"
        layout = self.layout
        dims = layout["array_dims"] + self.case["dims"][-2:]
        counts = [*layout["array_counts"], *layout["frame_shape"]]
        self.unbounded = self.case["dims"][0]["count"] is None
        chunks = [int(d.get("chunk") or 1) for d in layout["array_dims"]]
        chunks += [int(d.get("chunk") or d["count"]) for d in self.case["dims"][-2:]]
        sharded = any(d.get("shard") for d in dims)
        itemsize = np.dtype(self.case["dtype"]).itemsize
        codecs = _zarr_codecs(self.compression, itemsize)
        if self.job.get("zarr_codec"):  # the codec our engine writes, with its parameters
            codecs = [codecs[0], self.job["zarr_codec"]]
        if sharded:
            shard = [c * int(d.get("shard") or 1) for c, d in zip(chunks, dims, strict=True)]
            grid = shard
            codecs = [
                {
                    "name": "sharding_indexed",
                    "configuration": {
                        "chunk_shape": chunks,
                        "codecs": codecs,
                        "index_codecs": [
                            {"name": "bytes", "configuration": {"endian": "little"}},
                            {"name": "crc32c"},
                        ],
                        "index_location": "end",
                    },
                }
            ]
        else:
            grid = chunks
        shape = list(counts)
        if self.unbounded:
            shape[0] = 1
        self.capacity = shape[0]
        self.counts = counts
        positions = _positions(self.case) or [None]
        self.paths = []
        self.stores = []
        for p in positions:
            path = (
                os.path.join(self.out_dir, "data.zarr", p)
                if p
                else os.path.join(self.out_dir, "data.zarr")
            )
            spec = {
                "driver": "zarr3",
                "kvstore": {"driver": "file", "path": path},
                "metadata": {
                    "shape": shape,
                    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": grid}},
                    "chunk_key_encoding": {"name": "default"},
                    "codecs": codecs,
                    "data_type": self.case["dtype"],
                    "dimension_names": [d["name"] for d in dims],
                    "fill_value": 0,
                },
                "create": True,
                "delete_existing": True,
            }
            self.stores.append(ts.open(spec).result())
            self.paths.append(path)
        self.futures: list[Any] = []
        coords = np.unravel_index(layout["local"], layout["array_counts"])
        self.index = [tuple(int(v) for v in c) for c in zip(*coords, strict=True)]

    def _grow(self, needed: int) -> None:
        new = max(needed, self.capacity * 2, 64)
        self.stores = [
            s.resize(exclusive_max=[new, *self.counts[1:]], expand_only=True).result()
            for s in self.stores
        ]
        self.capacity = new

    def write(self, i: int, frame: np.ndarray, meta: dict[str, Any] | None) -> None:
        idx = self.index[i]
        if self.unbounded and idx[0] >= self.capacity:
            self._grow(idx[0] + 1)
        store = self.stores[int(self.layout["position"][i])]
        fut = store[idx].write(frame.copy() if self.copy_frames else frame)
        if self.await_each:
            fut.result()
        else:
            self.futures.append(fut)
        if meta is not None:
            self.metadata.append(meta)

    def close(self) -> None:
        for fut in self.futures:
            fut.result()
        self.futures.clear()
        if self.unbounded and self.capacity != self.counts[0]:
            self.stores = [
                s.resize(exclusive_max=list(self.counts), shrink_only=True).result()
                for s in self.stores
            ]
        self._write_sidecar_metadata()

    def outputs(self) -> list[dict[str, Any]]:
        return [{"kind": "zarr", "path": p, "position": k} for k, p in enumerate(self.paths)]

    def library_version(self) -> str:
        from importlib.metadata import version

        return version("tensorstore")


class AcquireZarrEngine(Engine):
    """acquire-zarr 0.10 `ZarrStream` (always sharded; one chunk per shard unless asked)."""

    modules = ("acquire_zarr",)

    def open(self) -> None:
        import acquire_zarr as aqz

        self.aqz = aqz
        kinds = {
            "time": aqz.DimensionType.TIME,
            "channel": aqz.DimensionType.CHANNEL,
            "space": aqz.DimensionType.SPACE,
        }
        layout = self.layout
        dims = []
        n_index = len(layout["array_dims"])
        for k, d in enumerate(layout["array_dims"] + self.case["dims"][-2:]):
            chunk = int(d.get("chunk") or (d["count"] if k >= n_index else 1))
            dims.append(
                aqz.Dimension(
                    name=d["name"],
                    kind=kinds.get(d.get("type") or "", aqz.DimensionType.OTHER),
                    array_size_px=int(d["count"] or 0),
                    chunk_size_px=chunk,
                    shard_size_chunks=int(d.get("shard") or 1),
                )
            )
        if self.compression in (None, "none"):
            comp = None
        elif self.compression == "blosc-zstd":
            comp = aqz.CompressionSettings(
                compressor=aqz.Compressor.BLOSC1,
                codec=aqz.CompressionCodec.BLOSC_ZSTD,
                level=3,
                shuffle=1,
            )
        else:
            raise ValueError(f"acquire-zarr: unsupported compression {self.compression!r}")
        dtype = np.dtype(self.case["dtype"])
        positions = _positions(self.case)
        self.keys = positions or ["0"]
        arrays = []
        for key in self.keys:
            kw: dict[str, Any] = {
                "output_key": key,
                "dimensions": dims,
                "data_type": dtype,
            }
            if comp is not None:
                kw["compression"] = comp
            arrays.append(aqz.ArraySettings(**kw))
        self.store = os.path.join(self.out_dir, "data.zarr")
        settings = aqz.StreamSettings(store_path=self.store, arrays=arrays, overwrite=True)
        self.stream = aqz.ZarrStream(settings)

    def write(self, i: int, frame: np.ndarray, meta: dict[str, Any] | None) -> None:
        self.stream.append(frame, key=self.keys[int(self.layout["position"][i])])
        if meta is not None:
            self.metadata.append(meta)

    def close(self) -> None:
        if self.metadata:
            self.stream.write_custom_metadata(
                {"frame_metadata": self.metadata},
                array_key=self.keys[0],
                metadata_key="frame_metadata",
            )
        self.stream.close()

    def outputs(self) -> list[dict[str, Any]]:
        return [
            {"kind": "zarr", "path": os.path.join(self.store, key), "position": k}
            for k, key in enumerate(self.keys)
        ]

    def library_version(self) -> str:
        from importlib.metadata import version

        return version("acquire-zarr")


class CodecEngine(Engine):
    """The codec alone: each frame compressed as our engine compresses it (same codec,
    parameters and units), on every core, with no I/O. The ceiling of a compressed row."""

    # Our TIFF strips (cpp/src/tiff/plane_format.cpp kStripBytes).
    STRIP_BYTES = 256 << 10

    @property
    def modules(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("numcodecs",) if self.job["format"] == "zarr" else ("imagecodecs",)

    def open(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
        self.copy_frames = self.job["engine"] == "codec-copied"
        if self.job["engine"] == "codec-fresh":
            self._open_ring()
        else:
            self.ring = None
        self.futures: list[Any] = []
        self.encode = self._zarr_encoder() if self.job["format"] == "zarr" else self._tiff_encoder()
        self.out_bytes = 0

    def _zarr_encoder(self) -> Any:
        import numcodecs

        codec = self.job["zarr_codec"]  # our engine's, read from a probe stream
        config = codec["configuration"]
        if codec["name"] == "blosc":
            shuffle = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[config["shuffle"]]
            # Called from pool threads, numcodecs uses blosc's contextual (single
            # threaded) compressor: one chunk per core, as our encoder threads do.
            compressor = numcodecs.Blosc(
                cname=config["cname"], clevel=config["clevel"], shuffle=shuffle,
                blocksize=config["blocksize"],
            )  # fmt: skip
        else:
            compressor = numcodecs.Zstd(level=config["level"])
        return compressor.encode

    def _tiff_encoder(self) -> Any:
        import imagecodecs

        level = {"zstd": 3, "deflate": 1}[self.compression]
        compress = imagecodecs.zstd_encode if self.compression == "zstd" else (
            imagecodecs.deflate_encode
        )  # fmt: skip

        def encode(frame: np.ndarray) -> int:
            # Predictor 2 (horizontal differencing), then the strips, as our TIFF writer.
            diff = imagecodecs.delta_encode(frame, axis=-1)
            rows = max(1, self.STRIP_BYTES // (frame.shape[1] * frame.itemsize))
            return sum(
                len(compress(diff[r : r + rows].tobytes(), level=level))
                for r in range(0, frame.shape[0], rows)
            )

        return encode

    def _open_ring(self) -> None:
        """Slots in as much fresh memory as our default budget (or the whole stream): a
        copying append's queue, which a writer slower than its caller fills once."""
        import ctypes
        import mmap

        shape, dtype = frame_layout(self.case)["frame_shape"], np.dtype(self.case["dtype"])
        self.slot_bytes = (frame_bytes(self.case) + 4095) // 4096 * 4096
        in_flight = 4 * (os.cpu_count() or 1) + 2  # encodes pending at most, and one more
        self.nslots = max(in_flight, fresh_bytes(self.job, self.slot_bytes) // self.slot_bytes)
        self.ring = mmap.mmap(-1, self.nslots * self.slot_bytes)
        self.slots = [
            np.frombuffer(self.ring, dtype, int(np.prod(shape)), k * self.slot_bytes).reshape(shape)
            for k in range(self.nslots)
        ]
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        self.madvise = libc.madvise
        self.slot_addr = [s.ctypes.data for s in self.slots]

    def write(self, i: int, frame: np.ndarray, meta: dict[str, Any] | None) -> None:
        if self.copy_frames:
            frame = frame.copy()  # on the caller's thread, as a copying append does
        elif self.ring is not None:
            k = i % self.nslots
            if i < self.nslots:  # a new slot: the kernel zeroes its pages first (Linux >= 5.14)
                self.madvise(self.slot_addr[k], self.slot_bytes, MADV_POPULATE_WRITE)
            np.copyto(self.slots[k], frame)
            frame = self.slots[k]
        self.futures.append(self.pool.submit(self.encode, frame))
        if len(self.futures) > 4 * (os.cpu_count() or 1):
            self._drain(2 * (os.cpu_count() or 1))

    def _drain(self, keep: int) -> None:
        while len(self.futures) > keep:
            out = self.futures.pop(0).result()
            self.out_bytes += out if isinstance(out, int) else len(out)

    def close(self) -> None:
        self._drain(0)
        self.pool.shutdown()
        if self.ring is not None:
            self.slots.clear()
            self.ring.close()

    def outputs(self) -> list[dict[str, Any]]:
        return []

    def extra(self) -> dict[str, Any]:
        return {"encoded_bytes": self.out_bytes}

    def library_version(self) -> str:
        from importlib.metadata import version

        if self.job["format"] == "zarr":
            import numcodecs.blosc
            import numcodecs.zstd

            zstd = ".".join(
                str(getattr(numcodecs.zstd, f"{part}_VERSION_NUMBER"))
                for part in ("MAJOR", "MINOR", "MICRO")
            )
            blosc = numcodecs.blosc.VERSION_STRING
            return f"{version('numcodecs')} (blosc {blosc}, zstd {zstd})"
        import imagecodecs

        codecs = f"{imagecodecs.zstd_version()}, {imagecodecs.deflate_version()}"
        return f"{version('imagecodecs')} ({codecs})"


class ZarrPythonEngine(Engine):
    """zarr-python 3 `create_array`, one `array[index] = frame` per frame (zarrs-python:
    the same with zarrs' codec pipeline)."""

    modules = ("zarr",)

    def open(self) -> None:
        import zarr

        self.zarr = zarr
        self.config = (
            zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"})
            if self.job["engine"] == "zarrs-python"
            else None
        )
        if self.config is not None:
            self.config.__enter__()
        layout = self.layout
        dims = layout["array_dims"] + self.case["dims"][-2:]
        counts = [*layout["array_counts"], *layout["frame_shape"]]
        self.unbounded = self.case["dims"][0]["count"] is None
        chunks = [int(d.get("chunk") or 1) for d in layout["array_dims"]]
        chunks += [int(d.get("chunk") or d["count"]) for d in self.case["dims"][-2:]]
        shards = None
        if any(d.get("shard") for d in dims):
            shards = tuple(c * int(d.get("shard") or 1) for c, d in zip(chunks, dims, strict=True))
        itemsize = np.dtype(self.case["dtype"]).itemsize
        compressors = _zarr_codecs(self.compression, itemsize)[1:] or None
        shape = list(counts)
        if self.unbounded:
            shape[0] = 0
        self.counts = counts
        self.shape = shape
        self.paths = []
        self.arrays = []
        root = os.path.join(self.out_dir, "data.zarr")
        for p in _positions(self.case) or [None]:
            path = os.path.join(root, p) if p else root
            self.arrays.append(
                zarr.create_array(
                    store=path,
                    shape=tuple(shape),
                    chunks=tuple(chunks),
                    shards=shards,
                    dtype=self.case["dtype"],
                    compressors=compressors,
                    fill_value=0,
                    dimension_names=[d["name"] for d in dims],
                    overwrite=True,
                )
            )
            self.paths.append(path)
        coords = np.unravel_index(layout["local"], layout["array_counts"])
        self.index = [tuple(int(v) for v in c) for c in zip(*coords, strict=True)]

    def write(self, i: int, frame: np.ndarray, meta: dict[str, Any] | None) -> None:
        idx = self.index[i]
        array = self.arrays[int(self.layout["position"][i])]
        if self.unbounded and idx[0] >= array.shape[0]:
            array.resize((idx[0] + 1, *array.shape[1:]))
        array[idx] = frame
        if meta is not None:
            self.metadata.append(meta)

    def close(self) -> None:
        if self.config is not None:
            self.config.__exit__(None, None, None)
        self._write_sidecar_metadata()

    def outputs(self) -> list[dict[str, Any]]:
        return [{"kind": "zarr", "path": p, "position": k} for k, p in enumerate(self.paths)]

    def library_version(self) -> str:
        from importlib.metadata import version

        name = "zarrs" if self.job["engine"] == "zarrs-python" else "zarr"
        return version(name)


class TifffileEngine(Engine):
    """tifffile `TiffWriter(bigtiff=True)`, one page per frame, one file per position."""

    modules = ("tifffile",)

    def open(self) -> None:
        import tifffile

        self.tifffile = tifffile
        positions = _positions(self.case) or ["data"]
        self.paths = [os.path.join(self.out_dir, f"{p}.tif") for p in positions]
        self.writers = [tifffile.TiffWriter(p, bigtiff=True) for p in self.paths]
        comp = self.compression
        self.kwargs: dict[str, Any] = {"photometric": "minisblack", "metadata": None}
        if comp in (None, "none"):
            self.kwargs["contiguous"] = True
        else:
            self.kwargs["compression"] = comp

    def write(self, i: int, frame: np.ndarray, meta: dict[str, Any] | None) -> None:
        self.writers[int(self.layout["position"][i])].write(frame, **self.kwargs)
        if meta is not None:
            self.metadata.append(meta)

    def close(self) -> None:
        for w in self.writers:
            w.close()
        self._write_sidecar_metadata()

    def outputs(self) -> list[dict[str, Any]]:
        return [{"kind": "tiff", "path": p, "position": k} for k, p in enumerate(self.paths)]

    def library_version(self) -> str:
        return str(self.tifffile.__version__)


ENGINES: dict[str, type[Engine]] = {
    "raw": RawEngine,
    "raw-direct": RawDirectEngine,
    "raw-direct-fresh": RawDirectFreshEngine,
    "raw-direct-files": RawDirectFilesEngine,
    "ours": OmeWritersEngine,
    "ours-nocopy": OmeWritersEngine,
    "ours-baseline": OmeWritersEngine,
    "ours-baseline-nocopy": OmeWritersEngine,
    "ome-writers-0.3.2": OmeWritersEngine,
    "tensorstore": TensorstoreEngine,
    "tensorstore-await": TensorstoreEngine,
    "tensorstore-ourparams": TensorstoreEngine,
    "tensorstore-ourparams-copied": TensorstoreEngine,
    "acquire-zarr": AcquireZarrEngine,
    "tifffile": TifffileEngine,
    "zarr-python": ZarrPythonEngine,
    "zarrs-python": ZarrPythonEngine,
    "codec": CodecEngine,
    "codec-copied": CodecEngine,
    "codec-fresh": CodecEngine,
    # Our shim with each engine behind it (python/ome_writers/_adapters.py).
    "via-tensorstore": OmeWritersEngine,
    "via-acquire-zarr": OmeWritersEngine,
    "via-zarr-python": OmeWritersEngine,
    "via-zarrs-python": OmeWritersEngine,
    "via-tifffile": OmeWritersEngine,
}

# --------------------------------------------------------------------------- measuring


def _proc_status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _cpu_seconds() -> tuple[float, float]:
    """User and system CPU seconds of this process so far (all threads)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


def _thread_faults() -> int:
    """Page faults (minor and major) taken by this thread so far: the appending thread's,
    which issue #20 wants none of in a stream's first appends."""
    ru = resource.getrusage(resource.RUSAGE_THREAD)
    return ru.ru_minflt + ru.ru_majflt


def _syncfs(root: str) -> None:
    """Make everything under root durable: one syncfs() of its file system."""
    import ctypes

    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs({root}) failed: {os.strerror(err)}")
    finally:
        os.close(fd)


def _tree_size(root: str) -> tuple[int, int]:
    """(files, bytes) under root."""
    nfiles = nbytes = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            nbytes += os.stat(os.path.join(dirpath, name)).st_size
            nfiles += 1
    return nfiles, nbytes


def _memcpy_ns(frame: np.ndarray, repeats: int = 15) -> float:
    dst = np.empty_like(frame)
    np.copyto(dst, frame)
    times = []
    for _ in range(repeats):
        t = time.perf_counter_ns()
        np.copyto(dst, frame)
        times.append(time.perf_counter_ns() - t)
    return float(np.median(times))


def _copy_times_ns(sources: list[np.ndarray], n: int | None, room_bytes: int) -> np.ndarray:
    """Times of `np.copyto` of sources[i % len(sources)], i < n, each into the next of
    `room_bytes` of pre-faulted buffers (all of them once when n is None)."""
    count = max(8, min(room_bytes // max(sources[0].nbytes, 1), 4096))
    n = count if n is None else n
    slots = np.ones((count, *sources[0].shape), sources[0].dtype)
    times = np.empty(n, np.int64)
    for i in range(n):
        t = time.perf_counter_ns()
        np.copyto(slots[i % count], sources[i % len(sources)])
        times[i] = time.perf_counter_ns() - t
    del slots
    return times


def _memcpy_cold_ns(frame: np.ndarray, room_bytes: int) -> float:
    """Median np.copyto of a frame into each of `room_bytes` of pre-faulted buffers in turn."""
    return float(np.median(_copy_times_ns([frame], None, room_bytes)))


def _memcpy_frames_ns(views: list[np.ndarray], frames: int, room_bytes: int) -> dict[str, float]:
    """Percentiles of `np.copyto` of the run's own frames, in the run's order, each into the
    next of `room_bytes` of pre-faulted buffers: the bare copy a copying append makes of
    the same frames (source buffers as they are when appended, i.e. not in the cache)."""
    n = max(1, min(frames, room_bytes // max(views[0].nbytes, 1)))
    return _percentiles(_copy_times_ns(views, n, room_bytes))


def _percentiles(lat_ns: np.ndarray) -> dict[str, float]:
    return {
        "p50": float(np.percentile(lat_ns, 50)),
        "p99": float(np.percentile(lat_ns, 99)),
        "max": float(lat_ns.max()),
        "mean": float(lat_ns.mean()),
    }


def make_buffers(job: dict[str, Any], layout: dict[str, Any]) -> dict[str, Any]:
    """Generate the base frames and the frame buffers (before any timing)."""
    case = job["case"]
    shape = layout["frame_shape"]
    dtype = np.dtype(case["dtype"])
    npool = int(job.get("npool", 8))
    base = [base_frame(shape, case["dtype"], case["content"], k) for k in range(npool)]
    nbytes = frame_bytes(case)
    limit = max(npool, int(job.get("pool_bytes", 1 << 30)) // nbytes)
    nbuf = min(case["frames"], limit)
    if npool <= nbuf < case["frames"]:  # a reused buffer must keep its content class
        nbuf -= nbuf % npool
    buffers = np.empty((nbuf, *shape), dtype)
    for b in range(nbuf):
        buffers[b] = base[b % npool]
    return {
        "buffers": buffers,
        "nbuf": nbuf,
        "npool": npool,
        "crc": [content_crc(f) for f in base],
        "frame_bytes": nbytes,
    }


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job and return its measurements (raises on engine errors)."""
    case = job["case"]
    layout = frame_layout(case)
    frames = case["frames"]
    os.makedirs(job["out_dir"], exist_ok=True)
    gen = make_buffers(job, layout)
    buffers = gen["buffers"]
    nbuf = gen["nbuf"]
    views = list(buffers)
    stamps = buffers.reshape(nbuf, -1).view(np.uint8)[:, :STAMP_BYTES].view("<u8")
    metas = [frame_metadata(i) for i in range(frames)] if case.get("metadata") else None
    memcpy_ns = _memcpy_ns(views[0])
    memcpy_cold_ns = _memcpy_cold_ns(views[0], int(job.get("room_bytes", 256 << 20)))
    memcpy_frames = _memcpy_frames_ns(views, frames, int(job.get("room_bytes", 256 << 20)))

    engine = ENGINES[job["engine"]](job, layout)
    for module in engine.modules:
        importlib.import_module(module)
    hwm_reset = _reset_peak_rss()
    rss_before = _proc_status_kib("VmRSS")
    hwm_before = _proc_status_kib("VmHWM")
    cpu_open = _cpu_seconds()
    t = time.perf_counter()
    engine.open()  # memory mapped at creation counts toward the growth
    create_s = time.perf_counter() - t

    lat = np.empty(frames, np.int64)
    lat[:] = 0  # its pages mapped now: the loop's own faults would count as the appends'
    n_first = min(100, frames)
    perf = time.perf_counter_ns
    cpu0 = _cpu_seconds()
    create_cpu = sum(cpu0) - sum(cpu_open)
    faults0 = _thread_faults()
    faults_first = faults0
    t0 = perf()
    for i in range(frames):
        b = i % nbuf
        stamps[b, 0] = i
        meta = metas[i] if metas is not None else None
        ta = perf()
        engine.write(i, views[b], meta)
        lat[i] = perf() - ta
        if i == n_first - 1:
            faults_first = _thread_faults()
    t_loop = perf()
    engine.close()
    t_close = perf()
    cpu1 = _cpu_seconds()
    hwm_end = _proc_status_kib("VmHWM")
    rss_end = _proc_status_kib("VmRSS")
    _syncfs(job["out_dir"])
    t_durable = perf()
    nfiles, disk_bytes = _tree_size(job["out_dir"])  # not timed: a walk is not durability

    total = gen["frame_bytes"] * frames
    room = max(1, min(frames, int(job.get("room_bytes", 256 << 20)) // gen["frame_bytes"]))
    to_close = (t_close - t0) / 1e9
    durable = (t_durable - t0) / 1e9
    cpu_user = cpu1[0] - cpu0[0]
    cpu_sys = cpu1[1] - cpu0[1]
    cpu = cpu_user + cpu_sys
    if hwm_reset:
        growth_kib = hwm_end - rss_before
    else:  # peak before streaming unknown: count only what the stream raised it by
        growth_kib = max(hwm_end - max(hwm_before, rss_before), 0)
    first = lat[: min(100, frames)]
    result: dict[str, Any] = {
        "frames": frames,
        "frame_bytes": gen["frame_bytes"],
        "total_bytes": total,
        "nbuf": nbuf,
        "npool": gen["npool"],
        "pool_crc32": gen["crc"],
        "create_s": create_s,
        # CPU of create_stream itself (all threads), outside cpu_s: memory an engine maps
        # there is paid before the stream starts, not per GB written.
        "create_cpu_s": create_cpu,
        "append_loop_s": (t_loop - t0) / 1e9,
        "close_s": (t_close - t_loop) / 1e9,
        "to_close_s": to_close,
        "fsync_s": (t_durable - t_close) / 1e9,
        "durable_s": durable,
        "mbps_close": total / 1e6 / to_close,
        "mbps_durable": total / 1e6 / durable,
        "cpu_s": cpu,
        "cpu_s_per_gb": cpu / (total / 1e9),
        "cpu_user_s_per_gb": cpu_user / (total / 1e9),
        "cpu_sys_s_per_gb": cpu_sys / (total / 1e9),
        "append_ns": _percentiles(lat),
        "room_frames": room,
        "append_ns_room": _percentiles(lat[:room]),
        "append_ns_first100": _percentiles(first),
        "first100_faults": faults_first - faults0,
        "memcpy_ns": memcpy_ns,
        "memcpy_cold_ns": memcpy_cold_ns,
        "memcpy_frames_ns": memcpy_frames,
        "rss_before_kib": rss_before,
        "hwm_end_kib": hwm_end,
        "rss_end_kib": rss_end,
        "hwm_reset": hwm_reset,
        "rss_growth_mib": growth_kib / 1024.0,
        "files": nfiles,
        "disk_bytes": disk_bytes,
        "outputs": engine.outputs(),
        "library_version": engine.library_version(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    result.update(engine.extra())
    return result


def main(argv: list[str]) -> int:
    """Entry point: `worker.py JOB.json RESULT.json`; exit 1 (with an error entry) on failure."""
    if len(argv) != 3:
        print(__doc__)
        return 2
    with open(argv[1]) as f:
        job = json.load(f)
    try:
        result = run(job)
        result["error"] = None
        code = 0
    except Exception as e:
        result = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
        code = 1
    result["job"] = job
    with open(argv[2], "w") as f:
        json.dump(result, f, indent=1)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
