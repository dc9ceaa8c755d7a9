"""How an attempt ended -> the :class:`~sluice.protocol.Outcome` to record. Pure.

The handler's decision travels as an exception (:class:`~sluice.Retry`,
:class:`~sluice.Fail`) or a return value; timeouts and bad input are decided
by the worker. The retry delay (exponential backoff, full jitter) is computed
here, from the queue's settings, so the finish script only schedules it.
"""

from __future__ import annotations

import math
import traceback
from typing import Any

from sluice import codec, limits
from sluice.errors import Fail, Retry
from sluice.job_settings import JobSettings
from sluice.protocol import Claimed, Outcome

# Dead-letter reasons the worker gives (the scripts add max_attempts and lease_expired).
BAD_PAYLOAD = "bad_payload"
UNKNOWN_TASK = "unknown_task"
BAD_RESULT = "bad_result"
TIMEOUT = "timeout"


class JobTimeout(Exception):
    """The attempt ran past its timeout and was stopped."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"timed out after {timeout_s:g}s")


class RemoteError(Exception):
    """A handler in a child process raised; carries the child's formatted traceback."""


class BadResult(TypeError):
    """The handler returned something JSON cannot hold."""


def done(job: Claimed, result: Any, service_s: float) -> Outcome:
    if result is None:  # the common case; stored as nothing, read back as None
        return Outcome(job.id, job.token, "done", service_s=service_s)
    try:
        encoded = codec.encode(result)
    except (TypeError, ValueError) as exc:
        return failed(job, BadResult(str(exc)), JobSettings(), service_s)
    return Outcome(job.id, job.token, "done", result=encoded, service_s=service_s)


def done_encoded(job: Claimed, encoded: bytes, service_s: float) -> Outcome:
    """A result already encoded (by a child process)."""
    return Outcome(job.id, job.token, "done", result=encoded, service_s=service_s)


def dead_letters(job: Claimed, outcome: Outcome) -> bool:
    """Whether ``finish`` will dead-letter the job for this outcome (as finish.lua decides)."""
    return outcome.kind == "fail" or (outcome.kind == "retry" and job.attempt >= job.max_attempts)


def failed(job: Claimed, exc: BaseException, settings: JobSettings, service_s: float) -> Outcome:
    """The outcome of an attempt that raised ``exc``."""
    if isinstance(exc, Fail):
        return Outcome(
            job.id, job.token, "fail", error=exc.reason, reason=exc.reason, service_s=service_s
        )
    if isinstance(exc, BadResult):
        error = f"the handler's result cannot be stored as JSON: {exc}"
        return Outcome(
            job.id, job.token, "fail", error=error, reason=BAD_RESULT, service_s=service_s
        )
    if isinstance(exc, Retry):
        delay = _retry_delay(exc.delay, job, settings)
        return Outcome(
            job.id, job.token, "retry", error=str(exc), delay_s=delay, service_s=service_s
        )
    reason = TIMEOUT if isinstance(exc, JobTimeout) else None
    return Outcome(
        job.id,
        job.token,
        "retry",
        error=describe(exc),
        reason=reason,
        delay_s=settings.retry_delay(job.attempt),
        service_s=service_s,
    )


def _retry_delay(asked: float | None, job: Claimed, settings: JobSettings) -> float:
    """A handler's ``Retry(delay)``, within 0 .. the longest delay; NaN or None: the backoff."""
    if asked is None or math.isnan(asked):
        return settings.retry_delay(job.attempt)
    return min(limits.DELAY_S.high, max(0.0, asked))


def describe(exc: BaseException) -> str:
    """What to keep as the job's last error: the traceback, or the child's."""
    if isinstance(exc, RemoteError | JobTimeout):
        return str(exc)
    return "".join(traceback.format_exception(exc)).rstrip()


def rejected(job: Claimed, reason: str, error: str) -> Outcome:
    """Dead-letter at once: the job can never run here (bad payload, unknown task)."""
    return Outcome(job.id, job.token, "fail", error=error, reason=reason)


def release(job: Claimed) -> Outcome:
    """Hand back without charging an attempt (graceful shutdown)."""
    return Outcome(job.id, job.token, "release")
