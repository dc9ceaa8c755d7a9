"""``sluice info``: the queue's stats snapshot (what the autoscaler reads)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from sluice.cli.common import EXIT_OK, add_json_flag, open_queue, output
from sluice.stats import Histogram, QueueStats


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "info",
        parents=[common],
        help="show queue stats",
        description="Show the queue's backlog, counters, times and workers.",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_queue(args) as queue:
        stats = queue.stats()
    output(args, as_dict(stats), render(stats))
    return EXIT_OK


def _quantiles(h: Histogram) -> dict[str, float | None]:
    return {
        "count": h.count,
        "sum": h.total,
        "mean": h.mean(),
        "p50": h.quantile(0.5),
        "p99": h.quantile(0.99),
    }


def as_dict(stats: QueueStats) -> dict[str, Any]:
    return {
        "queue": stats.queue,
        "taken_at": stats.taken_at,
        "ready": {p.name.lower(): n for p, n in sorted(stats.ready.items())},
        "backlog": stats.backlog,
        "delayed_due": stats.delayed_due,
        "delayed_total": stats.delayed_total,
        "blocked": stats.blocked,
        "in_flight": stats.in_flight,
        "dead": stats.dead,
        "oldest_age_s": stats.oldest_age_s,
        "counters": dataclasses.asdict(stats.counters),
        "service_time_s": _quantiles(stats.service_time),
        "wait_time_s": _quantiles(stats.wait_time),
        "workers": [dataclasses.asdict(w) for w in stats.workers],
        "busy_slots": stats.busy_slots,
        "total_slots": stats.total_slots,
    }


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}s"


def render(stats: QueueStats) -> str:
    ready = ", ".join(f"{p.name.lower()} {n}" for p, n in sorted(stats.ready.items()))
    c = stats.counters
    st, wt = stats.service_time, stats.wait_time
    lines = [
        f"queue      {stats.queue}",
        f"backlog    {stats.backlog} (ready: {ready or 'none'}; due delayed {stats.delayed_due})",
        f"delayed    {stats.delayed_total}",
        f"blocked    {stats.blocked} (waiting for parents; not backlog)",
        f"in flight  {stats.in_flight}",
        f"dead       {stats.dead}",
        f"oldest     {_seconds(stats.oldest_age_s)}",
        f"counters   enqueued {c.enqueued}, completed {c.completed}, failed {c.failed}, "
        f"retried {c.retried}, returned unstarted {c.returned}, "
        f"dead-lettered {c.dead_lettered}, trimmed {c.dead_trimmed}, cancelled {c.cancelled}",
        f"service    mean {_seconds(st.mean())}, p50 <= {_seconds(st.quantile(0.5))}, "
        f"p99 <= {_seconds(st.quantile(0.99))}",
        f"wait       mean {_seconds(wt.mean())}, p50 <= {_seconds(wt.quantile(0.5))}, "
        f"p99 <= {_seconds(wt.quantile(0.99))}",
        f"workers    {len(stats.workers)} ({stats.busy_slots}/{stats.total_slots} slots busy)",
    ]
    lines += [f"  {w.id}: {w.busy}/{w.slots} busy" for w in stats.workers]
    return "\n".join(lines)
