"""Engines behind `OMEStream`, and the shim that picks one for the settings.

Every engine takes frames in acquisition order. The native engine (the C++ core in
`ome_writers._core`) writes both OME-Zarr and OME-TIFF; the scratch engine keeps
arrays in memory (or in memory-mapped files) for tests and previews.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ._schema import AcquisitionSettings

__all__ = ["Engine", "NativeEngine", "select_engine"]

# Backend names ome-writers users pass: "auto" and "native" are the C++ engine,
# the others the library that writes the pixels (`_adapters`).
ZARR_BACKENDS = ("auto", "native", "tensorstore", "acquire-zarr", "zarrs-python", "zarr-python")
TIFF_BACKENDS = ("auto", "native", "tifffile")


@dataclass(frozen=True)
class BackendSpec:
    """A backend name users pass, and what it needs installed (ome-writers 0.3.2's extras)."""

    name: str
    modules: tuple[str, ...]  # import names, checked without importing them
    extra: str  # pip install 'ome-writers[<extra>]'
    min_python: tuple[int, int] = (3, 10)

    def missing(self) -> str | None:
        """Why the backend cannot be used here, or None when it can."""
        if sys.version_info[:2] < self.min_python:
            version = ".".join(map(str, self.min_python))
            return f"needs Python >= {version}"
        absent = [m for m in self.modules if importlib.util.find_spec(m) is None]
        if absent:
            return f"{', '.join(absent)} not installed"
        return None


# In 0.3.2's priority order; `_adapters.ADAPTERS` has their engines.
BACKENDS: dict[str, BackendSpec] = {
    spec.name: spec
    for spec in (
        BackendSpec("tensorstore", ("tensorstore",), "tensorstore", (3, 11)),
        BackendSpec("acquire-zarr", ("acquire_zarr",), "acquire-zarr"),
        BackendSpec("zarrs-python", ("zarr", "zarrs"), "zarrs-python", (3, 11)),
        BackendSpec("zarr-python", ("zarr",), "zarr-python", (3, 11)),
        BackendSpec("tifffile", ("tifffile",), "tifffile"),
    )
}


class Engine:
    """What `OMEStream` needs from an engine. Frames arrive already validated."""

    name = "engine"

    def append(self, frame: np.ndarray, metadata_json: str | None) -> float | None:
        """Write or queue `frame`; returns the seconds it waited for room, if it can tell."""
        raise NotImplementedError

    def append_borrowed(self, frame: np.ndarray, metadata_json: str | None) -> float | None:
        """Queue `frame` itself; the caller leaves it unchanged until it is written.

        Engines that cannot hold a caller's buffer copy it, as `append` does.
        """
        return self.append(frame, metadata_json)

    def skip(self, frames: int) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Make everything appended durable against a crash of this process."""

    def close(self) -> None:
        raise NotImplementedError

    def stats(self) -> dict[str, float]:
        return {}

    def get_metadata(self) -> Any:
        return None

    def update_metadata(self, metadata: Any) -> None:
        raise NotImplementedError(f"engine {self.name!r} has no metadata to update")

    def set_global_metadata(self, namespace: str, metadata_json: str) -> None:
        raise NotImplementedError

    def locate(self, frame_number: int) -> tuple[int, tuple[int, ...]]:
        """(position, storage index) of a frame."""
        raise NotImplementedError

    def read_frame(self, position: int, storage_index: tuple[int, ...]) -> np.ndarray | None:
        """An appended frame, or None where there is none (it reads as zeros)."""
        return None

    def read_level_frame(
        self, position: int, level: int, storage_index: tuple[int, ...]
    ) -> np.ndarray | None:
        """A plane of pyramid level `level`, or None until it is computed."""
        return None

    def levels(self) -> int:
        """Pyramid datasets, full resolution included."""
        return 1


class NativeEngine(Engine):
    """The C++ engine (`ome_writers._core.Stream`)."""

    name = "native"

    def __init__(self, settings: AcquisitionSettings, options: dict[str, Any]) -> None:
        from . import _core

        payload = json.loads(settings.model_dump_json())
        if options:
            payload["engine"] = options
        self._format = settings.format.name
        self._dtype = np.dtype(settings.dtype)
        self._frame_shape = tuple(int(d.count or 0) for d in settings.dimensions[-2:])
        self._core = _core.Stream(json.dumps(payload))

    def append(self, frame: np.ndarray, metadata_json: str | None) -> float:
        return self._core.append(frame, metadata_json)

    def append_borrowed(self, frame: np.ndarray, metadata_json: str | None) -> float:
        return self._core.append_borrowed(frame, metadata_json)

    def skip(self, frames: int) -> None:
        self._core.skip(frames)

    def flush(self) -> None:
        self._core.flush()

    def close(self) -> None:
        self._core.close()

    def stats(self) -> dict[str, float]:
        return dict(self._core.stats())

    def locate(self, frame_number: int) -> tuple[int, tuple[int, ...]]:
        position, index = self._core.locate(frame_number)
        return int(position), tuple(int(i) for i in index)

    def read_frame(self, position: int, storage_index: tuple[int, ...]) -> np.ndarray | None:
        out = np.empty(self._frame_shape, dtype=self._dtype)
        if self._core.read_frame(position, list(storage_index), out):
            return out
        return None

    def read_level_frame(
        self, position: int, level: int, storage_index: tuple[int, ...]
    ) -> np.ndarray | None:
        shape = tuple(int(n) for n in self._core.level_shape(position, level)[-2:])
        out = np.empty(shape, dtype=self._dtype)
        if self._core.read_level_frame(position, level, list(storage_index), out):
            return out
        return None

    def levels(self) -> int:
        return int(self._core.levels())

    def current_shape(self, position: int) -> tuple[int, ...]:
        return tuple(self._core.current_shape(position))

    def get_metadata(self) -> Any:
        docs = json.loads(self._core.metadata_json())
        if self._format == "ome-zarr":
            return docs
        try:
            from ome_types import from_xml
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                "get_metadata() for OME-TIFF returns ome_types.OME objects: pip install ome-types"
            ) from e
        return {int(k): from_xml(xml) for k, xml in docs.items()}

    def update_metadata(self, metadata: Any) -> None:
        # Exception classes and leading phrases are those of ome-writers 0.3.2,
        # which callers match on; the detail after them is ours.
        known = json.loads(self._core.metadata_json())
        if self._format == "ome-zarr":
            check_metadata_update(known, metadata)
            self._core.update_metadata_json(json.dumps(metadata))
            return
        # An empty update checks only the engine's rule that TIFF metadata is
        # updated after close (RuntimeError), before the argument checks, as
        # 0.3.2 orders them.
        self._core.update_metadata_json("{}")
        docs = tiff_metadata_documents(metadata, sorted(int(k) for k in known))
        self._core.update_metadata_json(json.dumps({str(k): xml for k, xml in docs.items()}))

    def set_global_metadata(self, namespace: str, metadata_json: str) -> None:
        self._core.set_global_metadata(namespace, metadata_json)


def check_metadata_update(known: dict[str, Any], metadata: Any) -> None:
    """Checks an OME-Zarr update_metadata() argument against the image groups."""
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    for key, attrs in metadata.items():
        if key not in known:
            raise KeyError(f"Unknown path: {key} (the groups are {sorted(known)})")
        if not isinstance(attrs, dict):
            raise TypeError(f"attributes for {key!r} must be a dict, got {type(attrs).__name__}")


def tiff_metadata_documents(metadata: Any, indices: list[int]) -> dict[int, str]:
    """The OME-XML of an OME-TIFF update_metadata() argument, by file index, checked."""
    if not isinstance(metadata, dict):
        raise TypeError(f"Expected dict[int, ome_types.model.OME] metadata, got {type(metadata)}")
    docs: dict[int, str] = {}
    for key, ome in metadata.items():
        to_xml = getattr(ome, "to_xml", None)
        if to_xml is None:
            raise TypeError(f"Expected ome_types.model.OME for position {key}, got {type(ome)}")
        if not isinstance(key, int) or isinstance(key, bool) or key not in indices:
            raise KeyError(f"Unknown position index: {key} (the file indices are {indices})")
        docs[key] = to_xml()
    return docs


def _native_unavailable_reason() -> str | None:
    try:
        from . import _core  # noqa: F401
    except ImportError as e:
        return f"the compiled module ome_writers._core cannot be imported ({e})"
    return None


def select_engine(settings: AcquisitionSettings, options: dict[str, Any]) -> Engine:
    """Pick and create the engine for `settings` (the backend-selection shim).

    Raises ValueError for an unknown or unavailable backend and
    NotImplementedError when no engine supports the settings; the message names
    every engine that was tried and why it was rejected.
    """
    fmt = settings.format
    if fmt.name == "scratch":
        from ._scratch import ScratchEngine

        return ScratchEngine(settings)
    allowed = ZARR_BACKENDS if fmt.name == "ome-zarr" else TIFF_BACKENDS
    if fmt.backend not in allowed:
        raise ValueError(
            f"Backend {fmt.backend!r} cannot write format {fmt.name!r}; "
            f"choose one of {list(allowed)}"
        )
    spec = BACKENDS.get(fmt.backend)
    if spec is not None and (missing := spec.missing()) is not None:
        raise ValueError(
            f"Backend {fmt.backend!r} is not available ({missing}). "
            f"Install with: pip install 'ome-writers[{spec.extra}]'"
        )
    from ._adapters import ADAPTERS, is_url

    backend = fmt.backend
    url = is_url(settings.root_path) or getattr(fmt, "kvstore", None) is not None
    if backend == "auto" and fmt.name == "ome-zarr" and url:
        # Only tensorstore reaches object storage: "auto" takes it for a URL.
        missing = BACKENDS["tensorstore"].missing()
        if missing is not None:
            raise ValueError(
                f"root_path {settings.root_path!r} is a URL, which only the tensorstore "
                f"backend writes, and it is not available ({missing}). "
                "Install with: pip install 'ome-writers[tensorstore]'"
            )
        backend = "tensorstore"
    adapter = ADAPTERS.get(backend)
    if adapter is not None:
        try:
            return adapter(settings, options)
        except NotImplementedError as e:
            raise NotImplementedError(f"Backend {backend!r} does not support settings: {e}") from e
    reason = _native_unavailable_reason()
    if reason is not None:
        raise ValueError(f"Could not find a compatible backend for {fmt.name!r}: native: {reason}")
    try:
        return NativeEngine(settings, options)
    except NotImplementedError as e:
        if fmt.backend == "auto":
            raise NotImplementedError(
                f"Could not find a compatible backend for {fmt.name!r}. Rejected: native: {e}"
            ) from e
        raise NotImplementedError(f"Backend {fmt.backend!r} does not support settings: {e}") from e
