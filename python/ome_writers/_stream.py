"""`create_stream` and `OMEStream`: the streaming API over the engines."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._backends import Engine, select_engine
from ._coord_tracker import CoordTracker, CoordUpdate

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._schema import AcquisitionSettings
    from ._stream_view import StreamView

__all__ = ["OMEStream", "create_stream"]

# The library reports through this logger and never prints: INFO when a stream
# opens and when it closes (frames, bytes, seconds), WARNING when an append
# waited longer than OMEStream.append_wait_warning_seconds for room in the
# memory budget. Silent unless the application configures logging.
logger = logging.getLogger("ome_writers")
# Without it, an unconfigured application would see warnings on stderr
# (logging's last-resort handler): the library itself never prints.
logger.addHandler(logging.NullHandler())

# Between two long-wait warnings of one stream at least this long passes; the
# next one counts the long waits in between.
APPEND_WAIT_WARNING_INTERVAL = 10.0

EventName = Literal["coords_expanded", "coords_changed"]


def _json_default(value: Any) -> Any:
    """Make numpy scalars/arrays and paths JSON serialisable; reject the rest."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "__fspath__"):
        return str(value)
    raise TypeError(
        f"frame_metadata value {value!r} of type {type(value).__name__} is not JSON serialisable"
    )


# One encoder for every call (it keeps no state between calls): json.dumps with
# keyword arguments builds a new JSONEncoder per call, a quarter of the cost of
# serialising a typical 6-key frame_metadata.
_ENCODER = json.JSONEncoder(default=_json_default, allow_nan=False)

# Plain dicts (the usual frame metadata) are encoded in C++, a few times faster;
# it returns None for anything else, which the encoder above handles.
_plain_metadata_json: Callable[[object], str | None] | None
try:
    from ._core import metadata_json as _plain_metadata_json
except ImportError:  # no compiled engine (the scratch format still works)
    _plain_metadata_json = None


def _metadata_json(metadata: Mapping[str, Any] | None, what: str) -> str | None:
    if metadata is None:
        return None
    if _plain_metadata_json is not None:
        text = _plain_metadata_json(metadata)
        if text is not None:
            return text
    if not isinstance(metadata, Mapping):
        raise TypeError(f"{what} must be a mapping, got {type(metadata).__name__}")
    try:
        return _ENCODER.encode(metadata if type(metadata) is dict else dict(metadata))
    except ValueError as e:  # NaN/inf (not JSON) or circular references
        raise ValueError(f"{what} cannot be serialised to JSON ({e}): {metadata!r}") from e


