"""The strict pydantic base of every settings model, and the Literal aliases of their fields."""

from __future__ import annotations

import os
import sys
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    TypeAlias,
)

import pydantic
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

if TYPE_CHECKING:
    pass


class _BaseModel(BaseModel):
    """Strict base: unknown keys are errors and every assignment is validated.

    A failed assignment leaves the model exactly as it was (pydantic alone
    would keep the new value when a model-level validator rejects it).
    """

    model_config = ConfigDict(
        validate_default=True,
        validate_assignment=True,
        extra="forbid",
    )

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in type(self).model_fields:
            super().__setattr__(name, value)
            return
        before = dict(self.__dict__)
        try:
            super().__setattr__(name, value)
        except Exception:
            object.__setattr__(self, "__dict__", before)
            raise


_SKIPPED_DIRS = tuple(os.path.dirname(path) + os.sep for path in (__file__, pydantic.__file__))


def _caller_stacklevel() -> int:
    """`stacklevel` pointing at the first frame outside pydantic and this package.

    Warnings raised by validators then name the user's line, however deep the
    pydantic call chain is.
    """
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_SKIPPED_DIRS):
        frame = frame.f_back
        level += 1
    return level


# ---------------------------------------------------------------------------
# Literal aliases
# ---------------------------------------------------------------------------

FileFormat: TypeAlias = Literal["ome-tiff", "ome-zarr", "scratch"]
"""Output format identifiers (the `name` of a format model)."""

TiffBackendName: TypeAlias = Literal["tifffile", "native"]
"""Backends that can write OME-TIFF (all served by the native engine)."""

ZarrBackendName: TypeAlias = Literal[
    "native", "tensorstore", "acquire-zarr", "zarrs-python", "zarr-python"
]
"""Backends that can write OME-Zarr (all served by the native engine)."""

BackendName: TypeAlias = Literal[
    "tifffile", "native", "tensorstore", "acquire-zarr", "zarrs-python", "zarr-python"
]
"""Any backend name accepted by a format model."""

DimensionType: TypeAlias = Literal["space", "time", "channel", "position", "other"]
"""Kind of a dimension."""

StandardAxisKey: TypeAlias = Literal["x", "y", "z", "c", "t", "p"]
"""Names of the standard axes (see `StandardAxis`)."""

TiffCompression: TypeAlias = Literal["none", "lzw", "deflate", "zstd"]
"""Compression codecs available for OME-TIFF."""

ZarrCompression: TypeAlias = Literal["none", "blosc-zstd", "blosc-lz4", "zstd"]
"""Compression codecs available for OME-Zarr."""

Compression: TypeAlias = Literal["none", "lzw", "deflate", "zstd", "blosc-zstd", "blosc-lz4"]
"""Any compression name; `AcquisitionSettings` checks it against the format."""

NonEmptyStr: TypeAlias = Annotated[str, Field(min_length=1)]
"""A string with at least one character."""
