"""Acquisition settings: the pydantic models that describe what will be written.

The models live in one module per concept: `_model_base` (the strict base
model and the Literal aliases), `_coords` (channels, positions, plates),
`_dimensions` (standard axes, dtypes, `Dimension`), `_formats` (the output
formats) and `_settings` (`AcquisitionSettings`). This module gathers them
under the name ome-writers 0.3.2 code imports them from.
"""

from __future__ import annotations

from ._coords import Channel, Plate, Position, _row_label
from ._dimensions import (
    Dimension,
    PositionDimension,
    StandardAxis,
    is_channel_dim,
    is_position_dim,
    is_spatial_dim,
)
from ._formats import Format, OmeTiffFormat, OmeZarrFormat, ScratchFormat, _ome_stem_suffix
from ._model_base import (
    BackendName,
    Compression,
    DimensionType,
    FileFormat,
    StandardAxisKey,
    TiffBackendName,
    TiffCompression,
    ZarrBackendName,
    ZarrCompression,
    _caller_stacklevel,
)
from ._pyramid import DownsampleMethod, Pyramid
from ._settings import AcquisitionSettings, dims_from_standard_axes

__all__ = [
    "AcquisitionSettings",
    "BackendName",
    "Channel",
    "Compression",
    "Dimension",
    "DimensionType",
    "DownsampleMethod",
    "FileFormat",
    "Format",
    "OmeTiffFormat",
    "OmeZarrFormat",
    "Plate",
    "Position",
    "PositionDimension",
    "Pyramid",
    "ScratchFormat",
    "StandardAxis",
    "StandardAxisKey",
    "TiffBackendName",
    "TiffCompression",
    "ZarrBackendName",
    "ZarrCompression",
    "_caller_stacklevel",
    "_ome_stem_suffix",
    "_row_label",
    "dims_from_standard_axes",
    "is_channel_dim",
    "is_position_dim",
    "is_spatial_dim",
]
