"""Output formats: `OmeTiffFormat`, `OmeZarrFormat`, `ScratchFormat` and their string shortcuts."""

from __future__ import annotations

import json
import warnings
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    TypeAlias,
)

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from ._model_base import (
    FileFormat,
    TiffBackendName,
    ZarrBackendName,
    _BaseModel,
    _caller_stacklevel,
)

if TYPE_CHECKING:
    pass


# ---------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------

_TIFF_EXTS = (".tiff", ".tif")
_ZARR_EXTS = (".zarr",)


def _ome_stem_suffix(path: str) -> tuple[str, str]:
    """Split `path` into (stem, suffix) around a trailing ``[.ome].tif[f]|.zarr``.

    The returned suffix keeps ``.ome`` when present and is lowercase; an
    unrecognised extension gives ``(path, "")``:
    ``"a/img.OME.TIF"`` → ``("a/img", ".ome.tif")``,
    ``"a/img.ome.test"`` → ``("a/img.ome.test", "")``.
    """
    text = str(path)
    lower = text.lower()
    for ext in (*_TIFF_EXTS, *_ZARR_EXTS):
        if lower.endswith(ext):
            stem = text[: -len(ext)]
            if stem.lower().endswith(".ome"):
                return stem[:-4], ".ome" + ext
            return stem, ext
    return text, ""


def _suffix_kind(suffix: str) -> FileFormat | None:
    lower = suffix.lower()
    if lower.endswith(_TIFF_EXTS):
        return "ome-tiff"
    if lower.endswith(_ZARR_EXTS):
        return "ome-zarr"
    return None


def _engine_output_path(fmt: _BaseModel, root_path: str, num_positions: int) -> str:
    """The path the engine writes to: the output path rule lives in the C++ core."""
    from . import _core

    settings: dict[str, Any] = {
        "root_path": root_path,
        "dtype": "uint8",
        "dimensions": [{"name": "p", "type": "position", "count": max(num_positions, 1)}],
        "format": fmt.model_dump(mode="json"),
    }
    return str(_core.output_path(json.dumps(settings)))


class OmeTiffFormat(_BaseModel):
    """OME-TIFF output options."""

    name: Literal["ome-tiff"] = Field(default="ome-tiff", description="Format id.")
    backend: TiffBackendName | Literal["auto"] = Field(
        default="auto",
        description="'auto' or 'native' (the C++ engine), or 'tifffile' (pages written "
        "by tifffile, OME-XML by this package).",
    )
    suffix: str = Field(
        default=".ome.tiff",
        description="File extension of the TIFF file(s).",
    )
    prefer_single_file: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="'auto': one file for a single position, one file per "
        "position otherwise; 'always': one (multi-series) file even for several "
        "positions; 'never': one file per position even for a single position. "
        "True/False mean 'always'/'never'.",
    )
    multi_file_metadata: Literal["redundant", "master-tiff", "companion-file"] = Field(
        default="redundant",
        description="With one file per position: 'redundant' = full OME-XML "
        "in every file; 'master-tiff' = full OME-XML in the first file only; "
        "'companion-file' = full OME-XML in a separate companion file.",
    )
    companion_file: str = Field(
        default="companion.ome",
        description="File name of the companion OME-XML file.",
    )

    @field_validator("prefer_single_file", mode="before")
    @classmethod
    def _bool_to_mode(cls, value: Any) -> Any:
        if value is True:
            return "always"
        if value is False:
            return "never"
        return value

    def get_output_path(self, root_path: str, *, num_positions: int = 1) -> str:
        """The TIFF file path (single file) or the directory (one file per position)."""
        return _engine_output_path(self, root_path, num_positions)


