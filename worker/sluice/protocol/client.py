"""The worker-facing protocol: one script round trip per call, sync and async twins.

Arguments and replies are built and parsed by :mod:`sluice.protocol.ops`; these
classes only carry the client and queue and do the I/O.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sluice.job_settings import JobSettings
from sluice.protocol import ops
from sluice.protocol.keys import QueueKeys
from sluice.protocol.lane import async_lane_for, lane_for
from sluice.protocol.messages import Claimed, ClaimResult, Extended, Outcome
from sluice.protocol.scripts import Arg, AsyncClient, SyncClient, script
from sluice.protocol.stats_reply import stats as stats_call
from sluice.stats import QueueStats

T = TypeVar("T")

# How long a worker trusts the settings it read: a `Queue.configure` or operator change
# reaches every worker within this.
SETTINGS_MAX_AGE_S = 5.0

# Longest single BLPOP in wait_for_work: short enough to stay under any sane socket
# timeout and to notice shutdown, long enough that an idle worker costs nothing.
MAX_BLOCK_S = 5.0
MIN_BLOCK_S = 0.002


def _library_default() -> float | None:
    """redis-py's own read timeout when a client names none (5 s since redis-py 8; none before)."""
    try:
        defaults = importlib.import_module("redis._defaults")
    except ImportError:
        return None
    value = getattr(defaults, "DEFAULT_SOCKET_TIMEOUT", None)
    return float(value) if value else None


def socket_timeout(client: object) -> float | None:
    """The client's read timeout (None: none), which a blocking read must stay well under.

    Plain clients keep their options on the pool, cluster clients on the nodes manager
    (sync) or themselves (async); a client that names none gets the library's default.
    """
    for holder in (getattr(client, "connection_pool", None), getattr(client, "nodes_manager", None),
                   client):  # fmt: skip
        options = getattr(holder, "connection_kwargs", None)
        if isinstance(options, dict) and "socket_timeout" in options:
            timeout = options["socket_timeout"]
            return float(timeout) if timeout else None
    return _library_default()


class _Base:
    def __init__(self, queue: str) -> None:
        self.keys = QueueKeys(queue)
        self.queue = queue
        # Each script is built, and its KEYS bound, at its first use: a worker's start
        # then builds only the claim's before its first claim (all 15 took ~25 ms of CPU).
        self._script_keys: dict[str, list[str]] = {}
        # When the earliest delayed job falls due, as learned from the last claim,
        # in this process's monotonic clock: wait_for_work wakes up for it.
        self._next_due_mono: float | None = None
        self._settings: tuple[float, JobSettings] | None = None
        # Suspects the last claim left in line (this worker may run only one at a time).
        self.suspects_passed = 0

    def _keys_of(self, name: str) -> list[str]:
        keys = self._script_keys.get(name)
        if keys is None:
            keys = self._script_keys[name] = self.keys.script_keys(script(name).keys)
        return keys

    def _cached_settings(self, max_age_s: float) -> JobSettings | None:
        if self._settings and time.monotonic() - self._settings[0] < max_age_s:
            return self._settings[1]
        return None

    def _store_settings(self, fields: dict[Any, Any]) -> JobSettings:
        settings = JobSettings.from_config(fields)
        self._settings = (time.monotonic(), settings)
        return settings

    def _args(self, call: ops.Call[T]) -> list[Arg]:
        return [self.keys.prefix, *call.args]

    def _note_claim(self, result: ClaimResult) -> list[Claimed]:
        self.suspects_passed = result.passed
        if result.next_due is None:
            self._next_due_mono = None
        else:
            self._next_due_mono = time.monotonic() + max(0.0, result.next_due - result.now)
        return result.jobs

    def _block_for(self, timeout_s: float, client: object) -> float:
        limit = min(timeout_s, MAX_BLOCK_S)
        read_timeout = socket_timeout(client)
        if read_timeout is not None:
            limit = min(limit, read_timeout / 2)  # a blocked read must not look like a dead server
        if self._next_due_mono is not None:
            limit = min(limit, self._next_due_mono - time.monotonic())
        # Redis before 7 truncates a timeout to whole ms (0.001 may become 0) and 0 means
        # "block forever": a job due in 0.3 ms would park the worker until its socket
        # timeout. Waiting 2 ms is safe on every version.
        return max(limit, MIN_BLOCK_S) if limit > 0 else 0.0


