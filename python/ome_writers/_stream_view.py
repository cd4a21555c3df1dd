"""`StreamView`: a read-only, array-like window onto a stream while it is written.

The view has one axis per dimension of the settings, in acquisition order, with
the position dimension (each position is a separate array or file on disk) put
back as an ordinary axis where it was acquired. Indexing maps every requested
non-frame index to a frame number, asks the stream's engine where that frame
lives (`locate`) and reads it back (`read_frame`). A frame reads back as soon
as its `append` has returned, wherever the engine holds it by then (queue,
chunk being assembled, files); frames not appended yet, or skipped, read as
zeros. Nothing is cached, so a view stays valid during acquisition and after
`close()`.
"""

from __future__ import annotations

import itertools
import operator
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ._coord_tracker import AcquisitionGrid

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._coord_tracker import CoordUpdate
    from ._stream import OMEStream

__all__ = ["StreamView"]

_F = TypeVar("_F", bound=Callable[[], Any])


class CoordsChangedSignal:
    """A minimal signal: `connect`, `disconnect` and `emit`, callbacks take no arguments.

    Holds strong references to its callbacks. Emitted from the stream's event
    thread pool, not from the thread that appends frames.
    """

    __slots__ = ("_callbacks", "_lock")

    def __init__(self) -> None:
        self._callbacks: list[Callable[[], Any]] = []
        self._lock = threading.Lock()

    def connect(self, callback: _F) -> _F:
        """Call `callback()` on every emission; returns it (usable as a decorator)."""
        with self._lock:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[[], Any]) -> None:
        """Stop calling `callback` (ValueError if it is not connected)."""
        with self._lock:
            self._callbacks.remove(callback)

    def emit(self) -> None:
        """Call every connected callback, in the order they were connected."""
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()


def _forward_expansion(view_ref: weakref.ReferenceType[StreamView]) -> Callable[..., None]:
    # A weak reference, so that a view dropped by its user is not kept alive by
    # the stream's event list.
    def on_expanded(update: CoordUpdate) -> None:
        view = view_ref()
        if view is not None:
            view._on_coords_expanded(update)

    return on_expanded


