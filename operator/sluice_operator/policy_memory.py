"""The policy's memory in the JobQueue's status, so a new operator starts where the old one was.

A restarted (or newly elected) operator would otherwise start cold: size a
busy queue as if no job had ever finished, forget a scale-down window that was
holding replicas up, and restart the idle clock before scaling to zero. The
status carries ``serviceTimeSeconds`` and ``lastScaleTime`` already;
``status.policy`` adds the stabilisation window and the idle clock.

The window is kept as its running maxima only (each recommendation larger than
every later one): the max over any later window is the same, and the list
stays short however many ticks the window spans. Two parts change every tick
and are left out, so a steady queue's memory does not change at all (and costs
no status write): the newest recommendation (the successor's first tick makes
a fresh one) and, while the queue is busy, the idle clock (a busy queue sets
it again on the successor's first tick).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from sluice_scaling.policy import PolicyState

from .jobqueue_status import timestamp

MAX_WINDOW_ENTRIES = 32


def running_maxima(history: tuple[tuple[float, int], ...]) -> tuple[tuple[float, int], ...]:
    """The entries no later entry matches or exceeds: enough to answer every later max."""
    kept: list[tuple[float, int]] = []
    for moment, replicas in history:
        while kept and kept[-1][1] <= replicas:
            kept.pop()
        kept.append((moment, replicas))
    return tuple(kept[-MAX_WINDOW_ENTRIES:])


def published(state: PolicyState, now: float) -> dict[str, Any]:
    """``status.policy`` for ``state`` at ``now`` (the tick's time)."""
    older = running_maxima(state.history)[:-1]  # the newest is remade by the next tick
    out: dict[str, Any] = {"window": [{"time": timestamp(t), "replicas": r} for t, r in older]}
    if state.last_active is not None and state.last_active < now:  # idle since then
        out["lastActiveTime"] = timestamp(state.last_active)
    return out


def _seconds(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    return float(value) if ok else None


def _window(policy: Mapping[str, Any]) -> tuple[tuple[float, int], ...]:
    out = []
    for entry in policy.get("window") or []:
        if not isinstance(entry, Mapping):
            continue
        moment, replicas = _seconds(entry.get("time")), entry.get("replicas")
        if moment is not None and isinstance(replicas, int) and not isinstance(replicas, bool):
            out.append((moment, max(0, replicas)))
    return tuple(sorted(out)[-MAX_WINDOW_ENTRIES:])


def seed_state(status: Mapping[str, Any]) -> PolicyState:
    """The policy's memory from a published status; anything unreadable is simply not known.

    Without it a restarted operator sizes a busy queue as a cold start (backlog per
    replica) until a job finishes; a stale value is blended away by new completions.
    """
    policy = status.get("policy")
    policy = policy if isinstance(policy, Mapping) else {}
    return PolicyState(
        history=_window(policy),
        service_time_s=_number(status.get("serviceTimeSeconds")),
        last_active=_seconds(policy.get("lastActiveTime")),
        last_scale=_seconds(status.get("lastScaleTime")),
    )
