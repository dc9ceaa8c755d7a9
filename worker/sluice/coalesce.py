"""Concurrent enqueues from one :class:`~sluice.AsyncQueue` share round trips.

An asyncio application (a web server) enqueues from many tasks at once. Alone,
each enqueue is one script call and one round trip; here, while one call is in
flight, the jobs of the calls made meanwhile wait and then go together in the
next call, as the worker's finisher does with outcomes. An idle queue sends a
job at once: there is no linger timer to tune, and no latency added.

Each caller still gets the answer it would have had alone: a batch that the
queue's ``max_length`` refuses as a whole is retried job by job, and any other
error reaches every caller of that batch. A caller that is cancelled while its
job waits does not take the job back, as with a single call cut off mid-flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sluice.errors import QueueFull
from sluice.protocol.messages import NewJob

Send = Callable[[list[NewJob]], Awaitable[object]]


class EnqueueBatcher:
    """Sends jobs through ``send`` in batches of whatever accumulated meanwhile."""

    def __init__(self, send: Send, max_batch: int) -> None:
        self._send = send
        self._max_batch = max_batch  # jobs per script call
        self._pending: list[tuple[NewJob, asyncio.Future[None]]] = []
        self._sender: asyncio.Task[None] | None = None
        self.calls = 0  # script calls made (for tests and benchmarks)

    async def add(self, job: NewJob) -> None:
        """Enqueue ``job``; returns once Redis has it (or raises what refused it)."""
        done = asyncio.get_running_loop().create_future()
        self._pending.append((job, done))
        if self._sender is None or self._sender.done():
            # A task of its own, so a cancelled caller cannot strand the others' jobs.
            self._sender = asyncio.create_task(self._run())
        await done

    async def _run(self) -> None:
        while self._pending:
            cut = self._max_batch
            batch, self._pending = self._pending[:cut], self._pending[cut:]
            try:
                await self._deliver(batch)
            except BaseException:  # cancelled (loop closing): nobody may wait forever
                for _, done in [*batch, *self._pending]:
                    done.cancel()
                self._pending = []
                raise

    async def _deliver(self, batch: list[tuple[NewJob, asyncio.Future[None]]]) -> None:
        self.calls += 1
        try:
            await self._send([job for job, _ in batch])
        except QueueFull as exc:
            if len(batch) == 1:
                _fail(batch, exc)
                return
            for one in batch:  # the limit may admit some of them: ask for each alone
                await self._deliver([one])
            return
        except Exception as exc:  # Redis errors and the like: each caller sees it
            _fail(batch, exc)
            return
        for _, done in batch:
            if not done.done():  # a caller cancelled meanwhile has a cancelled future
                done.set_result(None)


def _fail(batch: list[tuple[NewJob, asyncio.Future[None]]], exc: Exception) -> None:
    for _, done in batch:
        if not done.done():
            done.set_exception(exc)
