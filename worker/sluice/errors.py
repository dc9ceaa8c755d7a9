"""Errors the queue raises, and the two signals a task handler raises.

Every error a caller may want to handle derives from :class:`SluiceError`.
Messages never contain Redis credentials: URLs in them go through
:func:`sluice.connection.redact` first.

:class:`Retry` and :class:`Fail` are not errors of the library but decisions of a
handler, carried as exceptions so that a handler can make them from anywhere in
its call stack.
"""

from __future__ import annotations

from collections.abc import Sequence


class SluiceError(Exception):
    """Base class of the queue's own errors."""


class QueueFull(SluiceError):
    """Enqueue refused: the queue's configured ``max_length`` would be exceeded."""

    def __init__(self, queue: str, waiting: int, limit: int) -> None:
        super().__init__(f"queue {queue!r} is full: {waiting} jobs waiting, limit {limit}")
        self.queue = queue
        self.waiting = waiting
        self.limit = limit


class UnknownParent(SluiceError, ValueError):
    """Enqueue refused: a job's ``after`` names a job the queue does not hold (never
    enqueued, or expired after the result TTL). Nothing of the batch was added."""

    def __init__(self, queue: str, job_id: str, parent: str) -> None:
        super().__init__(
            f"after: job {job_id!r} names parent {parent!r}, which queue {queue!r} does not "
            "hold (parents must be enqueued first, and not yet expired)"
        )
        self.queue, self.job_id, self.parent = queue, job_id, parent


class JobNotFound(SluiceError):
    """No job with that id (never existed, or expired after the result TTL)."""

    def __init__(self, queue: str, job_id: str, message: str | None = None) -> None:
        super().__init__(message or f"no job {job_id!r} in queue {queue!r}")
        self.queue = queue
        self.job_id = job_id


class RedisUnavailable(SluiceError):
    """Redis could not be used: unreachable past the retry window, or it refused us.

    ``job_ids`` are the jobs of an enqueue that may or may not have been stored
    (the reply never came); enqueueing them again with the same ids is safe, an
    existing id being a no-op. ``stored`` are jobs of the same call that are.
    """

    def __init__(
        self, message: str, job_ids: Sequence[str] = (), stored: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.job_ids = list(job_ids)
        self.stored = list(stored)


class RedisRefused(RedisUnavailable):
    """Redis answered but will not serve us: wrong credentials, no permission, no such db.

    Not transient: retrying cannot help, so a worker exits (code 3) instead of waiting.
    """


class ResultExpired(JobNotFound):
    """The job existed (a handle saw it enqueued) but its record expired after the result TTL."""

    def __init__(self, queue: str, job_id: str) -> None:
        message = f"job {job_id!r} in queue {queue!r} has expired (past the result TTL)"
        super().__init__(queue, job_id, message)


class JobFailed(SluiceError):
    """The job ended without a result. Catch this one: every final failure is one.

    Today every final failure is a dead letter (:class:`JobDeadLettered`); ``reason``
    says why: ``failed`` (the handler raised Fail), ``max_attempts``, ``timeout``,
    ``lease_expired``.
    """

    def __init__(self, queue: str, job_id: str, reason: str, error: str | None) -> None:
        last = (error or "").strip().splitlines()[-1:] or [""]
        detail = f": {last[0]}" if last[0] else ""
        super().__init__(f"job {job_id!r} in queue {queue!r} failed ({reason}){detail}")
        self.queue = queue
        self.job_id = job_id
        self.reason = reason
        self.error = error


class JobDeadLettered(JobFailed):
    """The job failed for good and sits in the dead-letter queue (``sluice dlq``)."""


class JobCancelled(SluiceError):
    """The job was cancelled before it completed."""

    def __init__(self, queue: str, job_id: str) -> None:
        super().__init__(f"job {job_id!r} in queue {queue!r} was cancelled")
        self.queue = queue
        self.job_id = job_id


class WaitTimeout(SluiceError, TimeoutError):
    """Waiting for a job timed out; the job itself goes on (``state`` is where it stood)."""

    def __init__(self, queue: str, job_id: str, timeout: float, state: str) -> None:
        super().__init__(
            f"job {job_id!r} in queue {queue!r} still {state} after waiting {timeout:g} s"
        )
        self.queue = queue
        self.job_id = job_id
        self.timeout = timeout
        self.state = state


class EventsMissed(SluiceError):
    """An event consumer fell behind the stream's bound: events after ``since`` were trimmed.

    Resume from ``first`` (the oldest event still kept) to go on, knowing some are lost.
    """

    def __init__(self, queue: str, since: str, first: str) -> None:
        super().__init__(
            f"events of queue {queue!r} after {since} were trimmed (the stream keeps the "
            f"newest events_max); the oldest kept is {first}"
        )
        self.queue = queue
        self.since = since
        self.first = first


class Retry(Exception):
    """Raised by a handler: run the job again, after ``delay`` seconds or the backoff."""

    def __init__(self, delay: float | None = None) -> None:
        super().__init__(f"retry requested (delay={delay})")
        self.delay = delay


class Fail(Exception):
    """Raised by a handler: dead-letter the job now, with ``reason``; no more attempts."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
