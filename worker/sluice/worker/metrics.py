"""Prometheus metrics of one worker process: plain counters, exposed through a collector.

The hot path counts in plain Python numbers (an increment, a bisect for a
histogram bucket): no lock, no ``prometheus_client`` object per update. That
library is imported at the first scrape (or the first look at
:attr:`WorkerMetrics.registry`), which builds a registry of this worker's own
(not the global default, so several workers in one process do not collide)
holding one collector that reads the numbers. Importing it at start-up would
delay every scaled-up pod's first claim by tens of milliseconds.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from sluice.stats import BUCKETS

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

# Outcome labels: completed, retried, failed (dead-lettered by the handler or bad input),
# timeout, cancelled, released (shutdown), lost (lease lost, result dropped).
OUTCOMES = ("completed", "retried", "failed", "timeout", "cancelled", "released", "lost")
_CLAIM_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Counter:
    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class Gauge:
    def __init__(self) -> None:
        self.value = 0.0
        self._function: Callable[[], float] | None = None

    def set(self, value: float) -> None:
        self.value = float(value)

    def set_function(self, function: Callable[[], float]) -> None:
        self._function = function

    def get(self) -> float:
        return float(self._function()) if self._function is not None else self.value


class Histogram:
    """Counts per bucket (non-cumulative; the collector sums them) and the sum."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last is above every bound (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bucket (le is inclusive).
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self, label: Callable[[float], str]) -> list[tuple[str, float]]:
        """(le, count) pairs as a histogram family takes them; ``label`` spells a bound."""
        out, total = [], 0
        les = (*map(label, self.bounds), "+Inf")
        for bound, n in zip(les, self.counts, strict=True):
            total += n
            out.append((bound, float(total)))
        return out


class WorkerMetrics:
    def __init__(self, queue: str) -> None:
        self._queue = queue
        self._jobs = {o: Counter() for o in OUTCOMES}
        self._durations: dict[str, Histogram] = {}
        self.in_flight = Gauge()
        self.slots = Gauge()
        self.claim_latency = Histogram(_CLAIM_BUCKETS)
        self.redis_errors = Counter()
        self._registry: CollectorRegistry | None = None

    def job(self, outcome: str) -> None:
        self._jobs[outcome].value += 1

    def duration(self, task: str, seconds: float) -> None:
        child = self._durations.get(task)
        if child is None:
            child = self._durations[task] = Histogram(BUCKETS)
        child.observe(seconds)

    @property
    def registry(self) -> CollectorRegistry:
        if self._registry is None:
            from prometheus_client import CollectorRegistry  # noqa: PLC0415  (see the docstring)

            self._registry = CollectorRegistry(auto_describe=True)
            self._registry.register(_Collector(self))
        return self._registry

    def render(self) -> bytes:
        from prometheus_client import generate_latest  # noqa: PLC0415

        return generate_latest(self.registry)


class _Collector:
    """What a scrape reads: the numbers of one :class:`WorkerMetrics`, as metric families."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self._m = metrics

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (  # noqa: PLC0415
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )
        from prometheus_client.utils import floatToGoString as le  # noqa: PLC0415

        m, q = self._m, self._m._queue
        jobs = CounterMetricFamily(
            "sluice_jobs", "Jobs processed by this worker, by outcome", labels=["queue", "outcome"]
        )
        for outcome, counter in m._jobs.items():
            jobs.add_metric([q, outcome], counter.value)
        yield jobs
        duration = HistogramMetricFamily(
            "sluice_job_duration_seconds",
            "How long attempts ran, by task",
            labels=["queue", "task"],
        )
        for task, h in m._durations.items():
            duration.add_metric([q, task], h.cumulative(le), h.sum)
        yield duration
        yield _gauge(GaugeMetricFamily, "sluice_jobs_in_flight", "Jobs running now", q, m.in_flight)
        yield _gauge(
            GaugeMetricFamily, "sluice_worker_slots", "Jobs this worker runs at once", q, m.slots
        )
        claim = HistogramMetricFamily(
            "sluice_claim_latency_seconds", "Round trip of one claim call", labels=["queue"]
        )
        claim.add_metric([q], m.claim_latency.cumulative(le), m.claim_latency.sum)
        yield claim
        errors = CounterMetricFamily(
            "sluice_redis_errors", "Redis calls that failed (retried)", labels=["queue"]
        )
        errors.add_metric([q], m.redis_errors.value)
        yield errors


def _gauge(family: Any, name: str, doc: str, queue: str, gauge: Gauge) -> Any:
    g = family(name, doc, labels=["queue"])
    g.add_metric([queue], gauge.get())
    return g
