"""A writer killed with SIGKILL loses nothing appended before its last flush()."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ome_writers
from conftest import frame_for, read_zarr_both
from ome_writers import AcquisitionSettings, Dimension, create_stream

WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    sys.path.insert(0, {tests!r})
    from conftest import frame_for
    from ome_writers import AcquisitionSettings, Dimension, create_stream

    fmt, root, flushed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    settings = AcquisitionSettings(
        root_path=root, format=fmt, dtype="uint16",
        dimensions=[Dimension(name="t", count=None, type="time"),
                    Dimension(name="c", count=2, type="channel"),
                    Dimension(name="y", count=32, chunk_size=16),
                    Dimension(name="x", count=24)],
    )
    stream = create_stream(settings)
    for i in range(flushed):
        meta = {{"i": i, "note": "x" * (i % 3)}}
        stream.append(frame_for(i, (32, 24), "uint16"), frame_metadata=meta)
    stream.flush()
    print("FLUSHED", flush=True)
    i = flushed
    while True:  # keeps writing until killed
        stream.append(frame_for(i, (32, 24), "uint16"), frame_metadata={{"i": i}})
        i += 1
        time.sleep(0.001)
    """
)

FLUSHED = 7


def kill_writer(tmp_path: Path, fmt: str) -> Path:
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(tests=str(Path(__file__).parent)))
    root = tmp_path / ("killed.ome.zarr" if fmt == "ome-zarr" else "killed.ome.tiff")
    proc = subprocess.Popen(
        [sys.executable, str(script), fmt, str(root), str(FLUSHED)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "FLUSHED"
        # Let it write a little past the flush, then kill it mid-stream.
        import time

        time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return root


def test_zarr_survives_sigkill(tmp_path: Path) -> None:
    root = kill_writer(tmp_path, "ome-zarr")
    # Readable as it is: data and metadata up to the flush.
    arr = read_zarr_both(root / "0")
    assert arr.shape[0] >= (FLUSHED + 1) // 2
    for i in range(FLUSHED):
        np.testing.assert_array_equal(arr[i // 2, i % 2], frame_for(i, (32, 24), "uint16"))
    attrs = json.loads((root / "zarr.json").read_text())["attributes"]
    assert [e["i"] for e in attrs["ome_writers"]["frame_metadata"]][:FLUSHED] == list(
        range(FLUSHED)
    )
    # recover() folds the journal: at least everything up to the flush.
    recovered = ome_writers.recover(root)
    assert recovered >= FLUSHED
    attrs = json.loads((root / "zarr.json").read_text())["attributes"]
    entries = attrs["ome_writers"]["frame_metadata"]
    assert [e["i"] for e in entries] == list(range(len(entries)))
    assert entries[4] == {"i": 4, "note": "x", "storage_index": [2, 0]}
    assert not (root / "ome_writers.journal.jsonl").exists()


def test_tiff_survives_sigkill(tmp_path: Path, ome_schema) -> None:  # type: ignore[no-untyped-def]
    import ome_types
    import tifffile

    root = kill_writer(tmp_path, "ome-tiff")
    with tifffile.TiffFile(root) as tf:
        pages = len(tf.pages)
        assert pages >= FLUSHED
        for i in range(FLUSHED):
            np.testing.assert_array_equal(tf.pages[i].asarray(), frame_for(i, (32, 24), "uint16"))
        # The OME-XML rewritten at flush() already describes the flushed planes.
        px = ome_types.from_xml(tf.ome_metadata).images[0].pixels
        assert px.tiff_data_blocks[0].plane_count >= FLUSHED
    journal = Path(str(root) + ".journal.jsonl")
    assert journal.exists()
    frames = ome_writers.recover(root)
    assert frames >= FLUSHED
    assert not journal.exists()
    with tifffile.TiffFile(root) as tf:
        ome_schema.validate(tf.ome_metadata)
        series = tf.series[0]
        assert series.axes == "TCYX"
        data = series.asarray()
    with tifffile.TiffFile(root) as tf:
        assert data.shape[0] * 2 == len(tf.pages)
    for i in range(frames):
        np.testing.assert_array_equal(data[i // 2, i % 2], frame_for(i, (32, 24), "uint16"))
    planes = ome_types.from_tiff(root).images[0].pixels.planes
    assert len(planes) >= FLUSHED
    assert [(p.the_t, p.the_c) for p in planes[:4]] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_recover_rejects_a_path_without_journal(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="neither"):
        ome_writers.recover(tmp_path / "nothing.ome.tiff")


_SYNC_COUNTER = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
static long calls;
long ome_writers_test_sync_calls(void) { return calls; }
#define WRAP(name)                                              \
  int name(int fd) {                                            \
    static int (*real)(int);                                    \
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, #name);    \
    __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);            \
    return real(fd);                                            \
  }
WRAP(fsync)
WRAP(fdatasync)
WRAP(syncfs)
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler for the counter")
@pytest.mark.parametrize("name", ["sync.ome.zarr", "sync.ome.tiff"])
def test_flush_syncs_to_stable_storage(tmp_path: Path, name: str) -> None:
    """flush() makes its writes durable (fsync, fdatasync or syncfs), not only visible
    to other processes: counted by a preloaded wrapper of those calls."""
    shim = tmp_path / "sync_counter.so"
    source = tmp_path / "sync_counter.c"
    source.write_text(_SYNC_COUNTER)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(shim), str(source), "-ldl"], check=True)
    script = f"""
import ctypes, json
import numpy as np
from ome_writers import AcquisitionSettings, Dimension, create_stream
calls = ctypes.CDLL({str(shim)!r}).ome_writers_test_sync_calls
s = AcquisitionSettings(root_path={str(tmp_path / name)!r}, dtype="uint16",
    dimensions=[Dimension(name="t", count=None, type="time"),
                Dimension(name="y", count=8), Dimension(name="x", count=8)])
stream = create_stream(s)
for i in range(3):
    stream.append(np.full((8, 8), i, np.uint16), frame_metadata={{"i": i}})
before = calls()
stream.flush()
after_flush = calls()
stream.append(np.full((8, 8), 3, np.uint16))
stream.close()
print(json.dumps([before, after_flush]))
"""
    env = {**os.environ, "LD_PRELOAD": str(shim)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    before, after_flush = json.loads(done.stdout.strip().splitlines()[-1])
    assert after_flush > before


EARLY = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from ome_writers import AcquisitionSettings, Dimension, create_stream

    settings = AcquisitionSettings(
        root_path=sys.argv[1], dtype="uint16",
        dimensions=[Dimension(name="t", count=50, type="time"),
                    Dimension(name="y", count=8), Dimension(name="x", count=8)],
    )
    stream = create_stream(settings, checkpoint_interval=3600)
    for i in range(3):
        stream.append(np.full((8, 8), i + 1, "uint16"), frame_metadata={"i": i})
    while stream.stats()["frames_written"] < 3:  # handed to the writer, not checkpointed
        time.sleep(0.001)
    print("APPENDED", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("fmt", ["ome-zarr", "ome-tiff"])
def test_recover_after_a_kill_before_any_checkpoint(tmp_path: Path, fmt: str) -> None:
    """Killed before its first checkpoint: recover() still works (the TIFF journal's
    head is on disk from the start) and leaves an output the readers open."""
    script = tmp_path / "early.py"
    script.write_text(EARLY)
    root = tmp_path / ("early.ome.zarr" if fmt == "ome-zarr" else "early.ome.tiff")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "APPENDED"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    frames = ome_writers.recover(root)
    assert frames >= 0
    leftovers = [p.name for p in tmp_path.rglob("*") if ".tmp" in p.name or "journal" in p.name]
    assert leftovers == []
    if fmt == "ome-tiff":
        import tifffile

        with tifffile.TiffFile(root) as tf:
            assert len(tf.pages) >= 1
            np.testing.assert_array_equal(tf.pages[0].asarray(), np.full((8, 8), 1, "uint16"))
    else:
        data = read_zarr_both(root / "0")
        assert data.shape == (50, 8, 8)


@pytest.mark.parametrize("fmt", ["ome-zarr", "ome-tiff"])
def test_idle_stream_gets_its_paced_metadata_in_place(tmp_path: Path, fmt: str) -> None:
    """A checkpoint may leave a large document for later (its rewrites are paced to
    ~5% of the writer's time); an idle stream still gets it in place, one interval on."""
    import time

    frames = 20_000
    settings = AcquisitionSettings(
        root_path=str(tmp_path / ("idle.ome.zarr" if fmt == "ome-zarr" else "idle.ome.tiff")),
        dtype="uint16",
        dimensions=[Dimension(name="t", count=None), Dimension(name="y", count=4),
                    Dimension(name="x", count=4)],
    )  # fmt: skip
    frame = np.zeros((4, 4), "uint16")

    def in_place() -> int:
        """Frames whose metadata the documents in the output hold now."""
        if fmt == "ome-zarr":
            attrs = json.loads((Path(settings.output_path) / "zarr.json").read_text())
            return len(attrs["attributes"]["ome_writers"]["frame_metadata"])
        import tifffile

        with tifffile.TiffFile(settings.output_path) as tf:
            return tf.ome_metadata.count("<Plane ")

    with create_stream(settings, checkpoint_interval=0.05) as stream:
        for i in range(frames):
            stream.append(frame, frame_metadata={"i": i, "label": "x"})
        # Idle from here: only the periodic checkpoint can bring the documents up to date.
        deadline = time.monotonic() + 60
        while in_place() < frames and time.monotonic() < deadline:
            time.sleep(0.05)
        assert in_place() == frames