class _StreamState:
    """What the garbage-collection finalizer needs (it must not reference the stream)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.appended = False


def _finalize(state: _StreamState) -> None:
    try:
        state.engine.close()
    finally:
        if state.appended:
            warnings.warn(
                "OMEStream was not closed before garbage collection. Call `stream.close()` "
                "or use the stream as a context manager to make sure all data is written.",
                UserWarning,
                stacklevel=2,
            )


class OMEStream:
    """A stream of 2-D frames written to OME-Zarr or OME-TIFF as they arrive.

    Create it with [`create_stream`][ome_writers.create_stream]. Frames are given in
    acquisition order (the order of `settings.dimensions`); each `append` copies the
    frame, so the caller may reuse its buffer at once.
    """

    #: An `append` that waits longer than this (seconds) for room in the memory
    #: budget logs a WARNING on the "ome_writers" logger (at most one per 10 s
    #: per stream). Set it on a stream, or on the class for every stream.
    append_wait_warning_seconds: float = 0.5

    def __init__(self, settings: AcquisitionSettings, engine: Engine) -> None:
        self._settings = settings
        self._engine = engine
        self._state = _StreamState(engine)
        self._finalizer = weakref.finalize(self, _finalize, self._state)
        self._closed = False
        self._lock = threading.Lock()
        frame_dims = settings.dimensions[-2:]
        self._frame_shape = tuple(int(d.count or 0) for d in frame_dims)
        self._dtype = np.dtype(settings.dtype)
        self._frames = 0
        self._tracker: CoordTracker | None = None
        self._opened = time.perf_counter()
        self._long_waits = 0
        self._last_wait_warning = -APPEND_WAIT_WARNING_INTERVAL
        if logger.isEnabledFor(logging.INFO):
            total = settings.num_frames
            logger.info(
                "stream opened: %s (%s, %s frames of %s %s, engine %s)",
                settings.output_path,
                settings.format.name,
                "unbounded" if total is None else total,
                "x".join(str(n) for n in self._frame_shape),
                self._dtype.name,
                engine.name,
            )

    # ------------------------------------------------------------------ writing

    @property
    def settings(self) -> AcquisitionSettings:
        """The (deep-copied) settings this stream was created with."""
        return self._settings

    @property
    def closed(self) -> bool:
        """True after `close()`."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("Cannot write to a closed OMEStream.")

    def _coerce_frame(self, frame: Any) -> np.ndarray:
        arr = np.asarray(frame)
        if arr.shape != self._frame_shape:
            raise ValueError(
                f"frame shape {arr.shape} does not match the expected frame shape "
                f"{self._frame_shape} (the last two dimensions of the settings)"
            )
        if arr.dtype != self._dtype:
            if not np.can_cast(arr.dtype, self._dtype, casting="safe"):
                raise TypeError(
                    f"frame dtype {arr.dtype} cannot be cast safely to the stream dtype "
                    f"{self._dtype}; convert the frame explicitly"
                )
            arr = arr.astype(self._dtype)
        return np.ascontiguousarray(arr)

    def append(
        self, frame: Any, *, frame_metadata: Mapping[str, Any] | None = None, copy: bool = True
    ) -> None:
        """Write the next frame (in acquisition order).

        The frame is copied before this returns. With `copy=False` (an extension of
        this package) the native engine queues the caller's array itself instead and
        holds a reference to it until it is done with it: when the frame is in the
        files (a frame in a chunk that is still being filled stays held, across
        `flush()` too), or, for uncompressed Zarr from an array that is not page
        aligned, once a writer thread has copied it. The caller must not change the
        array before `close()`. This saves the caller's thread the copy for frames it
        does not reuse; other engines copy.

        `frame_metadata` is a JSON-able mapping; the keys `delta_t`, `exposure_time`,
        `position_x`, `position_y` and `position_z` become OME-TIFF Plane attributes,
        everything else is kept too (MapAnnotations in OME-TIFF,
        `ome_writers.frame_metadata` in OME-Zarr).

        Raises ValueError for a frame of the wrong shape, TypeError for a dtype that
        cannot be cast safely, IndexError past the declared number of frames; the
        stream stays usable after each of them.
        """
        self._check_open()
        if not isinstance(copy, bool):
            raise TypeError(f"copy must be True or False, got {copy!r}")
        flat = getattr(self._engine, "append_flat", None)
        if flat is not None and np.ndim(frame) == 1:
            # acquire-zarr takes flat buffers of any length, as in 0.3.2.
            self._append_flat(flat, frame, frame_metadata)
            return
        arr = self._coerce_frame(frame)
        meta = _metadata_json(frame_metadata, "frame_metadata")
        with self._lock:
            # The engine refuses a frame past the declared total (IndexError).
            if copy:
                waited = self._engine.append(arr, meta)
            else:
                waited = self._engine.append_borrowed(arr, meta)
            index = self._frames
            self._frames += 1
            self._state.appended = True
        if waited and waited > self.append_wait_warning_seconds:
            self._report_long_wait(waited, index)
        if self._tracker is not None:
            self._tracker.update(index)

    def _append_flat(
        self, append_flat: Callable[[np.ndarray, str | None], int], frame: Any, metadata: Any
    ) -> None:
        arr = np.ascontiguousarray(np.asarray(frame))
        if arr.dtype != self._dtype:
            raise TypeError(f"flat buffer dtype {arr.dtype} is not the stream dtype {self._dtype}")
        meta = _metadata_json(metadata, "frame_metadata")
        with self._lock:
            first = self._frames
            self._frames += append_flat(arr, meta)
            self._state.appended = True
        if self._tracker is not None:
            for index in range(first, self._frames):
                self._tracker.update(index)

    def _report_long_wait(self, waited: float, index: int) -> None:
        self._long_waits += 1
        now = time.perf_counter()
        if now - self._last_wait_warning < APPEND_WAIT_WARNING_INTERVAL:
            return
        logger.warning(
            "append of frame %d to %s waited %.3f s for room in the memory budget "
            "(%d such waits over %.3g s since the last warning): the writer is slower "
            "than the frames arrive; raise max_memory_bytes or use a faster disk or codec",
            index,
            self._settings.output_path,
            waited,
            self._long_waits,
            self.append_wait_warning_seconds,
        )
        self._long_waits = 0
        self._last_wait_warning = now

    def skip(self, *, frames: int = 1) -> None:
        """Advance past `frames` frames without data (they read as zeros)."""
        self._check_open()
        if not isinstance(frames, int) or isinstance(frames, bool) or frames <= 0:
            raise ValueError(f"frames must be a positive integer, got {frames!r}")
        with self._lock:
            self._engine.skip(frames)
            first = self._frames
            self._frames += frames
        if self._tracker is not None:
            for index in range(first, first + frames):
                self._tracker.update(index)

    def flush(self) -> None:
        """Block until every appended frame and its metadata are on stable storage.

        The files, the journal and their directory entries are synced: after
        `flush()` returns, a crash of this process, of the OS or a power loss loses
        nothing appended before it (see `ome_writers.recover`).
        """
        self._check_open()
        self._engine.flush()

    def close(self) -> None:
        """Write everything still queued and the final metadata, then close. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._finalizer.detach()
        try:
            self._engine.close()
        finally:
            if self._tracker is not None:
                self._tracker.shutdown()
        if logger.isEnabledFor(logging.INFO):
            stats = self._engine.stats()
            logger.info(
                "stream closed: %s: %d frames, %d bytes in %.3f s",
                self._settings.output_path,
                self._frames,
                int(stats.get("bytes_written", stats.get("bytes_appended", 0))),
                time.perf_counter() - self._opened,
            )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ----------------------------------------------------------------- metadata

    @property
    def frames_appended(self) -> int:
        """Frames given to `append` and `skip` so far."""
        return self._frames

    def stats(self) -> dict[str, float]:
        """Engine counters: frames and bytes written, queue bytes, waits, checkpoints.

        `checkpoints` counts the checkpoints done (periodic and `flush()`), and
        `checkpoint_seconds` the writer time they took, syncs included.
        """
        return self._engine.stats()

    def get_metadata(self) -> Any:
        """The metadata documents of the output.

        OME-Zarr: `{group path: attributes}` (`"."` for a single image). OME-TIFF:
        `{file index: ome_types.OME}` (`-1` for a companion file). Scratch: None.
        """
        return self._engine.get_metadata()

    def update_metadata(self, metadata: Any) -> None:
        """Replace metadata documents (same shape as `get_metadata()` returns)."""
        self._engine.update_metadata(metadata)

    def set_global_metadata(self, namespace: str, metadata: Mapping[str, Any]) -> None:
        """Store a summary mapping (e.g. the acquisition sequence) under `namespace`.

        OME-Zarr: an attribute of the root group. OME-TIFF: a MapAnnotation with that
        Namespace. Setting the same namespace again replaces it.
        """
        if not isinstance(namespace, str):
            raise ValueError(f"namespace must be a non-empty string, got {namespace!r}")
        # The engine refuses an empty or reserved namespace (ValueError).
        text = _metadata_json(metadata, "global metadata")
        assert text is not None
        self._engine.set_global_metadata(namespace, text)

    # ------------------------------------------------------------ live viewing

    def view(
        self, *, dynamic_shape: bool = True, strict: bool = False, level: int = 0
    ) -> StreamView:
        """A read-only array view of all positions in acquisition order (live).

        `level`: a pyramid level (0, the default: full resolution).
        """
        from ._stream_view import StreamView

        return StreamView.from_stream(self, dynamic_shape=dynamic_shape, strict=strict, level=level)

    def on(self, event: EventName, callback: Callable[[CoordUpdate], Any]) -> None:
        """Call `callback(CoordUpdate)` on `"coords_expanded"` or `"coords_changed"`."""
        if event not in ("coords_expanded", "coords_changed"):
            raise ValueError(
                f"Unknown event {event!r}; expected 'coords_expanded' or 'coords_changed'"
            )
        if self._tracker is None:
            self._tracker = CoordTracker(self._settings)
            for index in range(self._frames):
                self._tracker.update(index, emit=False)
        self._tracker.connect(event, callback)

    # ----------------------------------------------------- engine access (view)

    @property
    def _engine_impl(self) -> Engine:
        return self._engine


def _finite(name: str, value: float) -> float:
    """The option as a float; JSON (how options reach the engine) has no NaN or inf."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    return number


