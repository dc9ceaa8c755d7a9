"""The JobQueue's status: what a tick saw and did, as fields and standard conditions.

Pure functions: the handlers compute the status from a tick and the status
last written, and send a merge patch only when :func:`changes` finds a
difference, so a quiet queue costs the API server nothing. Conditions follow
the Kubernetes shape (type, status, reason, message, lastTransitionTime,
observedGeneration); ``lastTransitionTime`` moves only when the status flips.

:data:`STATUS_FIELDS`, :data:`DECISION_FIELDS` and :data:`CONDITION_FIELDS`
come from the status model the CRD is generated from: a field written here and
not declared there would be pruned by the API server (a test feeds real output
to the generated schema).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sluice_scaling.reconcile import Tick
from sluice_scaling.scheduler import ScheduleState

from .crd.status_schema import Condition as StatusCondition
from .crd.status_schema import JobQueueStatus, LastDecision, field_names

# Declared once, in the status model the CRD's status schema is generated from;
# Kopf's own storage is written by Kopf, not here.
STATUS_FIELDS: tuple[str, ...] = tuple(f for f in field_names(JobQueueStatus) if f != "kopf")
DECISION_FIELDS: tuple[str, ...] = field_names(LastDecision)
CONDITION_FIELDS: tuple[str, ...] = field_names(StatusCondition)
CONDITION_TYPES: tuple[str, ...] = (
    "Ready",
    "MetricsAvailable",
    "ScalingLimited",
    "Saturated",
    "Paused",
    "PollingOnTime",
)
_MAX_MESSAGE = 1024

Status = dict[str, Any]


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str  # CamelCase, machine-readable
    message: str  # one human sentence


def timestamp(now: float) -> str:
    """RFC 3339 in UTC with seconds, as Kubernetes writes times."""
    moment = datetime.datetime.fromtimestamp(now, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(
    old: Iterable[Mapping[str, Any]], new: Iterable[Condition], *, generation: int, now: float
) -> list[dict[str, Any]]:
    """The new conditions, keeping each one's transition time while its status holds."""
    previous = {c.get("type"): c for c in old}
    out = []
    for cond in new:
        status = "True" if cond.status else "False"
        before = previous.get(cond.type) or {}
        since = before.get("lastTransitionTime") if before.get("status") == status else None
        out.append(
            {
                "type": cond.type,
                "status": status,
                "reason": cond.reason,
                "message": cond.message[:_MAX_MESSAGE],
                "lastTransitionTime": since or timestamp(now),
                "observedGeneration": generation,
            }
        )
    # Conditions we do not set this time (none today) are kept as they were.
    written = {c["type"] for c in out}
    return out + [dict(c) for t, c in previous.items() if t not in written]


def polling_condition(behind: str | None) -> Condition:
    """PollingOnTime: False (with the figures) while the operator cannot keep the interval."""
    if behind is None:
        return Condition("PollingOnTime", True, "OnTime", "polled at the configured interval")
    return Condition("PollingOnTime", False, "BehindSchedule", behind)


def tick_conditions(tick: Tick, *, paused: bool, behind: str | None = None) -> list[Condition]:
    decision = tick.decision
    return [
        _ready(tick.target, tick.replicas.ready),
        Condition("MetricsAvailable", True, "StatsRead", "queue stats read from Redis")
        if tick.stats is not None
        else Condition("MetricsAvailable", False, "StatsUnavailable", tick.error or "read failed"),
        Condition("ScalingLimited", True, f"At{decision.limited.title()}Replicas", decision.reason)
        if decision.limited
        else Condition("ScalingLimited", False, "WithinBounds", "replicas within min and max"),
        _saturated(decision.saturated),
        Condition(
            "Paused", True, "Paused", "spec.scaling.paused: replicas left alone within min and max"
        )
        if paused
        else Condition("Paused", False, "Active", "the autoscaler sets the replicas"),
        polling_condition(behind),
    ]


def _saturated(reason: str | None) -> Condition:
    """More replicas stopped adding throughput: the guard holds the count (or tries one)."""
    if reason is None:
        return Condition("Saturated", False, "ReplicasAddThroughput", "no ceiling on replicas")
    return Condition("Saturated", True, "ReplicasAddNoThroughput", reason)


def _ready(replicas: int, ready: int) -> Condition:
    if replicas == 0:
        return Condition("Ready", True, "ScaledToZero", "no work: the workers are scaled to zero")
    if ready > 0:
        return Condition("Ready", True, "WorkersReady", f"{ready} of {replicas} workers ready")
    return Condition("Ready", False, "WorkersStarting", f"0 of {replicas} workers ready yet")


def _stats_fields(tick: Tick) -> Status:
    stats = tick.stats
    if stats is None:
        return {}  # keep the last figures; MetricsAvailable=False says they are old
    fields: Status = {
        "backlog": stats.backlog,
        "inFlight": stats.in_flight,
        "delayed": stats.delayed_total,
        "dead": stats.dead,
        "blocked": stats.blocked,
        "oldestAgeSeconds": round(stats.oldest_age_s or 0.0),
        "workers": len(stats.workers),
    }
    if tick.decision.arrival_rate is not None:
        fields["arrivalRate"] = round(tick.decision.arrival_rate, 3)
    if tick.decision.service_time_s is not None:
        fields["serviceTimeSeconds"] = round(tick.decision.service_time_s, 3)
    return fields


def tick_status(
    tick: Tick,
    previous: Mapping[str, Any],
    *,
    generation: int,
    paused: bool,
    now: float,
    behind: str | None = None,
) -> Status:
    """The status after ``tick``, given the status written before.

    ``behind``: why polling is late (the achieved against the configured interval), if it is.
    """
    status: Status = {
        "observedGeneration": generation,
        "replicas": tick.target,
        "readyReplicas": tick.replicas.ready,
        "desiredReplicas": tick.decision.replicas,
        "lastDecision": {"term": tick.decision.term, "reason": tick.decision.reason},
        **_stats_fields(tick),
    }
    if tick.scaled:
        status["lastScaleTime"] = timestamp(now)
        status["lastScaleReason"] = tick.decision.reason
    conditions = tick_conditions(tick, paused=paused, behind=behind)
    old = previous.get("conditions") or []
    status["conditions"] = merge_conditions(old, conditions, generation=generation, now=now)
    return status


def schedule_status(states: Iterable[ScheduleState]) -> list[dict[str, Any]]:
    """``status.schedules``: each schedule's last and next fire (unset ones left out)."""
    out = []
    for st in states:
        entry: dict[str, Any] = {"name": st.name}
        if st.last_fire is not None:
            entry["lastFireTime"] = timestamp(st.last_fire)
        if st.next_fire is not None:
            entry["nextFireTime"] = timestamp(st.next_fire)
        out.append(entry)
    return out


def invalid_spec_status(
    message: str,
    previous: Mapping[str, Any],
    *,
    generation: int,
    now: float,
    reason: str = "InvalidSpec",
) -> Status:
    """Ready=False with the validation problems, so ``kubectl describe`` shows them."""
    cond = Condition("Ready", False, reason, message)
    old = previous.get("conditions") or []
    return {
        "observedGeneration": generation,
        "conditions": merge_conditions(old, [cond], generation=generation, now=now),
    }


def changes(previous: Mapping[str, Any], status: Mapping[str, Any]) -> Status | None:
    """The fields of ``status`` that differ from ``previous``, or None when nothing does."""
    diff = {k: v for k, v in status.items() if previous.get(k) != v}
    return diff or None
