"""Pure functions from queue snapshots, jobs and decisions to the API's JSON objects.

Every number leaves here finite (JSON has no NaN or infinity) and every job
leaves without its payload and result unless the server shows them. The
condition of a queue is decided here too, from the same figures the page shows,
so the overview and the API agree.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sluice.jobinfo import JobInfo
from sluice.stats import QueueStats

from .decisions import DecisionRecord

MAX_PAYLOAD_CHARS = 65_536  # a shown payload or result larger than this is cut


def finite(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


@dataclass(frozen=True)
class Sample:
    """One poll of one queue: a point on every chart."""

    at: float  # wall clock of the poll, the decisions' clock too
    backlog: int
    in_flight: int
    delayed: int
    dead: int
    oldest_wait_s: float | None
    arrival_rate: float | None  # jobs/s over the rate window
    completion_rate: float | None
    wait_p95_s: float | None  # over the wait window
    workers: int  # live workers (replicas up, from their heartbeats)
    busy: int
    slots: int
    desired: int | None  # the autoscaler's last target; None when none feeds this dashboard
    enqueued: int  # counters since the queue was created: a page refreshes lists on change
    completed: int
    failed: int
    cancelled: int

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = finite(value) if isinstance(value, float) else value
        return out


def sample_of(
    at: float,
    stats: QueueStats,
    rate_base: QueueStats | None,
    wait_base: QueueStats | None,
    decision: DecisionRecord | None,
) -> Sample:
    """A :class:`Sample` from a snapshot and older ones to take rates and the p95 over."""
    rates = stats.since(rate_base) if rate_base is not None else None
    waits = stats.since(wait_base) if wait_base is not None else None
    c = stats.counters
    return Sample(
        at=at, backlog=stats.backlog, in_flight=stats.in_flight,
        delayed=stats.delayed_total, dead=stats.dead,
        oldest_wait_s=stats.oldest_age_s,
        arrival_rate=rates.arrival_rate if rates else None,
        completion_rate=rates.completion_rate if rates else None,
        wait_p95_s=waits.wait_time.interpolated(0.95) if waits else None,
        workers=len(stats.workers), busy=stats.busy_slots, slots=stats.total_slots,
        desired=decision.target if decision else None,
        enqueued=c.enqueued, completed=c.completed, failed=c.failed, cancelled=c.cancelled,
    )  # fmt: skip


@dataclass(frozen=True)
class Condition:
    level: str  # ok, idle, info, warn, error: how the page colours it
    text: str


def condition_of(
    sample: Sample | None, error: str | None, decision: DecisionRecord | None, paused: bool | None
) -> Condition:
    """The one line the overview shows for a queue, worst first."""
    if error is not None or sample is None:
        return Condition("error", f"stats unavailable: {error or 'not read yet'}")
    dead = sample.dead
    rules = (
        (decision is not None and not decision.metrics_ok, "warn", "the autoscaler has no metrics"),
        (bool(sample.backlog and not sample.workers and not sample.desired), "warn",
         "jobs waiting, no workers"),
        (bool(paused), "info", "scaling paused"),
        (dead > 0, "warn", f"{dead} dead letter{'s' * (dead != 1)}"),
        (not (sample.backlog or sample.in_flight), "idle",
         f"idle, {sample.delayed} scheduled" if sample.delayed else "idle"),
    )  # fmt: skip
    for hit, level, text in rules:
        if hit:
            return Condition(level, text)
    return Condition("ok", "working")


def summary_json(
    name: str,
    sample: Sample | None,
    error: str | None,
    decision: DecisionRecord | None,
    paused: bool | None,
) -> dict[str, Any]:
    """A queue's row in the overview (and the head of its page)."""
    cond = condition_of(sample, error, decision, paused)
    return {
        "name": name,
        "sample": sample.to_json() if sample else None,
        "condition": {"level": cond.level, "text": cond.text},
        "decision": decision.to_json() if decision else None,
        "paused": paused,
        "error": error,
    }


def stats_json(stats: QueueStats) -> dict[str, Any]:
    """The full snapshot: counts, counters, quantiles and workers."""
    return {
        "taken_at": stats.taken_at,
        "ready": {p.name.lower(): n for p, n in sorted(stats.ready.items())},
        "backlog": stats.backlog, "delayed_due": stats.delayed_due,
        "delayed": stats.delayed_total, "in_flight": stats.in_flight, "dead": stats.dead,
        "oldest_wait_s": finite(stats.oldest_age_s),
        "counters": dict(stats.counters.__dict__),
        "service_time_s": _quantiles(stats.service_time),
        "wait_time_s": _quantiles(stats.wait_time),
        "workers": [
            {"id": w.id, "busy": w.busy, "slots": w.slots, "seen_at": w.seen_at}
            for w in stats.workers
        ],
    }  # fmt: skip


def _quantiles(hist: Any) -> dict[str, float | None]:
    return {
        "count": hist.count,
        "mean": finite(hist.mean()),
        "p50": finite(hist.interpolated(0.5)),
        "p95": finite(hist.interpolated(0.95)),
        "p99": finite(hist.interpolated(0.99)),
    }


def job_json(job: JobInfo, *, show_payloads: bool) -> dict[str, Any]:
    """A job as the API shows it; payload and result only when the server shows them."""
    out: dict[str, Any] = {
        "id": job.id, "state": job.state, "task": job.task,
        "priority": job.priority.name.lower(), "attempts": job.attempts,
        "max_attempts": job.max_attempts, "enqueued_at": job.enqueued_at,
        "started_at": job.started_at, "finished_at": job.finished_at,
        "ready_at": job.ready_at, "worker": job.worker,
        "progress": finite(job.progress), "progress_message": job.progress_message,
        "error": job.error, "dead_reason": job.dead_reason,
        "cancel_requested": job.cancel_requested, "payloads_shown": show_payloads,
    }  # fmt: skip
    if show_payloads:
        out["payload"] = shown(job.payload)
        out["result"] = shown(job.result)
    return out


def shown(value: Any) -> Any:
    """A decoded payload or result, as JSON; raw bytes in base64; cut when very large."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value[:MAX_PAYLOAD_CHARS]).decode()}
    text = json.dumps(value, allow_nan=False, default=str)
    if len(text) > MAX_PAYLOAD_CHARS:
        return {"truncated": text[:MAX_PAYLOAD_CHARS]}
    return value


def jobs_json(jobs: Sequence[JobInfo], *, show_payloads: bool) -> list[dict[str, Any]]:
    return [job_json(j, show_payloads=show_payloads) for j in jobs]
