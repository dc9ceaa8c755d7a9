"""What ``Queue.get`` shows about one job, parsed from its hash."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluice import codec
from sluice.protocol.keys import STATES, F
from sluice.stats import Priority

JobState = str  # one of sluice.protocol.keys.STATES' values


@dataclass(frozen=True)
class JobInfo:
    """A job's state and history; times are Redis time in seconds since the epoch."""

    id: str
    state: JobState  # waiting, delayed, active, completed, dead, cancelled
    task: str
    priority: Priority
    attempts: int  # attempts started so far
    max_attempts: int | None  # None: the queue's setting applies
    enqueued_at: float
    started_at: float | None
    finished_at: float | None
    ready_at: float | None  # when it last became claimable (due time for delayed jobs)
    worker: str | None  # the worker of the last attempt
    progress: float | None
    progress_message: str | None
    payload: Any  # decoded; raw bytes if it is not JSON; None once finished
    result: Any  # decoded like payload
    error: str | None  # last error or traceback
    dead_reason: str | None
    cancel_requested: bool
    parents: tuple[str, ...] = ()  # enqueued ``after`` these jobs
    children: tuple[str, ...] = ()  # jobs enqueued after this one
    waiting_for: int | None = None  # blocked: parents not completed yet


def decode_value(data: bytes | None) -> Any:
    """A stored payload or result, decoded; raw bytes if it is not JSON."""
    if data is None:
        return None
    try:
        return codec.decode(data)
    except ValueError:
        return data


def _seconds(value: bytes | None) -> float | None:
    return int(value) / 1000 if value is not None else None


def _str(value: bytes | None) -> str | None:
    return value.decode(errors="replace") if value is not None else None


def _field(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def parse(
    job_id: str, fields: Mapping[Any, Any], payload: Any = None, result: Any = None
) -> JobInfo | None:
    """A :class:`JobInfo` from ``HGETALL`` of the job hash (None when it is gone)."""
    h = {_field(k).decode(): _field(v) for k, v in fields.items()}
    if F.TASK not in h:
        return None
    return JobInfo(
        id=job_id,
        state=STATES.get(h.get(F.STATE, b"w").decode(), "unknown"),
        task=h[F.TASK].decode(),
        priority=Priority(int(h.get(F.PRIORITY, b"2"))),
        attempts=int(h.get(F.ATTEMPTS, b"0")),
        max_attempts=int(h[F.MAX_ATTEMPTS]) if F.MAX_ATTEMPTS in h else None,
        enqueued_at=int(h.get(F.ENQUEUED, b"0")) / 1000,
        started_at=_seconds(h.get(F.STARTED)),
        finished_at=_seconds(h.get(F.FINISHED)),
        ready_at=_seconds(h.get(F.READY_SINCE)),
        worker=_str(h.get(F.WORKER)),
        progress=float(h[F.PROGRESS]) if F.PROGRESS in h else None,
        progress_message=_str(h.get(F.PROGRESS_MESSAGE)),
        payload=decode_value(_field(payload) if payload is not None else None),
        result=decode_value(_field(result) if result is not None else None),
        error=_str(h.get(F.ERROR)),
        dead_reason=_str(h.get(F.DEAD_REASON)),
        cancel_requested=F.CANCEL in h,
        parents=tuple(h.get(F.PARENTS, b"").decode().split()),
        children=tuple(h.get(F.CHILDREN, b"").decode().split()),
        waiting_for=int(h[F.PENDING])
        if STATES.get(h.get(F.STATE, b"").decode()) == "blocked" and F.PENDING in h
        else None,
    )
