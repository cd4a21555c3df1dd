"""Child of the kill torture (kill_harness.py): streams until it is killed with SIGKILL.

Argument: a JSON object (root, layout, checkpoint_interval, fps, flush_every, idle_after).
Stdout, one line per event with its CLOCK_MONOTONIC time (system-wide, so the parent can
compare it with the moment of the kill): `A <i> <t>` once append(frame i) has returned,
`F <n> <t>` once flush() has returned (frames < n acknowledged), `I <n> <t>` when it stops
appending and idles.
"""

from __future__ import annotations

import inspect
import json
import sys
import time

from kill_harness import LAYOUTS, frame_metadata, frame_pixels, settings_for
from ome_writers import create_stream


def main() -> None:
    spec = json.loads(sys.argv[1])
    layout = LAYOUTS[spec["layout"]]
    kwargs = {}
    # Until issue #14 lands, create_stream has no checkpoint_interval (its default is 1.0).
    if "checkpoint_interval" in inspect.signature(create_stream).parameters:
        kwargs["checkpoint_interval"] = spec["checkpoint_interval"]
    stream = create_stream(settings_for(layout, spec["root"]), **kwargs)
    total = layout.total_frames
    period = 1.0 / spec["fps"]
    flush_every = spec["flush_every"]
    idle_after = spec["idle_after"]
    out = sys.stdout
    t_first = None
    i = 0
    while total is None or i < total:
        stream.append(frame_pixels.__wrapped__(i), frame_metadata=frame_metadata(i))
        now = time.monotonic()
        out.write(f"A {i} {now!r}\n")
        out.flush()
        if t_first is None:
            t_first = now
        i += 1
        if flush_every and i % flush_every == 0:
            stream.flush()
            out.write(f"F {i} {time.monotonic()!r}\n")
            out.flush()
        if idle_after is not None and now - t_first >= idle_after:
            break
        time.sleep(max(0.0, t_first + i * period - time.monotonic()))
    out.write(f"I {i} {time.monotonic()!r}\n")
    out.flush()
    while True:  # idle, stream open, until killed
        time.sleep(3600)


if __name__ == "__main__":
    main()
