"""Outcomes go to Redis in batches: one finish round trip for everything that ended meanwhile.

A job that ends only appends its outcome and sets an event; a single flusher
task sends whatever has accumulated, and while that round trip is in flight
the next batch builds up. Under load batches grow by themselves; when idle an
outcome leaves at once, so there is no linger timer to tune.

An outcome stays in memory until Redis accepted the call: during an outage the
flusher retries with backoff, and the heartbeat keeps extending the leases of
these jobs (:meth:`Finisher.leases`), so a worker that rides out an outage
loses nothing and reruns nothing.

The same calls carry the started markers of jobs the worker had held back
(prefetch) and has now started (:meth:`Finisher.start`): a marker rides with the
outcomes of the jobs that freed the slots, so it costs no round trip of its own
under load, and it always goes before the outcome of its own job. Until it lands
a crash returns the job uncharged; the reap then makes it a suspect, which the
next claim hands out only marked, so a job that kills its worker is still
charged for every crash after the first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator

from sluice.protocol import AsyncProtocol, Outcome
from sluice.worker.transient import TRANSIENT, Backoff, describe

log = logging.getLogger("sluice.worker")

MAX_BATCH = 500  # outcomes per finish call (8 arguments each)


class Finisher:
    """Collects outcomes and sends them in batches until :meth:`close`."""

    def __init__(
        self,
        protocol: AsyncProtocol,
        on_refused: Callable[[Outcome], None] | None = None,
        on_recorded: Callable[[Outcome, bool], None] | None = None,
    ) -> None:
        self._protocol = protocol
        self._on_refused = on_refused
        self._on_recorded = on_recorded  # every outcome once Redis answered: accepted or not
        self._pending: list[Outcome] = []
        self._sending: list[Outcome] = []
        self._starts: list[tuple[str, str]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self.batches = 0

    def put(self, outcome: Outcome) -> None:
        self._pending.append(outcome)
        self._idle.clear()
        self._wake.set()

    def start(self, job_id: str, token: str) -> None:
        """Mark a held-back job started (its attempt is charged from then on)."""
        self._starts.append((job_id, token))
        self._idle.clear()
        self._wake.set()

    def leases(self) -> Iterator[tuple[str, str]]:
        """(id, token) of every outcome not yet recorded: their leases must be kept."""
        for o in (*self._sending, *self._pending):
            yield o.id, o.token

    def __len__(self) -> int:
        return len(self._pending) + len(self._sending) + len(self._starts)

    async def run(self) -> None:
        backoff = Backoff()
        while not (self._closing and not self._pending and not self._starts):
            if not (self._pending or self._starts):
                self._idle.set()
                await self._wake.wait()
                self._wake.clear()
                continue
            self._sending = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            starts, self._starts = self._starts, []
            await self._send(backoff, starts)
        self._idle.set()

    async def _send(self, backoff: Backoff, starts: list[tuple[str, str]]) -> None:
        while True:
            try:
                # Starts are idempotent and outcomes fenced: a resent call changes nothing twice.
                accepted = await self._protocol.finish(self._sending, starts)
            except TRANSIENT as exc:
                delay = backoff.next()
                log.warning(
                    "finish failed (%s); %d outcomes kept, retry in %.2fs",
                    describe(exc),
                    len(self),
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            break
        backoff.reset()
        self.batches += 1
        for outcome, ok in zip(self._sending, accepted, strict=True):
            if not ok and self._on_refused is not None:
                self._on_refused(outcome)
            if self._on_recorded is not None:
                self._on_recorded(outcome, ok)
        self._sending = []

    async def drain(self, timeout_s: float) -> bool:
        """Wait until everything is recorded (True) or ``timeout_s`` passes (False)."""
        try:
            async with asyncio.timeout(timeout_s):
                while len(self):
                    await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        """Stop once everything pending is sent."""
        self._closing = True
        self._wake.set()
