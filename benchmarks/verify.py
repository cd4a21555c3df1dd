"""Check a benchmark run's output with independent readers (zarr-python, tifffile).

Runs in the project's own environment, after the worker has exited:

    python verify.py RESULT.json      # prints {"ok": ..., "frames_checked": ..., "message": ...}

Every frame carries its acquisition number in its first 8 bytes and one of a few known
contents after them (see worker.py), so the check is exact: each position's array (or
TIFF file, or the raw file) must hold exactly its frames, each at its expected index, with
the expected stamp and content CRC.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from worker import content_crc, frame_layout, read_stamp


class VerificationError(AssertionError):
    """The output does not hold the frames that were appended."""


def _zarr_frames(path: str, shape: tuple[int, ...], dtype: np.dtype) -> Iterator[np.ndarray]:
    import zarr

    arr = zarr.open_array(store=path, mode="r")
    if tuple(arr.shape) != shape:
        raise VerificationError(f"{path}: shape {tuple(arr.shape)} != expected {shape}")
    if np.dtype(arr.dtype) != dtype:
        raise VerificationError(f"{path}: dtype {arr.dtype} != expected {dtype}")
    frame_shape = shape[-2:]
    if len(shape) == 2:
        yield np.asarray(arr[...])
        return
    per_row = int(np.prod(shape[1:-2], dtype=np.int64))
    step = max(1, (64 << 20) // max(1, per_row * int(np.prod(frame_shape)) * dtype.itemsize))
    for start in range(0, shape[0], step):
        block = np.asarray(arr[start : start + step]).reshape(-1, *frame_shape)
        yield from block


def _tiff_frames(path: str, count: int, frame_shape: tuple[int, int], dtype: np.dtype):
    import tifffile

    with tifffile.TiffFile(path) as tf:
        pages = tf.pages
        if len(pages) != count:
            raise VerificationError(f"{path}: {len(pages)} pages != expected {count}")
        for k in range(count):
            page = pages[k]
            data = page.asarray()  # type: ignore[union-attr]
            if data.shape != frame_shape or data.dtype != dtype:
                raise VerificationError(
                    f"{path}: page {k} is {data.shape} {data.dtype}, expected {frame_shape} {dtype}"
                )
            yield data


def _raw_frames(path: str, count: int, frame_shape: tuple[int, int], dtype: np.dtype):
    expected = count * int(np.prod(frame_shape)) * dtype.itemsize
    size = os.path.getsize(path)
    if size != expected:
        raise VerificationError(f"{path}: {size} bytes != expected {expected}")
    mm = np.memmap(path, dtype=dtype, mode="r", shape=(count, *frame_shape))
    yield from mm


def _raw_file_frames(root: str, count: int, frame_shape: tuple[int, int], dtype: np.dtype):
    expected = int(np.prod(frame_shape)) * dtype.itemsize
    for i in range(count):
        path = os.path.join(root, str(i), "0", "0")
        size = os.path.getsize(path)
        if size != expected:
            raise VerificationError(f"{path}: {size} bytes != expected {expected}")
        yield np.fromfile(path, dtype=dtype).reshape(frame_shape)


def verify(result: dict[str, Any]) -> dict[str, Any]:
    """Read every output of a run and compare each frame; never raises."""
    try:
        checked = _verify(result)
        return {"ok": True, "frames_checked": checked, "message": ""}
    except VerificationError as e:
        return {"ok": False, "frames_checked": 0, "message": str(e)}
    except Exception as e:  # an unreadable output is a failed run too
        return {"ok": False, "frames_checked": 0, "message": f"{type(e).__name__}: {e}"}


def _verify(result: dict[str, Any]) -> int:
    job = result["job"]
    if job["engine"] in ("codec", "codec-copied", "codec-fresh"):
        return 0  # the codec baselines write nothing
    case = job["case"]
    layout = frame_layout(case)
    dtype = np.dtype(case["dtype"])
    frame_shape = layout["frame_shape"]
    nbuf, npool, crcs = result["nbuf"], result["npool"], result["pool_crc32"]
    position, local = layout["position"], layout["local"]
    checked = 0
    for out in result["outputs"]:
        if out["kind"] in ("raw", "raw-files"):
            expected_ids = np.arange(case["frames"], dtype=np.int64)
        else:
            p = out["position"]
            ids = np.nonzero(position == p)[0]
            expected_ids = np.empty(len(ids), np.int64)
            expected_ids[local[ids]] = ids
        count = len(expected_ids)
        if out["kind"] == "zarr":
            shape = (*layout["array_counts"], *frame_shape)
            frames = _zarr_frames(out["path"], shape, dtype)
        elif out["kind"] == "tiff":
            frames = _tiff_frames(out["path"], count, frame_shape, dtype)
        elif out["kind"] == "raw-files":
            frames = _raw_file_frames(out["path"], count, frame_shape, dtype)
        else:
            frames = _raw_frames(out["path"], count, frame_shape, dtype)
        k = -1
        for k, data in enumerate(frames):
            if k >= count:
                raise VerificationError(f"{out['path']}: more than {count} frames")
            want = int(expected_ids[k])
            got = read_stamp(data)
            if got != want:
                raise VerificationError(
                    f"{out['path']}: plane {k} holds frame {got}, expected frame {want}"
                )
            if content_crc(data) != crcs[(want % nbuf) % npool]:
                raise VerificationError(f"{out['path']}: plane {k} (frame {want}) is corrupt")
            checked += 1
        if k + 1 != count:
            raise VerificationError(f"{out['path']}: {k + 1} frames, expected {count}")
    if checked != case["frames"]:
        raise VerificationError(f"checked {checked} frames, expected {case['frames']}")
    return checked


def main(argv: list[str]) -> int:
    """Entry point: `verify.py RESULT.json`; prints the verdict as JSON, exit 0 if ok."""
    with open(argv[1]) as f:
        result = json.load(f)
    verdict = verify(result)
    print(json.dumps(verdict))
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
