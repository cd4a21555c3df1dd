"""`Pyramid`: multiscale levels written during acquisition (OME-Zarr, OME-TIFF)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, field_validator

from ._model_base import _BaseModel

DownsampleMethod = Literal["mean", "min", "max", "decimate", "mode"]

# The engine's limit: past it a level would be below one pixel for any frame.
_MAX_LEVELS = 32


class Pyramid(_BaseModel):
    """Reduced-resolution levels computed by the writer while frames arrive.

    Each level halves y and x of the level above it (and z with
    ``downsample_z``), rounding odd sizes up: an edge pixel summarises the
    pixels of its block that exist. OME-Zarr stores the levels as datasets
    "1".."n" of each image's multiscales; OME-TIFF as SubIFDs of each plane.
    """

    levels: int | Literal["auto"] = Field(
        default="auto",
        description="Datasets in all, full resolution included (1 = no "
        "pyramid), or 'auto': halve until a level fits one y/x chunk (the "
        "chunk_size of y and x when set below the frame, else 256 x 256).",
    )
    method: DownsampleMethod = Field(
        default="mean",
        description="'mean' (integers rounded half to even), 'min', 'max', "
        "'decimate' (the top-left pixel of each block) or 'mode' (most frequent "
        "value, ties to the smallest; label data, integer or bool dtypes).",
    )
    downsample_z: StrictBool = Field(
        default=False,
        description="Halve z too (OME-Zarr; z must be stored with a chunk_size above 1).",
    )

    @field_validator("levels", mode="before")
    @classmethod
    def _check_levels(cls, value: Any) -> Any:
        if isinstance(value, bool) or not (
            value == "auto" or (isinstance(value, int) and 1 <= value <= _MAX_LEVELS)
        ):
            raise ValueError(
                f"pyramid levels must be a whole number from 1 (no pyramid) to "
                f"{_MAX_LEVELS}, or 'auto'; got {value!r}"
            )
        return value

    @field_validator("method", mode="before")
    @classmethod
    def _check_method(cls, value: Any) -> Any:
        if value not in ("mean", "min", "max", "decimate", "mode"):
            raise ValueError(
                f"invalid pyramid method {value!r} (expected one of: mean, min, max, "
                "decimate, mode)"
            )
        return value


def _pyramid_shorthand(value: Any) -> Any:
    """``pyramid=4`` or ``pyramid="auto"`` mean ``Pyramid(levels=...)``."""
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return {"levels": value}
    return value
