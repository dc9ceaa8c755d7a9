"""JobQueue status from a tick: fields, conditions, transition times, and patch-only-on-change."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.stats import Counters, Priority, QueueStats, WorkerInfo
from sluice_operator.jobqueue_status import (
    CONDITION_FIELDS,
    CONDITION_TYPES,
    Condition,
    changes,
    invalid_spec_status,
    merge_conditions,
    tick_conditions,
    tick_status,
    timestamp,
)
from sluice_scaling.policy import Decision
from sluice_scaling.reconcile import ReplicaCount, Tick

T0 = 1_800_000_000.0


def make_tick(
    *, stats: bool = True, scaled_from: int | None = None, target: int = 3, ready: int = 2,
    limited: str | None = None, error: str | None = None, saturated: str | None = None,
) -> Tick:  # fmt: skip
    snap = QueueStats(
        queue="q", taken_at=T0, ready={Priority.NORMAL: 40}, delayed_total=2, in_flight=6,
        dead=1, oldest_age_s=12.6, workers=(WorkerInfo("p", 2, 2, T0),),
        counters=Counters(blocked=7, unblocked=2),
    )  # fmt: skip
    decision = Decision(
        target, "backlog", f"backlog 40 -> {target}", {}, limited,  # type: ignore[arg-type]
        metrics_ok=stats, arrival_rate=2.34567 if stats else None, service_time_s=0.5,
        saturated=saturated,
    )  # fmt: skip
    return Tick(
        decision, snap if stats else None, error, scaled_from, ReplicaCount(2, ready), target
    )


def cond(status: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in status["conditions"] if c["type"] == kind)
    return found


def test_fields_from_a_tick() -> None:
    s = tick_status(make_tick(), {}, generation=4, paused=False, now=T0)
    assert s["observedGeneration"] == 4
    assert (s["replicas"], s["readyReplicas"], s["desiredReplicas"]) == (3, 2, 3)
    assert (s["backlog"], s["inFlight"], s["delayed"], s["dead"]) == (40, 6, 2, 1)
    assert s["blocked"] == 5  # waiting for parents: apart from the backlog
    assert s["oldestAgeSeconds"] == 13
    assert s["arrivalRate"] == 2.346
    assert s["workers"] == 1
    assert s["lastDecision"] == {"term": "backlog", "reason": "backlog 40 -> 3"}
    assert "lastScaleTime" not in s  # nothing was scaled


def test_scale_records_time_and_reason() -> None:
    s = tick_status(make_tick(scaled_from=1), {}, generation=1, paused=False, now=T0)
    assert s["lastScaleTime"] == timestamp(T0)
    assert s["lastScaleTime"].endswith("Z")
    assert s["lastScaleReason"] == "backlog 40 -> 3"


def test_missing_metrics_keep_old_figures_and_say_why() -> None:
    tick = make_tick(stats=False, error="ConnectionError: redis.internal:6379 refused")
    s = tick_status(tick, {"backlog": 7}, generation=1, paused=False, now=T0)
    assert "backlog" not in s  # the merge patch leaves the last figure in place
    metrics = cond(s, "MetricsAvailable")
    assert (metrics["status"], metrics["reason"]) == ("False", "StatsUnavailable")
    assert "refused" in metrics["message"]


@pytest.mark.parametrize(
    ("target", "ready", "status", "reason"),
    [(0, 0, "True", "ScaledToZero"), (3, 1, "True", "WorkersReady"),
     (3, 0, "False", "WorkersStarting")],
)  # fmt: skip
def test_ready_condition(target: int, ready: int, status: str, reason: str) -> None:
    conditions = tick_conditions(make_tick(target=target, ready=ready), paused=False)
    ready_cond = next(c for c in conditions if c.type == "Ready")
    assert (ready_cond.status, ready_cond.reason) == (status == "True", reason)


def test_limited_and_paused_conditions() -> None:
    s = tick_status(make_tick(limited="max"), {}, generation=1, paused=True, now=T0)
    assert cond(s, "ScalingLimited")["reason"] == "AtMaxReplicas"
    assert cond(s, "ScalingLimited")["status"] == "True"
    assert cond(s, "Paused")["status"] == "True"
    assert {c["type"] for c in s["conditions"]} == set(CONDITION_TYPES)
    assert all(set(c) == set(CONDITION_FIELDS) for c in s["conditions"])


def test_saturated_condition_carries_the_guards_reason() -> None:
    why = "saturated: 6 -> 10 replicas raised completions only 12 -> 12.2 jobs/s; holding at most 6"
    s = tick_status(make_tick(saturated=why), {}, generation=1, paused=False, now=T0)
    assert (cond(s, "Saturated")["status"], cond(s, "Saturated")["message"]) == ("True", why)
    assert cond(s, "Saturated")["reason"] == "ReplicasAddNoThroughput"
    calm = tick_status(make_tick(), s, generation=1, paused=False, now=T0 + 5)
    assert (cond(calm, "Saturated")["status"], cond(calm, "Saturated")["reason"]) == (
        "False", "ReplicasAddThroughput")  # fmt: skip
    assert cond(calm, "Saturated")["lastTransitionTime"] == timestamp(T0 + 5)


def test_transition_time_moves_only_when_status_flips() -> None:
    first = tick_status(make_tick(), {}, generation=1, paused=False, now=T0)
    same = tick_status(make_tick(), first, generation=1, paused=False, now=T0 + 60)
    assert cond(same, "MetricsAvailable")["lastTransitionTime"] == timestamp(T0)
    flipped = tick_status(make_tick(stats=False), same, generation=1, paused=False, now=T0 + 90)
    assert cond(flipped, "MetricsAvailable")["lastTransitionTime"] == timestamp(T0 + 90)


def test_changes_only_when_something_differs() -> None:
    first = tick_status(make_tick(), {}, generation=1, paused=False, now=T0)
    again = tick_status(make_tick(), first, generation=1, paused=False, now=T0 + 5)
    assert changes(first, again) is None
    moved = tick_status(make_tick(target=4), first, generation=1, paused=False, now=T0 + 5)
    diff = changes(first, moved)
    assert diff is not None
    assert diff["replicas"] == 4
    assert "backlog" not in diff


def test_invalid_spec_condition_and_unrelated_conditions_kept() -> None:
    before = tick_status(make_tick(), {}, generation=1, paused=False, now=T0)
    s = invalid_spec_status("spec.x: bad", before, generation=2, now=T0 + 1)
    ready = cond(s, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert ready["observedGeneration"] == 2
    assert {c["type"] for c in s["conditions"]} == set(CONDITION_TYPES)


def test_messages_are_bounded() -> None:
    long = Condition("Ready", False, "InvalidSpec", "x" * 5000)
    (only,) = merge_conditions([], [long], generation=1, now=T0)
    assert len(only["message"]) <= 1024
