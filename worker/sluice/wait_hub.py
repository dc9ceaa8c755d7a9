"""Many asyncio waiters of one queue share one blocking read.

``AsyncQueue.wait`` blocks on the job's end notice (see :mod:`sluice.waiting`).
One ``XREAD BLOCK`` per waiter would hold one connection per waiter: a
thousand concurrent waits in one process would open a thousand connections,
and a burst of them meets the server's accept backlog. Instead every waiter of
an :class:`~sluice.AsyncQueue` hands its notice key to the queue's hub, and
the hub blocks in *one* ``XREAD`` over all of them (they share the queue's
hash tag, so this works on a cluster too), handing each notice to the waiters
of its key.

A key added while the hub is blocked must join the read: the hub also reads
its own poke stream (``q:{N}:hub:<random>``), and a new key is announced
with one ``XADD`` there (one per read, however many keys arrive meanwhile),
which ends the current read; the next one includes the new keys.

The watches that start and renew the waits go together the same way: while
one watch call is in flight, those asked for meanwhile wait for the next,
which carries them all. A burst of a thousand waits is then a few calls, not
a thousand concurrent ones (which would also exhaust a connection pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from sluice.protocol import AsyncProtocol, ops

POKE_TTL_MS = 60_000  # the poke stream outlives a hub that stopped without cleaning up
WATCH_BATCH = 500  # job ids per watch call
Entry = tuple[str, Any]  # (entry id, fields) of an end notice


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class WaitHub:
    """One background ``XREAD`` for the end notices every waiter of a queue awaits."""

    def __init__(self, client: Any, protocol: AsyncProtocol, block_s: float) -> None:
        self._client = client
        self._protocol = protocol
        self._poke = protocol.keys.hub(os.urandom(8).hex())
        self._watches: list[tuple[str, float, asyncio.Future[ops.Watched]]] = []
        self._watcher: asyncio.Task[None] | None = None
        self._poke_last = "0-0"
        self._block_ms = max(1, round(block_s * 1000))
        self._after: dict[str, str] = {}  # notice key -> read after this id
        self._waiting: dict[str, set[asyncio.Future[Entry]]] = {}
        self._reading: set[str] = set()  # the keys of the read in flight
        self._poked = False
        self._task: asyncio.Task[None] | None = None

    async def watch(self, job_id: str, marker_s: float) -> ops.Watched:
        """``watch.lua`` for one job, in one call with the watches asked for meanwhile."""
        future: asyncio.Future[ops.Watched] = asyncio.get_running_loop().create_future()
        self._watches.append((job_id, marker_s, future))
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._send_watches())
        return await future

    async def _send_watches(self) -> None:
        while self._watches:
            batch = self._watches[:WATCH_BATCH]
            del self._watches[:WATCH_BATCH]
            marker_s = max(m for _, m, _ in batch)  # at least what each asked for
            try:
                replies = await self._protocol.run(ops.watch([j for j, _, _ in batch], marker_s))
            except Exception as exc:  # Redis errors: each caller sees it
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), watched in zip(batch, replies, strict=True):
                if not future.done():
                    future.set_result(watched)

    async def next_notice(self, key: str, after: str, timeout_s: float) -> Entry | None:
        """The next entry of ``key`` after ``after``, or None after ``timeout_s``."""
        future: asyncio.Future[Entry] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, set()).add(future)
        self._after[key] = after
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        elif key not in self._reading and not self._poked:
            self._poked = True  # one poke ends the read in flight; the next has every key
            await self._client.xadd(self._poke, {"k": "1"}, maxlen=1)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            return None
        finally:
            self._forget(key, future)

    def waiting(self, key: str | None = None) -> int:
        """How many waits await ``key`` (None: any key) now."""
        if key is None:
            return sum(len(futures) for futures in self._waiting.values())
        return len(self._waiting.get(key, ()))

    def _forget(self, key: str, future: asyncio.Future[Entry]) -> None:
        futures = self._waiting.get(key)
        if futures is not None:
            futures.discard(future)
            if not futures:
                del self._waiting[key]
                self._after.pop(key, None)

    async def _run(self) -> None:
        try:
            while self._waiting:
                await self._read_once()
        except Exception as exc:  # Redis errors: every waiter sees them
            for futures in self._waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)

    async def _read_once(self) -> None:
        self._reading = set(self._after)
        self._poked = False
        streams: dict[Any, Any] = {self._poke: self._poke_last, **self._after}
        reply: Any = await self._client.xread(streams, count=1, block=self._block_ms)
        self._reading = set()
        pairs = reply.items() if isinstance(reply, dict) else (reply or [])
        for raw_key, entries in pairs:
            if not entries:
                continue
            key, (entry_id, fields) = _text(raw_key), entries[-1]
            if key == self._poke:
                self._poke_last = _text(entry_id)
                await self._client.pexpire(self._poke, POKE_TTL_MS)
                continue
            for future in self._waiting.pop(key, set()):
                if not future.done():
                    future.set_result((_text(entry_id), fields))
            self._after.pop(key, None)

    async def close(self) -> None:
        for task in (self._task, self._watcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(Exception):
            await self._client.delete(self._poke)