def create_stream(
    settings: AcquisitionSettings,
    *,
    max_memory_bytes: int | None = None,
    append_timeout: float | None = None,
    writer_threads: int | None = None,
    compression_level: int | None = None,
    checkpoint_interval: float | None = None,
) -> OMEStream:
    """Create the output described by `settings` and return a stream to fill it.

    The settings are deep-copied: later changes to them do not affect the stream.
    Keyword arguments tune the native engine: `max_memory_bytes` bounds the queue
    and chunk buffers together (default 512 MiB; `append` waits when it is full),
    `append_timeout` is how long `append` waits before raising TimeoutError
    (default 30 s), `writer_threads` the number of chunk encoders/writers (default:
    one per core up to 4, one more when compressing), `compression_level` the level of
    `settings.compression` (blosc 1-9, zstd 1-22, deflate 1-12; default: the fast
    levels listed in the README; ValueError when out of range or for a codec
    without levels). `checkpoint_interval` (default 1.0 s; 0 turns it off) bounds
    how long after an `append` the frame, with its metadata, is in the files,
    readable by standard readers and durable, with no further call: the output
    survives a crash or a kill without `recover()`. A writer that is behind
    checkpoints once per interval, at most.

    Warns (UserWarning) when root_path's extension names the other format: the
    output is written at `settings.output_path` all the same, as ome-writers 0.3.2
    does. Raises ValueError when OME-Zarr storage axes break the OME-NGFF 0.5 order
    (time, channel or custom, space), e.g. storage_order="acquisition" with c
    acquired before t.
    """
    settings.validate_stream_ready()
    settings = settings.model_copy(deep=True)
    if (contradiction := settings._suffix_contradiction()) is not None:
        warnings.warn(contradiction, UserWarning, stacklevel=2)
    # Their values are checked by the engine (ValueError naming the option).
    engine_options: dict[str, Any] = {}
    if max_memory_bytes is not None:
        engine_options["max_memory_bytes"] = int(max_memory_bytes)
    if append_timeout is not None:
        engine_options["append_timeout_seconds"] = _finite("append_timeout", append_timeout)
    if writer_threads is not None:
        engine_options["writer_threads"] = int(writer_threads)
    if checkpoint_interval is not None:
        engine_options["checkpoint_interval_seconds"] = _finite(
            "checkpoint_interval", checkpoint_interval
        )
    if compression_level is not None:
        if not isinstance(compression_level, int) or isinstance(compression_level, bool):
            raise TypeError(
                f"compression_level must be an integer, got {type(compression_level).__name__}"
            )
        engine_options["compression_level"] = compression_level
    engine = select_engine(settings, engine_options)
    return OMEStream(settings, engine)
