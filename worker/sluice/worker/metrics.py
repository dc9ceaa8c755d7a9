"""Prometheus metrics of one worker process, in a registry of its own.

A registry per :class:`~sluice.worker.Worker` (not the global default) keeps
several workers in one process (tests, embedding) from colliding. Label
children are resolved once and cached, so counting a job costs a dict lookup
and an increment on the hot path.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from sluice.stats import BUCKETS

# Outcome labels: completed, retried, failed (dead-lettered by the handler or bad input),
# timeout, cancelled, released (shutdown), lost (lease lost, result dropped).
OUTCOMES = ("completed", "retried", "failed", "timeout", "cancelled", "released", "lost")
_CLAIM_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class WorkerMetrics:
    def __init__(self, queue: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        jobs = Counter(
            "sluice_jobs",
            "Jobs processed by this worker, by outcome",
            ["queue", "outcome"],
            registry=self.registry,
        )
        self._jobs = {o: jobs.labels(queue, o) for o in OUTCOMES}
        self._duration = Histogram(
            "sluice_job_duration_seconds",
            "How long attempts ran, by task",
            ["queue", "task"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._durations: dict[str, Histogram] = {}
        self.in_flight = Gauge(
            "sluice_jobs_in_flight", "Jobs running now", ["queue"], registry=self.registry
        ).labels(queue)
        self.slots = Gauge(
            "sluice_worker_slots",
            "Jobs this worker runs at once",
            ["queue"],
            registry=self.registry,
        ).labels(queue)
        self.claim_latency = Histogram(
            "sluice_claim_latency_seconds",
            "Round trip of one claim call",
            ["queue"],
            buckets=_CLAIM_BUCKETS,
            registry=self.registry,
        ).labels(queue)
        self.redis_errors = Counter(
            "sluice_redis_errors",
            "Redis calls that failed (retried)",
            ["queue"],
            registry=self.registry,
        ).labels(queue)
        self._queue = queue

    def job(self, outcome: str) -> None:
        self._jobs[outcome].inc()

    def duration(self, task: str, seconds: float) -> None:
        child = self._durations.get(task)
        if child is None:
            child = self._durations[task] = self._duration.labels(self._queue, task)
        child.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
