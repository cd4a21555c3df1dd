"""Judges the files that the C++ consumer example (examples/cpp) wrote.

ctest runs the example, then this file with OME_WRITERS_CPP_OUTPUT set to its
output directory; in a plain pytest run there is nothing to judge.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

OUT = os.environ.get("OME_WRITERS_CPP_OUTPUT")
pytestmark = pytest.mark.skipif(not OUT, reason="run by ctest after examples/cpp wrote output")


def test_zarr_written_by_cpp_reads_back_with_zarr_and_tensorstore() -> None:
    import tensorstore as ts
    import zarr

    path = Path(OUT or "") / "cpp_example.ome.zarr"
    arr = zarr.open_array(path / "0", mode="r")
    assert arr.shape == (3, 2, 64, 48)
    data = arr[:]
    tsdata = (
        ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path / "0")}})
        .result()
        .read()
        .result()
    )
    np.testing.assert_array_equal(data, tsdata)
    for i in range(6):
        assert (data[i // 2, i % 2] == i).all()
    group = zarr.open_group(path, mode="r")
    frames = group.attrs["ome_writers"]["frame_metadata"]
    assert [f["frame"] for f in frames] == list(range(6))
    assert [f["storage_index"] for f in frames] == [[i // 2, i % 2] for i in range(6)]


def test_tiff_written_by_cpp_reads_back_with_tifffile() -> None:
    import tifffile
    from ome_types import from_tiff

    path = Path(OUT or "") / "cpp_example.ome.tiff"
    with tifffile.TiffFile(path) as tf:
        data = tf.series[0].asarray()
        assert tf.series[0].axes == "TCYX"
    assert data.shape == (3, 2, 64, 48)
    for i in range(6):
        assert (data[i // 2, i % 2] == i).all()
    ome = from_tiff(path)
    pixels = ome.images[0].pixels
    assert (pixels.size_t, pixels.size_c) == (3, 2)
    assert [c.name for c in pixels.channels] == ["DAPI", "GFP"]