class StreamView:
    """Read-only array-like view of all positions of a stream, in acquisition order.

    Get one from [`OMEStream.view`][ome_writers.OMEStream.view]. Supports
    `shape`, `dtype`, `ndim`, `dims`, `coords`, `len()`, `np.asarray(view)` and
    indexing with integers, slices and `...` (no advanced indexing). Each index
    operation reads the requested frames from the engine; read single frames
    rather than the whole view during acquisition.

    With `dynamic_shape=True` the non-frame axes have the size reached so far
    (0 before the first frame) and grow as frames arrive; `coords_changed` is
    emitted when they grow. With `dynamic_shape=False` the shape is the
    declared one (an unbounded first axis: the size reached so far).

    Slices and negative integers are resolved against `shape`. A non-negative
    integer beyond the live size (but inside the declared count) reads zeros,
    unless `strict=True`, which raises IndexError for any integer outside
    `shape`.
    """

    def __init__(
        self,
        stream: OMEStream,
        *,
        dynamic_shape: bool = True,
        strict: bool = False,
        level: int = 0,
    ):
        settings = stream.settings
        self._stream = stream
        self._engine = stream._engine_impl
        self._grid = AcquisitionGrid(settings)
        self._level = _check_level(settings, level, self._engine.levels())
        # A pyramid level's frames: each halving rounds up.
        self._frame_shape = tuple(_halve(size, self._level) for size in self._grid.frame_shape)
        # A level that halves z: its z axis (acquisition and storage places), in
        # level planes; -1 when z is not halved.
        self._z_axis = -1
        self._z_storage = -1
        self._counts = self._grid.counts
        pyramid = settings.pyramid
        if self._level and pyramid is not None and pyramid.downsample_z:
            # The engine halves the space axis named z (either case).
            names = [n.lower() for n in self._grid.names]
            self._z_axis = names.index("z")
            stored = [d.name.lower() for d in settings.storage_index_dimensions]
            self._z_storage = stored.index("z")
            self._counts = tuple(
                _halve(c, self._level) if a == self._z_axis and c is not None else c
                for a, c in enumerate(self._counts)
            )
        self._dynamic = bool(dynamic_shape)
        self._strict = bool(strict)
        self._dtype = np.dtype(settings.dtype)
        self._dims = (*self._grid.names, *self._grid.frame_names)
        self._position_axis = settings.position_dimension_index
        self._coords_changed = CoordsChangedSignal()
        self._emit_lock = threading.Lock()
        self._emitted_extents = self._grid.extents(stream.frames_appended)

    @classmethod
    def from_stream(
        cls,
        stream: OMEStream,
        *,
        dynamic_shape: bool = True,
        strict: bool = False,
        level: int = 0,
    ) -> Self:
        """A view of `stream`; prefer `stream.view(...)`, which calls this.

        `dynamic_shape`: the non-frame axes grow with the frames appended (True)
        or have their declared sizes (False). `strict`: integer indices outside
        `shape` raise IndexError instead of reading zeros. `level`: a pyramid
        level (0: full resolution); its frames read as zeros until the writer
        has computed them.
        """
        view = cls(stream, dynamic_shape=dynamic_shape, strict=strict, level=level)
        # Only a growing shape needs notifications: always in dynamic mode, and for
        # the unbounded first axis otherwise.
        if view._dynamic or view._grid.num_frames is None:
            stream.on("coords_expanded", _forward_expansion(weakref.ref(view)))
        return view

    # ------------------------------------------------------------- properties

    @property
    def coords_changed(self) -> CoordsChangedSignal:
        """Emitted (no arguments) when `shape`/`coords` grow; see `CoordsChangedSignal`."""
        return self._coords_changed

    @property
    def dims(self) -> tuple[str, ...]:
        """Dimension names, in acquisition order (in-frame dimensions last)."""
        return self._dims

    @property
    def dtype(self) -> np.dtype:
        """Pixel dtype."""
        return self._dtype

    @property
    def shape(self) -> tuple[int, ...]:
        """Current shape (see the class docstring for how it grows)."""
        return (*self._outer_shape(), *self._frame_shape)

    @property
    def ndim(self) -> int:
        """Number of axes (all dimensions of the settings)."""
        return len(self._dims)

    @property
    def coords(self) -> Mapping[str, Sequence]:
        """Coordinates along each axis: a range, or coord names where the dimension has them.

        Matches `shape` (xarray-style `{dim: labels}`).
        """
        outer = self._outer_shape()
        coords = self._grid.coords(outer)
        for name, size in zip(self._grid.frame_names, self._frame_shape, strict=True):
            coords[name] = range(size)
        if self._z_axis >= 0:  # level planes: z labels would name full-resolution planes
            coords[self._grid.names[self._z_axis]] = range(outer[self._z_axis])
        return coords

    def __len__(self) -> int:
        """Size of the first axis."""
        return self.shape[0]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dims={self._dims}, shape={self.shape}, "
            f"dtype={self._dtype}, dynamic_shape={self._dynamic})"
        )

    # ----------------------------------------------------------------- shapes

    def _live_extents(self) -> tuple[int, ...]:
        live = self._grid.extents(self._stream.frames_appended)
        if self._z_axis < 0:
            return live
        return tuple(_halve(n, self._level) if a == self._z_axis else n for a, n in enumerate(live))

    def _outer_shape(self) -> tuple[int, ...]:
        live = self._live_extents()
        if self._dynamic:
            return live
        return tuple(
            count if count is not None else size
            for count, size in zip(self._counts, live, strict=True)
        )

    def _on_coords_expanded(self, update: CoordUpdate) -> None:
        # Runs on the event thread pool; updates may arrive out of order.
        extents = tuple(len(update.max_coords[name]) for name in self._grid.names)
        with self._emit_lock:
            old = self._emitted_extents
            grown = tuple(max(a, b) for a, b in zip(old, extents, strict=True))
            # With declared sizes only the unbounded first axis can change the shape.
            changed = grown != old if self._dynamic else grown[:1] != old[:1]
            self._emitted_extents = grown
        if changed:
            self._coords_changed.emit()

    # --------------------------------------------------------------- indexing

    # Errors start with ome-writers 0.3.2's wording (callers match on it); the
    # detail after it is ours.

    def _normalise_key(self, key: Any) -> tuple[Any, ...]:
        keys = key if isinstance(key, tuple) else (key,)
        out: list[Any] = []
        ellipsis = False
        for k in keys:
            if k is Ellipsis:
                if ellipsis:
                    raise IndexError("an index can only have a single ellipsis ('...')")
                ellipsis = True
                out.append(k)
            elif isinstance(k, slice):
                for part in (k.start, k.stop, k.step):
                    if part is not None:
                        _as_int(part, slice_bound=True)
                out.append(k)
            else:
                out.append(_as_int(k))
        n_real = len(out) - ellipsis
        if n_real > self.ndim:
            raise IndexError(
                f"too many indices for array: array is {self.ndim}-dimensional, "
                f"but {n_real} were indexed"
            )
        fill = [slice(None)] * (self.ndim - n_real)
        if ellipsis:
            at = out.index(Ellipsis)
            out[at : at + 1] = fill
        else:
            out.extend(fill)
        return tuple(out)

    def __getitem__(self, key: Any) -> np.ndarray:
        """Read the frames selected by `key` (integers, slices, `...`) as a new array."""
        keys = self._normalise_key(key)
        n_outer = len(self._grid.names)
        outer_shape = self._outer_shape()
        per_axis: list[Sequence[int]] = []
        kept: list[int] = []
        for axis in range(n_outer):
            k = keys[axis]
            size = outer_shape[axis]
            if isinstance(k, slice):
                selected = range(*k.indices(size))
                per_axis.append(selected)
                kept.append(len(selected))
            else:
                per_axis.append((self._resolve_int(axis, k, size, self._counts[axis]),))
        frame_key = tuple(
            k if isinstance(k, slice) else self._resolve_int(axis, k, size, size)
            for axis, (k, size) in enumerate(
                zip(keys[n_outer:], self._frame_shape, strict=True), start=n_outer
            )
        )
        frame_shape = tuple(
            len(range(*k.indices(size)))
            for k, size in zip(frame_key, self._frame_shape, strict=True)
            if isinstance(k, slice)
        )
        out = np.zeros((*kept, *frame_shape), dtype=self._dtype)
        if out.size == 0:
            return out
        flat = out.reshape((-1, *frame_shape))
        frames = self._stream.frames_appended
        for slot, indices in enumerate(itertools.product(*per_axis)):
            z_level = -1
            if self._z_axis >= 0:
                # The level plane summarises full-resolution planes from z_level * 2^L on.
                z_level = indices[self._z_axis]
                indices = tuple(
                    i << self._level if a == self._z_axis else i for a, i in enumerate(indices)
                )
            frame_number = self._grid.frame_number(indices)
            if frame_number >= frames:
                continue  # not acquired yet: zeros
            position, storage_index = self._engine.locate(frame_number)
            if z_level >= 0:
                storage_index = tuple(
                    z_level if a == self._z_storage else i for a, i in enumerate(storage_index)
                )
            if self._level:
                data = self._engine.read_level_frame(position, self._level, storage_index)
            else:
                data = self._engine.read_frame(position, storage_index)
            if data is not None:
                flat[slot] = data[frame_key]
        return out

    def _resolve_int(self, axis: int, index: int, size: int, count: int | None) -> int:
        """`index` on an axis of `size` (live) and `count` (declared; None = unbounded)."""
        name = self._dims[axis]
        resolved = index + size if index < 0 else index
        if self._strict and not 0 <= resolved < size:
            raise IndexError(
                f"Index {index} is out of bounds for live dimension {name!r} with size {size} "
                f"(axis {axis}; strict=True)"
            )
        limit = size if index < 0 else count
        if resolved < 0 or (limit is not None and resolved >= limit):
            if axis == self._position_axis:
                raise IndexError(
                    f"Position index {index} is out of bounds for size {limit} "
                    f"(axis {axis}, dimension {name!r})"
                )
            raise IndexError(
                f"index {index} is out of bounds for axis {axis} with size {limit} "
                f"(dimension {name!r})"
            )
        return resolved

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """The whole view as a new numpy array (`copy=False` is refused: ValueError)."""
        if copy is False:
            raise ValueError(
                "Zero-copy array conversion is not supported. A StreamView reads "
                "its frames from the files into a new array."
            )
        data = self[...]
        return data if dtype is None else data.astype(dtype, copy=False)


def _halve(size: int, times: int) -> int:
    for _ in range(times):
        size = (size + 1) // 2
    return size


def _check_level(settings: Any, level: Any, levels: int) -> int:
    """`level` as a valid pyramid level of these settings (ValueError naming it)."""
    pyramid = settings.pyramid
    if isinstance(level, bool) or not isinstance(level, int) or level < 0:
        raise ValueError(f"level must be a non-negative integer, got {level!r}")
    if level == 0:
        return 0
    if pyramid is None:
        raise ValueError(f"level {level} requested, but the stream writes no pyramid")
    if level >= levels:
        raise ValueError(f"level {level} does not exist (levels: 0 to {levels - 1})")
    return level


def _as_int(value: Any, *, slice_bound: bool = False) -> int:
    """An integer index or slice bound (numpy integers too); TypeError otherwise."""
    if not isinstance(value, (bool, np.bool_)):
        try:
            return operator.index(value)
        except TypeError:
            pass
    if slice_bound:
        raise TypeError(
            "slice indices must be integers or None or have an __index__ method, "
            f"got {type(value).__name__}"
        )
    raise TypeError(
        f"Invalid index type: {type(value)} (StreamView takes integers, slices and "
        "'...'; no advanced, boolean or None indexing)"
    )
