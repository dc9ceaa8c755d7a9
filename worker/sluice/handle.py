"""What ``enqueue`` returns: the job id, as before, that can also wait for the result.

A :class:`JobHandle` *is* a ``str`` (the id), so code written against the old
return type keeps working: comparisons, dict keys, JSON, logging. It adds
``result(timeout)`` (Celery's ``AsyncResult.get``, arq's ``job.result``),
``info()`` and ``cancel()``. It pickles as the plain id: the queue and its
connection do not travel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

if TYPE_CHECKING:
    from sluice.jobinfo import JobInfo
    from sluice.queue import AsyncQueue, Queue  # noqa: F401  (quoted in the base classes)

_Q = TypeVar("_Q")


class _BoundId(str, Generic[_Q]):
    """A job id that carries its queue: what the sync and async handles share."""

    queue: _Q

    def __new__(cls, job_id: str, queue: _Q) -> Self:
        handle = super().__new__(cls, job_id)
        handle.queue = queue
        return handle

    @property
    def id(self) -> str:
        return str(self)

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        return (str, (str(self),))


class JobHandle(_BoundId["Queue"]):
    """A job's id, bound to its :class:`sluice.Queue`."""

    def result(self, timeout: float | None = None) -> Any:
        """Block until the job ends; its result, or the error saying how it ended.

        Raises :class:`sluice.errors.JobFailed` (dead-lettered),
        :class:`~sluice.errors.JobCancelled`, :class:`~sluice.errors.WaitTimeout`, or
        :class:`~sluice.errors.ResultExpired` once its record outlived the result TTL.
        """
        return self.queue._wait(self.id, timeout, known=True)

    def info(self) -> JobInfo | None:
        return self.queue.get(self.id)

    def cancel(self) -> bool:
        return self.queue.cancel(self.id)


class AsyncJobHandle(_BoundId["AsyncQueue"]):
    """A job's id, bound to its :class:`sluice.AsyncQueue`."""

    async def result(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        """The asyncio twin of :meth:`JobHandle.result` (the timeout is the wait's own)."""
        return await self.queue._wait(self.id, timeout, known=True)

    async def info(self) -> JobInfo | None:
        return await self.queue.get(self.id)

    async def cancel(self) -> bool:
        return await self.queue.cancel(self.id)
