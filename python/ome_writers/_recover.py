"""Repair the metadata of an output whose writer process died before `close()`."""

from __future__ import annotations

import os

__all__ = ["recover"]


def recover(path: str | os.PathLike[str]) -> int:
    """Bring the metadata of a crashed stream's output up to date.

    `path` is the stream's `settings.output_path`. While a stream is open, the
    engine keeps a journal beside the data (per-frame metadata, positions); this
    folds it into the metadata files: for OME-Zarr the `zarr.json` documents
    (frame_metadata and array shapes), for OME-TIFF the OME-XML of every file
    (sizes, planes, annotations; a partly written last time point is completed
    with blank planes). Every frame that was appended before the last `flush()`
    is described afterwards. Returns the number of frames the journal described.
    """
    from . import _core

    return int(_core.recover(os.fspath(path)))