class OmeZarrFormat(_BaseModel):
    """OME-Zarr (NGFF v0.5, Zarr v3) output options."""

    name: Literal["ome-zarr"] = Field(default="ome-zarr", description="Format id.")
    backend: ZarrBackendName | Literal["auto"] = Field(
        default="auto",
        description="'auto' or 'native' (the C++ engine; 'auto' picks tensorstore for a "
        "URL root_path), or the library that writes the arrays: 'tensorstore', "
        "'acquire-zarr', 'zarrs-python' or 'zarr-python' (metadata by this package).",
    )
    suffix: str = Field(default=".ome.zarr", description="Extension of the Zarr directory.")
    kvstore: dict[str, Any] | None = Field(
        default=None,
        description="A tensorstore kvstore spec (JSON) for the store's root, e.g. "
        "{'driver': 's3', 'bucket': 'lab', 'path': 'run1.ome.zarr/', 'endpoint': ...}; "
        "with backend='tensorstore' only. Overrides root_path as the place written.",
    )

    @model_serializer(mode="wrap")
    def _without_unset_kvstore(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Dumps stay 0.3.2's unless the extension is used.
        data = handler(self)
        if isinstance(data, dict) and data.get("kvstore") is None:
            data.pop("kvstore", None)
        return data

    def get_output_path(self, root_path: str, *, num_positions: int = 1) -> str:
        """The Zarr directory path (always one store)."""
        return _engine_output_path(self, root_path, num_positions)


class ScratchFormat(_BaseModel):
    """Non-standard scratch output: numpy arrays in memory or raw memmaps on disk."""

    name: Literal["scratch"] = Field(default="scratch", description="Format id.")
    backend: Literal["scratch"] = Field(default="scratch", description="The scratch backend.")
    max_memory_bytes: int = Field(
        default=4 * 1024**3,
        description="Memory budget; beyond it data spills to a temporary "
        "directory (spill_to_disk=True) or MemoryError is raised.",
    )
    suffix: str = Field(default="", description="Suffix of disk-backed files.")
    spill_to_disk: bool = Field(
        default=True,
        description="Spill to a temporary directory when over budget and no root_path is set.",
    )

    def get_output_path(self, root_path: str, *, num_positions: int = 1) -> str:
        """`root_path` unchanged."""
        return root_path


Format: TypeAlias = Annotated[
    OmeTiffFormat | OmeZarrFormat | ScratchFormat, Field(discriminator="name")
]
"""One of the format models, selected by `name`."""

# String shortcuts: name → (format model, backend). "native" and "auto" are
# resolved from the root_path suffix instead.
_FORMAT_STRINGS: dict[str, tuple[type[OmeTiffFormat | OmeZarrFormat], Any]] = {
    "ome-tiff": (OmeTiffFormat, "auto"),
    "tiff": (OmeTiffFormat, "auto"),
    "tifffile": (OmeTiffFormat, "tifffile"),
    "ome-zarr": (OmeZarrFormat, "auto"),
    "zarr": (OmeZarrFormat, "auto"),
    "tensorstore": (OmeZarrFormat, "tensorstore"),
    "acquire-zarr": (OmeZarrFormat, "acquire-zarr"),
    "zarrs-python": (OmeZarrFormat, "zarrs-python"),
    "zarr-python": (OmeZarrFormat, "zarr-python"),
}
_SCRATCH_STRINGS = ("scratch", "memory")


def _format_from_string(text: str, root_path: str) -> Any:
    """Resolve a format string (case-insensitive) against the root_path suffix."""
    key = text.strip().lower()
    _, suffix = _ome_stem_suffix(root_path)
    kind = _suffix_kind(suffix)
    if key in _SCRATCH_STRINGS:
        return ScratchFormat()
    if key == "auto":
        if root_path == "":
            return ScratchFormat()
        if kind is None:
            warnings.warn(
                f"Output format could not be inferred from root_path {root_path!r}; "
                "writing OME-Zarr. Name the format explicitly (e.g. "
                "format='ome-zarr') or give root_path a '.ome.zarr' or '.ome.tiff' "
                "extension: this may be an error in future versions.",
                UserWarning,
                stacklevel=_caller_stacklevel(),
            )
            return OmeZarrFormat()
        model: type[OmeTiffFormat | OmeZarrFormat]
        model = OmeTiffFormat if kind == "ome-tiff" else OmeZarrFormat
        return model(suffix=suffix)
    backend: Any
    if key == "native":
        model = OmeTiffFormat if kind == "ome-tiff" else OmeZarrFormat
        backend = "native"
    elif key in _FORMAT_STRINGS:
        model, backend = _FORMAT_STRINGS[key]
    else:
        known = sorted([*_FORMAT_STRINGS, *_SCRATCH_STRINGS, "auto", "native"])
        raise ValueError(f"Unknown format {text!r}; expected one of {known}.")
    # As in ome-writers 0.3.2, root_path's extension becomes the format's suffix
    # even when it names the other format (x.ome.tiff + "ome-zarr" writes a Zarr
    # store named x.ome.tiff); create_stream warns about such a contradiction.
    if suffix:
        return model(backend=backend, suffix=suffix)
    return model(backend=backend)
