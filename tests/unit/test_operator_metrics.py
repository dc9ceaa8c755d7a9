"""Operator metrics per JobQueue: what a tick records, and dropping a deleted queue's series."""

from __future__ import annotations

from sluice.stats import Counters, Priority, QueueStats
from sluice_operator.queue_metrics import OperatorMetrics
from sluice_scaling.policy import Decision
from sluice_scaling.reconcile import ReplicaCount, Tick


def tick(*, stats: bool, scaled_from: int | None, target: int) -> Tick:
    snap = QueueStats(queue="q", taken_at=1.0, ready={Priority.HIGH: 9}, in_flight=3,
                      oldest_age_s=4.5, dead=7,
                      counters=Counters(blocked=4, unblocked=1))  # fmt: skip
    decision = Decision(target, "backlog", "why", metrics_ok=stats)
    return Tick(decision, snap if stats else None, None, scaled_from, ReplicaCount(1, 1), target)


def value(m: OperatorMetrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, {"namespace": "ns", "name": "q", **labels})


def test_a_tick_is_recorded_per_queue() -> None:
    m = OperatorMetrics()
    m.observe("ns", "q", tick(stats=True, scaled_from=1, target=3), 0.02)
    m.observe("ns", "q", tick(stats=False, scaled_from=3, target=2), 0.5)
    assert value(m, "sluice_operator_decisions_total", term="backlog") == 2
    assert value(m, "sluice_operator_scalings_total", direction="up") == 1
    assert value(m, "sluice_operator_scalings_total", direction="down") == 1
    assert value(m, "sluice_operator_errors_total", kind="metrics") == 1
    assert value(m, "sluice_operator_replicas") == 2
    assert value(m, "sluice_operator_backlog") == 9  # the last good read stays
    assert value(m, "sluice_operator_oldest_age_seconds") == 4.5
    assert value(m, "sluice_operator_dead") == 7
    assert value(m, "sluice_operator_blocked") == 3
    assert value(m, "sluice_operator_poll_seconds_count") == 2


def test_forget_drops_gauges_of_a_deleted_queue() -> None:
    m = OperatorMetrics()
    m.observe("ns", "q", tick(stats=True, scaled_from=None, target=1), 0.01)
    m.forget("ns", "q")
    m.forget("ns", "never-seen")
    assert value(m, "sluice_operator_replicas") is None
    assert value(m, "sluice_operator_dead") is None
    assert value(m, "sluice_operator_poll_seconds_count") is None
