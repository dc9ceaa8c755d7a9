"""Snapshot builders for the policy tests: QueueStats the way the stats script reports them."""

from __future__ import annotations

from sluice.stats import BUCKETS, Counters, Histogram, Priority, QueueStats, WorkerInfo
from sluice_scaling.policy import Observation
from sluice_scaling.spec import ScalingSpec

T0 = 1_700_000_000.0  # Redis TIME of the first snapshot


def spec(**fields: object) -> ScalingSpec:
    """A ScalingSpec from CRD-style (camelCase) or snake_case fields."""
    return ScalingSpec.model_validate({"maxReplicas": 50, **fields})


def service(count: int, mean_s: float) -> Histogram:
    """``count`` completions of ``mean_s`` seconds each, in the bucket that holds them."""
    counts = [0] * len(BUCKETS)
    if count:
        counts[next(i for i, b in enumerate(BUCKETS) if mean_s <= b)] = count
    return Histogram(tuple(counts), count * mean_s)


def snap(
    t: float,
    *,
    backlog: int = 0,
    in_flight: int = 0,
    enqueued: int = 0,
    completed: int = 0,
    service_s: float = 2.0,
    oldest: float | None = None,
    delayed_due: int = 0,
    workers: int = 0,
    slots: int = 4,
) -> QueueStats:
    """A snapshot ``t`` seconds after T0 with monotonic counters as given."""
    busy = [min(slots, max(0, in_flight - i * slots)) for i in range(workers)]
    return QueueStats(
        queue="q",
        taken_at=T0 + t,
        ready={Priority.NORMAL: backlog},
        delayed_due=delayed_due,
        in_flight=in_flight,
        oldest_age_s=oldest if oldest is not None else (1.0 if backlog or delayed_due else None),
        counters=Counters(enqueued=enqueued, completed=completed),
        service_time=service(completed, service_s),
        workers=tuple(WorkerInfo(f"w{i}", b, slots, T0 + t) for i, b in enumerate(busy)),
    )


def steady(rate: float, service_s: float, polls: int, *, every: float = 5.0) -> list[QueueStats]:
    """A queue in equilibrium: as many finish as arrive, rate * service_s jobs running."""
    out = []
    for k in range(polls):
        n = round(rate * every * (k + 20))  # 20 polls of history before the first
        out.append(
            snap(k * every, enqueued=n, completed=n, service_s=service_s,
                 in_flight=round(rate * service_s))
        )  # fmt: skip
    return out


def obs(
    stats: QueueStats | None,
    previous: QueueStats | None = None,
    *,
    replicas: int = 1,
    ready: int | None = None,
    concurrency: int = 4,
) -> Observation:
    return Observation(stats, previous, replicas, replicas if ready is None else ready, concurrency)
