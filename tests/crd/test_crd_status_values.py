"""The status the operator computes is accepted by the CRD's status schema, types included.

The API server refuses a whole status patch when one value has the wrong type
(a float in an integer field, say); KMock does not check, so this test feeds
real ``tick_status`` / ``invalid_spec_status`` output to the schema.
"""

from __future__ import annotations

from typing import Any

import pytest
from crd_tools import root_schema, schema_errors

from sluice.stats import Priority, QueueStats, WorkerInfo
from sluice_operator.jobqueue_status import invalid_spec_status, tick_status
from sluice_scaling.policy import Decision
from sluice_scaling.reconcile import ReplicaCount, Tick

T0 = 1_800_000_000.0


def _tick(*, stats: bool, scaled_from: int | None, oldest: float | None) -> Tick:
    snapshot = QueueStats(
        queue="q",
        taken_at=T0,
        ready={Priority.NORMAL: 40, Priority.CRITICAL: 2},
        delayed_total=3,
        in_flight=6,
        dead=1,
        oldest_age_s=oldest,
        workers=(WorkerInfo("pod-a", 2, 4, T0),),
    )
    decision = Decision(
        5,
        "backlog",
        "backlog 42 drains within 30s at 3.1 jobs/s per replica -> 5",
        {"backlog": 42.0},
        "max",
        metrics_ok=stats,
        arrival_rate=2.34567 if stats else None,
        service_time_s=0.41234 if stats else None,
    )
    return Tick(decision, snapshot if stats else None, None, scaled_from, ReplicaCount(3, 2), 5)


CASES = [
    pytest.param(True, 3, 12.6, id="scaled-with-fractional-oldest-age"),
    pytest.param(True, None, None, id="quiet-queue"),
    pytest.param(False, None, None, id="metrics-unavailable"),
]


def _status_schema() -> dict[str, Any]:
    schema: dict[str, Any] = root_schema()["properties"]["status"]
    return schema


@pytest.mark.parametrize(("stats", "scaled_from", "oldest"), CASES)
def test_tick_status_is_admitted(
    stats: bool, scaled_from: int | None, oldest: float | None
) -> None:
    tick = _tick(stats=stats, scaled_from=scaled_from, oldest=oldest)
    first = tick_status(tick, {}, generation=2, paused=False, now=T0)
    assert schema_errors(_status_schema(), first) == []
    later = tick_status(tick, first, generation=3, paused=True, now=T0 + 30)
    assert schema_errors(_status_schema(), later) == []


def test_invalid_spec_status_is_admitted() -> None:
    status = invalid_spec_status("spec.scaling.maxReplicas: must be >= 2", {}, generation=1, now=T0)
    assert schema_errors(_status_schema(), status) == []


def test_a_float_in_an_integer_field_would_be_refused() -> None:
    tick = _tick(stats=True, scaled_from=3, oldest=12.6)
    status = tick_status(tick, {}, generation=2, paused=False, now=T0)
    assert schema_errors(_status_schema(), {**status, "oldestAgeSeconds": 12.6})