class AsyncProtocol(_Base):
    """Claim, extend, finish, reap, heartbeat and progress for one queue (asyncio)."""

    def __init__(self, client: AsyncClient, queue: str) -> None:
        super().__init__(queue)
        self.client = client
        self._lane = async_lane_for(client)

    async def run(self, call: ops.Call[T]) -> T:
        """One operation of :mod:`sluice.protocol.ops`: one script round trip."""
        keys = self._keys_of(call.script)
        return call.parse(
            await self._lane.run(self.client, script(call.script), keys, self._args(call))
        )

    async def claim(
        self,
        worker_id: str,
        count: int,
        lease_s: float,
        start: int | None = None,
        suspects: bool = True,
    ) -> list[Claimed]:
        """Lease up to ``count`` jobs; see :func:`sluice.protocol.ops.claim`."""
        call = ops.claim(worker_id, count, lease_s, start, suspects)
        return self._note_claim(await self.run(call))

    async def extend(
        self, worker_id: str, leases: Iterable[tuple[str, str]], lease_s: float
    ) -> Extended:
        return await self.run(ops.extend(leases, lease_s))

    async def finish(
        self, outcomes: Sequence[Outcome], starts: Sequence[tuple[str, str]] = ()
    ) -> list[bool]:
        """Record ``starts`` (id, token) then ``outcomes``; one flag per outcome."""
        if not (outcomes or starts):
            return []
        flags = await self.run(ops.finish(outcomes, starts))
        return flags[len(flags) - len(outcomes) :]  # after those of the start entries

    async def reap(self, limit: int = 1000) -> int:
        return await self.run(ops.reap(limit))

    async def heartbeat(self, worker_id: str, busy: int, slots: int, ttl_s: float) -> float:
        """Announce the worker until ``ttl_s`` from now; ``ttl_s <= 0`` removes it."""
        return await self.run(ops.heartbeat(worker_id, busy, slots, ttl_s))

    async def progress(self, job_id: str, token: str, pct: float, message: str = "") -> bool:
        return await self.run(ops.progress(job_id, token, pct, message))

    async def stats(self, horizon_s: float = 0.0) -> QueueStats:
        return await self.run(stats_call(self.queue, horizon_s))

    async def settings(self, max_age_s: float = SETTINGS_MAX_AGE_S) -> JobSettings:
        """The queue's job settings, re-read when older than ``max_age_s``."""
        cached = self._cached_settings(max_age_s)
        if cached is not None:
            return cached
        return self._store_settings(await self.client.hgetall(self.keys.config))

    async def wait_for_work(self, timeout_s: float) -> bool:
        """Block until a job may be claimable (True) or the timeout passes (False)."""
        block = self._block_for(timeout_s, self.client)
        if block <= 0:
            return True
        return await self.client.blpop([self.keys.wake], timeout=block) is not None


class Protocol(_Base):
    """The synchronous twin of :class:`AsyncProtocol` (tests, tools, sync workers)."""

    def __init__(self, client: SyncClient, queue: str) -> None:
        super().__init__(queue)
        self.client = client
        self._lane = lane_for(client)

    def run(self, call: ops.Call[T]) -> T:
        """One operation of :mod:`sluice.protocol.ops`: one script round trip."""
        return call.parse(
            self._lane.run(
                self.client, script(call.script), self._keys_of(call.script), self._args(call)
            )
        )

    def claim(
        self,
        worker_id: str,
        count: int,
        lease_s: float,
        start: int | None = None,
        suspects: bool = True,
    ) -> list[Claimed]:
        call = ops.claim(worker_id, count, lease_s, start, suspects)
        return self._note_claim(self.run(call))

    def extend(self, worker_id: str, leases: Iterable[tuple[str, str]], lease_s: float) -> Extended:
        return self.run(ops.extend(leases, lease_s))

    def finish(
        self, outcomes: Sequence[Outcome], starts: Sequence[tuple[str, str]] = ()
    ) -> list[bool]:
        if not (outcomes or starts):
            return []
        flags = self.run(ops.finish(outcomes, starts))
        return flags[len(flags) - len(outcomes) :]

    def reap(self, limit: int = 1000) -> int:
        return self.run(ops.reap(limit))

    def heartbeat(self, worker_id: str, busy: int, slots: int, ttl_s: float) -> float:
        return self.run(ops.heartbeat(worker_id, busy, slots, ttl_s))

    def progress(self, job_id: str, token: str, pct: float, message: str = "") -> bool:
        return self.run(ops.progress(job_id, token, pct, message))

    def stats(self, horizon_s: float = 0.0) -> QueueStats:
        return self.run(stats_call(self.queue, horizon_s))

    def settings(self, max_age_s: float = SETTINGS_MAX_AGE_S) -> JobSettings:
        cached = self._cached_settings(max_age_s)
        if cached is not None:
            return cached
        return self._store_settings(self.client.hgetall(self.keys.config))

    def wait_for_work(self, timeout_s: float) -> bool:
        block = self._block_for(timeout_s, self.client)
        if block <= 0:
            return True
        return self.client.blpop([self.keys.wake], timeout=block) is not None
