"""Acquisition coordinates of each frame, and the events `OMEStream.on` delivers.

Frames arrive in acquisition order, so the n-th frame's index in every
non-frame dimension follows from n alone: a mixed-radix number whose digits are
the dimensions in acquisition order (slowest first). The first digit may be
unbounded. `AcquisitionGrid` does that arithmetic; `CoordTracker` follows the
frames of a stream, remembers the largest index seen in each dimension (the
high-water mark) and hands `CoordUpdate`s to callbacks on a small thread pool,
so a slow callback never holds up `append`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ._schema import AcquisitionSettings

__all__ = ["AcquisitionGrid", "CoordTracker", "CoordUpdate"]

_logger = logging.getLogger("ome_writers")

_EVENTS = ("coords_changed", "coords_expanded")


@dataclass(frozen=True, slots=True)
class CoordUpdate:
    """What a `coords_changed` / `coords_expanded` callback receives.

    `max_coords` maps every dimension name (acquisition order, in-frame
    dimensions last) to the coordinates reached so far: a `range` or, for a
    dimension with coords, the list of their names. In-frame dimensions are
    always their full range. `current_indices` is the index of the frame
    `frame_number` in every dimension (0 for the in-frame ones).
    `is_high_water_mark` is True when that frame reached a new index in some
    dimension, i.e. when `max_coords` grew.
    """

    max_coords: Mapping[str, Sequence]
    """Coordinates reached so far, per dimension."""
    current_indices: Mapping[str, int]
    """Index of this frame in every dimension."""
    frame_number: int
    """Position of this frame in acquisition order (0-based; skipped frames count)."""
    is_high_water_mark: bool
    """True when this frame extended `max_coords`."""


def _label(coord: Any) -> Any:
    """Channel and Position coords are shown by name; plain values as they are."""
    return getattr(coord, "name", coord)


class AcquisitionGrid:
    """Mixed-radix arithmetic over the non-frame dimensions in acquisition order.

    Converts between a frame number and its index in each non-frame dimension
    (position included), and computes how far each dimension extends after a
    number of frames. Only the first dimension may be unbounded (count None).
    """

    __slots__ = ("counts", "frame_names", "frame_shape", "labels", "names", "strides")

    def __init__(self, settings: AcquisitionSettings) -> None:
        dims = settings.dimensions
        outer = dims[:-2]
        self.names: tuple[str, ...] = tuple(d.name for d in outer)
        """Names of the non-frame dimensions, slowest first."""
        self.counts: tuple[int | None, ...] = tuple(d.count for d in outer)
        """Their counts; the first may be None (unbounded)."""
        self.labels: tuple[list[Any] | None, ...] = tuple(
            [_label(c) for c in d.coords] if d.coords else None for d in outer
        )
        """Coordinate labels per dimension, or None where the dimension has no coords."""
        self.frame_names: tuple[str, ...] = tuple(d.name for d in dims[-2:])
        """Names of the two in-frame dimensions."""
        self.frame_shape: tuple[int, ...] = tuple(int(d.count or 0) for d in dims[-2:])
        """Height and width of a frame."""
        # Every dimension after the first is bounded, so strides never involve None.
        self.strides: tuple[int, ...] = tuple(
            prod(c or 0 for c in self.counts[i + 1 :]) for i in range(len(self.counts))
        )
        """Frames between consecutive indices of each dimension."""

    @property
    def num_frames(self) -> int | None:
        """Frames in the whole acquisition, or None when the first dimension is unbounded."""
        if any(c is None for c in self.counts):
            return None
        return prod(c or 0 for c in self.counts)

    def indices(self, frame_number: int) -> tuple[int, ...]:
        """Index of frame `frame_number` in each non-frame dimension."""
        if frame_number < 0:
            raise IndexError(f"frame number must be >= 0, got {frame_number}")
        out = []
        for i, (count, stride) in enumerate(zip(self.counts, self.strides, strict=True)):
            digit = frame_number // stride
            out.append(digit if i == 0 else digit % (count or 1))
        return tuple(out)

    def frame_number(self, indices: Sequence[int]) -> int:
        """Frame number of the frame at `indices` (one per non-frame dimension)."""
        return sum(i * s for i, s in zip(indices, self.strides, strict=True))

    def extents(self, frames: int) -> tuple[int, ...]:
        """Size of each non-frame dimension once frames 0 .. frames-1 have arrived.

        That is one more than the largest index each dimension has reached (0
        before the first frame).
        """
        if frames <= 0:
            return (0,) * len(self.counts)
        last = frames - 1
        out = []
        for count, stride in zip(self.counts, self.strides, strict=True):
            reached = last // stride + 1
            out.append(reached if count is None else min(reached, count))
        return tuple(out)

    def coords(self, extents: Sequence[int]) -> dict[str, Sequence]:
        """Coordinates of every dimension (frame dimensions last) for these extents."""
        out: dict[str, Sequence] = {}
        for name, labels, size in zip(self.names, self.labels, extents, strict=True):
            out[name] = range(size) if labels is None else labels[:size]
        for name, size in zip(self.frame_names, self.frame_shape, strict=True):
            out[name] = range(size)
        return out


class CoordTracker:
    """Follows the frames of a stream and reports coordinate events.

    `OMEStream` calls `update(frame_number)` after every appended or skipped
    frame. Callbacks connected to `"coords_changed"` get every frame,
    callbacks connected to `"coords_expanded"` only frames that reached a new
    index in some dimension. Callbacks run on a pool of two threads, so they
    may run concurrently and finish out of order; an exception in a callback
    is logged to the `ome_writers` logger and otherwise ignored.
    """

    def __init__(self, settings: AcquisitionSettings) -> None:
        self._grid = AcquisitionGrid(settings)
        self._reached = [-1] * len(self._grid.names)
        # Re-entrant: a future that is already done runs `_forget` inside `update`.
        self._lock = threading.RLock()
        self._callbacks: dict[str, list[Callable[[CoordUpdate], Any]]] = {e: [] for e in _EVENTS}
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ome-writers-events")
        self._pending: set[Future[None]] = set()
        self._shut_down = False

    @property
    def grid(self) -> AcquisitionGrid:
        """The frame-number arithmetic for these settings."""
        return self._grid

    def connect(
        self,
        event: Literal["coords_changed", "coords_expanded"],
        callback: Callable[[CoordUpdate], Any],
    ) -> None:
        """Call `callback(update)` on every `event` from now on."""
        if event not in _EVENTS:
            raise ValueError(
                f"Unknown event {event!r}; expected 'coords_expanded' or 'coords_changed'"
            )
        with self._lock:
            self._callbacks[event].append(callback)

    def max_coords(self) -> dict[str, Sequence]:
        """Coordinates reached so far (see `CoordUpdate.max_coords`)."""
        with self._lock:
            return self._grid.coords([r + 1 for r in self._reached])

    def update(self, frame_number: int, emit: bool = True) -> None:
        """Record that frame `frame_number` arrived; notify callbacks if `emit`."""
        indices = self._grid.indices(frame_number)
        with self._lock:
            expanded = False
            for axis, index in enumerate(indices):
                if index > self._reached[axis]:
                    self._reached[axis] = index
                    expanded = True
            if not emit or self._shut_down:
                return
            targets = list(self._callbacks["coords_changed"])
            if expanded:
                targets += self._callbacks["coords_expanded"]
            if not targets:
                return
            current = dict(zip(self._grid.names, indices, strict=True))
            current.update(dict.fromkeys(self._grid.frame_names, 0))
            update = CoordUpdate(
                max_coords=self._grid.coords([r + 1 for r in self._reached]),
                current_indices=current,
                frame_number=frame_number,
                is_high_water_mark=expanded,
            )
            for callback in targets:
                future = self._executor.submit(_run_callback, callback, update)
                self._pending.add(future)
                future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the callbacks submitted so far have run; False on timeout."""
        with self._lock:
            pending = list(self._pending)
        _, not_done = wait_futures(pending, timeout=timeout)
        return not not_done

    def shutdown(self) -> None:
        """Stop accepting events; callbacks already submitted still run."""
        with self._lock:
            self._shut_down = True
        self._executor.shutdown(wait=False)


def _run_callback(callback: Callable[[CoordUpdate], Any], update: CoordUpdate) -> None:
    try:
        callback(update)
    except Exception:
        _logger.exception("coordinate event callback %r raised", callback)
