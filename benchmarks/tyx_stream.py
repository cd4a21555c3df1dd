"""The t × y × x uint16 stream that copy_stalls.py and first_appends.py time, and its
read-back by an independent reader (zarr-python or tifffile)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ome_writers import AcquisitionSettings, Dimension, create_stream


def output(where: Path, fmt: str) -> Path:
    return where / ("s.ome.zarr" if fmt == "ome-zarr" else "s.ome.tiff")


def open_stream(out: Path, fmt: str, frames: int, px: int) -> Any:
    return create_stream(
        AcquisitionSettings(
            root_path=str(out),
            dimensions=[
                Dimension(name="t", count=frames, type="time"),
                Dimension(name="y", count=px, type="space"),
                Dimension(name="x", count=px, type="space"),
            ],
            dtype="uint16",
            format=fmt,
            overwrite=True,
        )
    )


def read_back(out: Path, fmt: str, frames: int, px: int) -> np.ndarray:
    """The frames as written, shape (frames, px, px)."""
    if fmt == "ome-zarr":
        import zarr

        data = np.asarray(zarr.open_array(str(out / "0"), mode="r"))
    else:
        import tifffile

        data = tifffile.imread(str(out))
    return data.reshape(frames, px, px)
