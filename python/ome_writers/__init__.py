"""OME-Zarr v0.5 and OME-TIFF streaming writers with a C++ core.

A drop-in replacement for the ``ome-writers`` 0.3.2 Python API.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._coord_tracker import CoordUpdate
from ._recover import recover
from ._schema import (
    AcquisitionSettings,
    Channel,
    Dimension,
    OmeTiffFormat,
    OmeZarrFormat,
    Plate,
    Position,
    PositionDimension,
    Pyramid,
    ScratchFormat,
    StandardAxis,
    dims_from_standard_axes,
)
from ._stream import OMEStream, create_stream
from ._useq import dims_from_useq, useq_to_acquisition_settings

try:
    __version__ = version("ome-writers")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "AcquisitionSettings",
    "Channel",
    "CoordUpdate",
    "Dimension",
    "OMEStream",
    "OmeTiffFormat",
    "OmeZarrFormat",
    "Plate",
    "Position",
    "PositionDimension",
    "Pyramid",
    "ScratchFormat",
    "StandardAxis",
    "__version__",
    "create_stream",
    "dims_from_standard_axes",
    "dims_from_useq",
    "recover",
    "useq_to_acquisition_settings",
]
