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
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from sluice.protocol.keys import QueueKeys
from sluice.protocol.scripts import AsyncClient

POKE_TTL_MS = 60_000  # the poke stream outlives a hub that stopped without cleaning up
Entry = tuple[str, Any]  # (entry id, fields) of an end notice


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class WaitHub:
    """One background ``XREAD`` for the end notices every waiter of a queue awaits."""

    def __init__(self, client: AsyncClient, keys: QueueKeys, block_s: float) -> None:
        self._client = client
        self._poke = keys.hub(os.urandom(8).hex())
        self._poke_last = "0-0"
        self._block_ms = max(1, round(block_s * 1000))
        self._after: dict[str, str] = {}  # notice key -> read after this id
        self._waiting: dict[str, set[asyncio.Future[Entry]]] = {}
        self._reading: set[str] = set()  # the keys of the read in flight
        self._poked = False
        self._task: asyncio.Task[None] | None = None

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

    def waiting(self, key: str) -> int:
        """How many waits await ``key`` now."""
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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self._client.delete(self._poke)
