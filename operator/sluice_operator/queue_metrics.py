"""The operator's Prometheus metrics, one label set per JobQueue (namespace, name).

Kept in their own registry, so tests and the benchmark can run several
operators in one process and read them back; :func:`forget` drops a deleted
JobQueue's series so the scrape does not grow with churn.
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sluice_scaling.reconcile import Tick

LABELS = ("namespace", "name")


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.decisions = Counter(
            "sluice_operator_decisions", "Scaling decisions by the term that won.",
            [*LABELS, "term"], registry=r,
        )  # fmt: skip
        self.scalings = Counter(
            "sluice_operator_scalings", "Replica changes made, by direction.",
            [*LABELS, "direction"], registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "sluice_operator_errors", "Failed polls and API calls, by kind.",
            [*LABELS, "kind"], registry=r,
        )  # fmt: skip
        self.replicas = Gauge(
            "sluice_operator_replicas", "Worker replicas set.", LABELS, registry=r
        )
        self.desired = Gauge(
            "sluice_operator_desired_replicas", "Replicas the policy asked for.", LABELS, registry=r
        )
        self.backlog = Gauge("sluice_operator_backlog", "Jobs ready to run.", LABELS, registry=r)
        self.in_flight = Gauge("sluice_operator_in_flight", "Jobs running.", LABELS, registry=r)
        self.oldest = Gauge(
            "sluice_operator_oldest_age_seconds",
            "Oldest ready job's wait.",
            LABELS,
            registry=r,
        )
        self.dead = Gauge(
            "sluice_operator_dead", "Jobs in the dead-letter queue.", LABELS, registry=r
        )
        self.blocked = Gauge(
            "sluice_operator_blocked",
            "Jobs waiting for their parents (not backlog).",
            LABELS,
            registry=r,
        )
        self.poll = Histogram(
            "sluice_operator_poll_seconds", "Time of one scaling tick (Redis read, decide, scale).",
            LABELS, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )  # fmt: skip
        self.interval = Gauge(
            "sluice_operator_poll_interval_seconds",
            "Achieved seconds between the starts of the last two polls.", LABELS, registry=r,
        )  # fmt: skip
        self.lag = Gauge(
            "sluice_operator_poll_lag_seconds",
            "How much longer than pollingIntervalSeconds the last poll came (0: on time).",
            LABELS, registry=r,
        )  # fmt: skip
        # Across queues: the fleet's lag distribution without a histogram per queue.
        self.lag_all = Histogram(
            "sluice_operator_poll_lag_all_seconds", "Lag of every poll, all JobQueues together.",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60), registry=r,
        )  # fmt: skip
        self._per_queue = (
            self.replicas, self.desired, self.backlog, self.in_flight, self.oldest, self.dead,
            self.blocked, self.interval, self.lag,
        )  # fmt: skip
        self._per_queue_hist = (self.poll,)

    def observe(self, namespace: str, name: str, tick: Tick, seconds: float) -> None:
        labels = (namespace, name)
        self.poll.labels(*labels).observe(seconds)
        self.decisions.labels(*labels, tick.decision.term).inc()
        self.replicas.labels(*labels).set(tick.target)
        self.desired.labels(*labels).set(tick.decision.replicas)
        if tick.scaled_from is not None:
            direction = "up" if tick.target > tick.scaled_from else "down"
            self.scalings.labels(*labels, direction).inc()
        if tick.stats is None:
            self.errors.labels(*labels, "metrics").inc()
            return
        self.backlog.labels(*labels).set(tick.stats.backlog)
        self.in_flight.labels(*labels).set(tick.stats.in_flight)
        self.oldest.labels(*labels).set(tick.stats.oldest_age_s or 0.0)
        self.dead.labels(*labels).set(tick.stats.dead)
        self.blocked.labels(*labels).set(tick.stats.blocked)

    def observe_lag(self, namespace: str, name: str, achieved_s: float, lag_s: float) -> None:
        self.interval.labels(namespace, name).set(achieved_s)
        self.lag.labels(namespace, name).set(lag_s)
        self.lag_all.observe(lag_s)

    def error(self, namespace: str, name: str, kind: str) -> None:
        self.errors.labels(namespace, name, kind).inc()

    def forget(self, namespace: str, name: str) -> None:
        """Drop a deleted JobQueue's gauges and histogram (counters may keep their totals)."""
        for metric in (*self._per_queue, *self._per_queue_hist):
            with contextlib.suppress(KeyError):  # never observed
                metric.remove(namespace, name)
