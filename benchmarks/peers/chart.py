"""The PNG bar chart: drain and enqueue rates at the largest N, median with range.

matplotlib is imported here only, lazily, with the Agg backend: a machine
without it still gets the markdown and JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.peers.aggregate import Sample, Summary, group
from benchmarks.peers.report import lookup
from benchmarks.peers.workloads import Plan, conc_label


def _bars(ax: Any, peers: Sequence[str], series: list[tuple[str, list[Summary | None]]]) -> None:
    width = 0.8 / max(1, len(series))
    for i, (label, summaries) in enumerate(series):
        xs = [j + i * width for j in range(len(peers))]
        meds = [s.median if s and s.median is not None else 0.0 for s in summaries]
        lows = [
            m - (s.low or m) if s and s.median is not None else 0.0
            for m, s in zip(meds, summaries, strict=True)
        ]
        highs = [
            (s.high or m) - m if s and s.median is not None else 0.0
            for m, s in zip(meds, summaries, strict=True)
        ]
        ax.bar(xs, meds, width, label=label, yerr=[lows, highs], capsize=2)
        for x, summary in zip(xs, summaries, strict=True):
            if summary is None or summary.median is None:  # say why there is no bar
                mark = "n/a" if summary is None else "failed"
                ax.text(x, 0, mark, rotation=90, ha="center", va="bottom", fontsize="x-small")
    ax.set_xticks([j + width * (len(series) - 1) / 2 for j in range(len(peers))])
    ax.set_xticklabels(peers)
    ax.set_ylabel("jobs/s")
    ax.legend(fontsize="small")


def render(path: Path, plan: Plan, peers: Sequence[str], samples: list[Sample]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    s, n = group(samples), max(plan.sizes)
    drain = [
        (f"{pr} proc, conc {conc_label(c)}",
         [lookup(s, p, "drain", n=n, procs=pr, concurrency=conc_label(c)) for p in peers])
        for pr in plan.procs for c in (None, plan.alt_concurrency)
    ]  # fmt: skip
    enqueue = [
        (m, [lookup(s, p, "enqueue", n=n, mode=m) for p in peers]) for m in ("single", "bulk")
    ]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8))
    _bars(top, peers, drain)
    top.set_title(f"Drain rate, N = {n:,} (median, bar = min-max)")
    _bars(bottom, peers, enqueue)
    bottom.set_title(f"Enqueue rate, N = {n:,}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
