"""Demo acquisition: stream a small multi-channel z-stack time-lapse to OME-Zarr and OME-TIFF.

Usage: python examples/demo_acquisition.py [-h] [OUTPUT_DIR]   (default: ./out)

Frames are synthetic (a moving spot on a gradient, different per channel); every
frame carries metadata as a camera program would give it. The script prints
where each output is and what an independent reader sees in it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ome_writers import AcquisitionSettings, Channel, Dimension, create_stream

OUT = Path("out")
T, C, Z, Y, X = 4, 2, 5, 256, 256


def synthetic_frame(t: int, c: int, z: int) -> np.ndarray:
    yy, xx = np.mgrid[0:Y, 0:X]
    cy, cx = Y / 2 + 40 * np.sin(t / 2), X / 2 + 40 * np.cos(t / 2)
    spot = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (6 + 2 * abs(z - Z // 2)) ** 2))
    frame = 500 + 100 * c + 3000 * (c + 1) * spot + xx
    return frame.astype(np.uint16)


def acquire(fmt: str) -> str:
    settings = AcquisitionSettings(
        root_path=str(OUT / "demo"),
        format=fmt,
        dimensions=[
            Dimension(name="t", count=T, type="time", unit="second", scale=2.0),
            Dimension(
                name="c",
                type="channel",
                coords=[Channel(name="DAPI", color="blue"), Channel(name="GFP", color="green")],
            ),
            Dimension(name="z", count=Z, type="space", unit="um", scale=0.5),
            Dimension(name="y", count=Y, type="space", unit="um", scale=0.2, chunk_size=128),
            Dimension(name="x", count=X, type="space", unit="um", scale=0.2, chunk_size=128),
        ],
        dtype="uint16",
        compression="zstd",
        overwrite=True,
    )
    start = time.perf_counter()
    with create_stream(settings) as stream:
        for t in range(T):
            for c in range(C):
                for z in range(Z):
                    stream.append(
                        synthetic_frame(t, c, z),
                        frame_metadata={
                            "delta_t": t * 2.0 + c * 0.05 + z * 0.01,
                            "exposure_time": 0.01,
                            "position_z": z * 0.5,
                            "laser_power": 10.0 + c,
                        },
                    )
    elapsed = time.perf_counter() - start
    print(f"{fmt:9s} wrote {T * C * Z} frames in {elapsed:.2f} s -> {settings.output_path}")
    return settings.output_path


def describe(zarr_path: str, tiff_path: str) -> None:
    try:
        import tifffile
        import zarr
    except ImportError:
        return
    arr = zarr.open_array(Path(zarr_path) / "0", mode="r")
    group = zarr.open_group(zarr_path, mode="r")
    axes = [a["name"] for a in group.attrs["ome"]["multiscales"][0]["axes"]]
    print(f"  zarr-python sees {arr.shape} {arr.dtype} axes={axes}")
    with tifffile.TiffFile(tiff_path) as tf:
        series = tf.series[0]
        print(f"  tifffile sees   {series.shape} {series.dtype} axes={series.axes}")
    same = np.array_equal(arr[:], tifffile.imread(tiff_path))
    print(f"  pixel data identical in both files: {same}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="demo_acquisition.py",
        description="Stream a small synthetic acquisition (4 t x 2 c x 5 z, 256x256 uint16) "
        "to OME-Zarr and OME-TIFF, then say what readers see in them.",
    )
    parser.add_argument(
        "output_dir", nargs="?", default="out", help="where demo.ome.zarr and demo.ome.tiff go"
    )
    OUT = Path(parser.parse_args().output_dir)
    OUT.mkdir(parents=True, exist_ok=True)
    zarr_out = acquire("ome-zarr")
    tiff_out = acquire("ome-tiff")
    describe(zarr_out, tiff_out)
