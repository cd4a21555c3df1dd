"""Condense benchmarks/results/latest.json into the README's table.

    .venv/bin/python benchmarks/summary.py [--update-readme]

Prints (or writes between the README's `<!-- bench:start -->` / `<!-- bench:end -->`
markers) one row per case and output format: our durable MB/s, the limit it is held to
(the disk's: O_DIRECT writes of the same bytes; for compressed rows the codec's alone on
every core) and the ratio to it (copying and with `copy=False`), the best peer's MB/s and
the ratio to it, CPU s/GB, peak RSS growth, the p99 of `append` (while the queue has room)
over a hot memcpy of one frame, and the median `create_stream` time.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).parent
README = HERE.parent / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def table(data: dict) -> str:
    """The Markdown summary of one run."""
    m = data["machine"]
    fs = data["filesystem"]
    lines = [
        f"Run {data['date']} (`{data['command']}`), {m['nproc']} cores ({m['cpu_model']}), "
        f"{m['ram_gib']} GiB RAM, {fs['type']} on {fs['device']}; medians of {data['repeats']} "
        "runs; every run's files verified by an independent reader.",
        "",
        "| case | ours | durable MB/s | limit MB/s | ÷ limit (copy=False) | best peer (MB/s) "
        "| ÷ best peer | CPU s/GB (peer) | RSS growth MiB | append p99 ÷ memcpy (copy=False) "
        "| create ms |",
        "|---|---|--:|--:|--:|---|--:|--:|--:|--:|--:|",
    ]
    for case, rows in data["summaries"].items():
        direct = next((r for r in rows if r["engine"] == "raw-direct"), None)
        for r in rows:
            if r["engine"] != "ours" or r.get("status") != "OK":
                continue
            peer = next(
                (p for p in rows if p["row"] == r.get("best_peer") and p.get("status") == "OK"),
                None,
            )
            cpu_peer = next((p for p in rows if p["row"] == r.get("cpu_best_peer")), None)
            label = r["row"].removeprefix("ours ")
            peer_text = f"{peer['row']} ({peer['mbps_durable']:.0f})" if peer else "—"
            ratio_peer = f"{r['ratio_best_peer']:.2f}×" if r.get("ratio_best_peer") else "—"
            nocopy = next(
                (
                    p
                    for p in rows
                    if p["engine"] == "ours-nocopy"
                    and p.get("status") == "OK"
                    and (p["format"], p["compression"]) == (r["format"], r["compression"])
                ),
                None,
            )
            p99 = f"{r['p99_over_memcpy']:.1f}×" if r.get("p99_over_memcpy") else "—"
            if nocopy and nocopy.get("p99_over_memcpy") is not None:
                p99 += f" ({nocopy['p99_over_memcpy']:.2f}×)"
            cpu = f"{r['cpu_s_per_gb']:.2f}"
            if cpu_peer:
                cpu += f" ({cpu_peer['cpu_s_per_gb']:.2f})"
            key = "ratio_codec" if r["compression"] else "ratio_direct"
            limit = direct
            if r["compression"]:
                limit = next(
                    (
                        p
                        for p in rows
                        if p["engine"] == "codec"
                        and (p["format"], p["compression"]) == (r["format"], r["compression"])
                    ),
                    None,
                )
            limit_text = f"{limit['mbps_durable']:.0f}" if limit else "—"
            ratio = f"{r[key]:.2f}×" if r.get(key) else "—"
            if nocopy and nocopy.get(key):
                ratio += f" ({nocopy[key]:.2f}×)"
            create = f"{r['create_ms']:.0f}" if r.get("create_ms") is not None else "—"
            lines.append(
                f"| {case} | {label} | {r['mbps_durable']:.0f} | {limit_text} | {ratio} | "
                f"{peer_text} | {ratio_peer} | {cpu} | {r['rss_growth_max_mib']:.0f} | {p99} "
                f"| {create} |"
            )
    lines += ["", "![durable MB/s per case and engine](benchmarks/results/latest.png)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(HERE / "results" / "latest.json"))
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    text = table(json.loads(Path(args.results).read_text()))
    if not args.update_readme:
        print(text)
        return
    readme = README.read_text()
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}")


if __name__ == "__main__":
    main()
