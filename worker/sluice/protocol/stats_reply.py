"""The stats script's reply, mapped onto :class:`sluice.stats.QueueStats`.

Stats hash fields: the counter names of :class:`sluice.stats.Counters` (plus
``cancelled``), ``s:<i>``/``w:<i>`` per histogram bucket index over
:data:`sluice.stats.BUCKETS` (service and wait time) and ``s:sum``/``w:sum``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from sluice.protocol.keys import HISTOGRAMS
from sluice.protocol.ops import Call, text
from sluice.stats import BUCKETS, Counters, Histogram, Priority, QueueStats, WorkerInfo

COUNTER_FIELDS = tuple(f.name for f in dataclasses.fields(Counters))


def _histogram(fields: Mapping[str, str], kind: str) -> Histogram:
    counts = tuple(int(fields.get(f"{kind}:{i}", 0)) for i in range(len(BUCKETS)))
    return Histogram(counts, float(fields.get(f"{kind}:sum", 0.0)))


def _worker(worker_id: Any, info: Any) -> WorkerInfo | None:
    if info is None:
        return None  # swept between the two reads
    busy, slots, seen = text(info).split()
    return WorkerInfo(text(worker_id), int(busy), int(slots), int(seen) / 1000)


def parse(queue: str, reply: list[Any]) -> QueueStats:
    now, ready, due, delayed, in_flight, dead, oldest, flat, ids, infos, soon = reply
    fields = {text(flat[i]): text(flat[i + 1]) for i in range(0, len(flat), 2)}
    workers = (_worker(w, i) for w, i in zip(ids, infos, strict=True))
    oldest_ms = int(oldest)
    return QueueStats(
        queue=queue,
        taken_at=int(now) / 1000,
        ready={p: int(n) for p, n in zip(Priority, ready, strict=True)},
        delayed_due=int(due),
        delayed_total=int(delayed),
        delayed_soon=int(soon),
        in_flight=int(in_flight),
        dead=int(dead),
        oldest_age_s=max(0, int(now) - oldest_ms) / 1000 if oldest_ms >= 0 else None,
        counters=Counters(**{f: int(fields.get(f, 0)) for f in COUNTER_FIELDS}),
        service_time=_histogram(fields, HISTOGRAMS["service"]),
        wait_time=_histogram(fields, HISTOGRAMS["wait"]),
        workers=tuple(sorted((w for w in workers if w), key=lambda w: w.id)),
    )


def stats(queue: str, horizon_s: float = 0.0) -> Call[QueueStats]:
    """The snapshot; ``horizon_s`` > 0 also counts delayed jobs due within it (``delayed_soon``)."""
    horizon_ms = max(0, round(horizon_s * 1000)) if math.isfinite(horizon_s) else 0
    return Call("stats", [horizon_ms], lambda reply: parse(queue, reply))
