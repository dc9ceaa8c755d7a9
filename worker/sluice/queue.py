"""The producer and operator API: enqueue, inspect, cancel, dead letters, stats, settings.

:class:`Queue` (blocking) and :class:`AsyncQueue` (asyncio) are twins: argument
handling and reply parsing live in :class:`_QueueBase` and
:mod:`sluice.protocol.ops`; the twins only do the round trips. A batch enqueue
is one script call per :data:`BATCH` jobs, which is where the throughput is.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from functools import partial
from typing import Any, TypeAlias

from sluice import browse, codec, events, jobinfo, limits, schedule_record, waiting
from sluice.browse import JobPage, PageRequest
from sluice.coalesce import EnqueueBatcher
from sluice.connection import connect
from sluice.events import Event
from sluice.handle import AsyncJobHandle, JobHandle
from sluice.job_settings import JobSettings
from sluice.jobinfo import JobInfo
from sluice.outages import DEFAULT_RETRY_S, Retrier
from sluice.protocol import ops
from sluice.protocol.client import AsyncProtocol, Protocol, socket_timeout
from sluice.protocol.keys import QueueKeys, check_job_id
from sluice.protocol.messages import NewJob
from sluice.protocol.scripts import AsyncClient, SyncClient
from sluice.schedule_record import ScheduleRecord
from sluice.stats import Priority, QueueStats
from sluice.wait_hub import WaitHub
from sluice.waiting import Waiter

BATCH = 500  # jobs per enqueue script call
DEFAULT_URL = "redis://127.0.0.1:6379/0"
# One job for enqueue_many: a mapping with enqueue's argument names, or (task, payload).
JobRequest: TypeAlias = Mapping[str, Any] | tuple[str, Any]


# base64 of 12 random bytes with '+' and '/' turned into letters: 16 letters and
# digits, ~95 bits (x and y are twice as likely), a quarter of the cost of base62.
_ID_LETTERS = bytes.maketrans(b"+/", b"xy")


def new_id() -> str:
    """A random job id: 16 letters and digits (~95 bits).

    Letters and digits only: an id that starts with '-' would read as an option
    to ``sluice job ID`` and every other command that takes one.
    """
    return base64.b64encode(os.urandom(12)).translate(_ID_LETTERS).decode()


def new_job(
    task: str,
    payload: Any = None,
    *,
    id: str | None = None,
    priority: str | int | Priority = Priority.NORMAL,
    delay: float = 0,
    timeout: float | None = None,
    max_attempts: int | None = None,
    after: Iterable[str] = (),
    run_if_parent_fails: bool = False,
    concurrency_key: str | None = None,
) -> NewJob:
    """Validate and encode one job; ValueError names the argument and its range."""
    if not isinstance(task, str) or not task:
        raise ValueError(f"task: must be a non-empty string, got {task!r}")
    if not isinstance(run_if_parent_fails, bool):
        raise ValueError(f"run_if_parent_fails: must be true or false, got {run_if_parent_fails!r}")
    return NewJob(
        concurrency_key=None if concurrency_key is None else _concurrency_key(concurrency_key),
        after=_parents(after),
        run_if_parent_fails=run_if_parent_fails,
        id=check_job_id(id) if id is not None else new_id(),
        task=task,
        payload=_payload(payload),
        priority=Priority.parse(priority),
        delay_s=limits.DELAY_S.check("delay", delay),
        max_attempts=None if max_attempts is None else _attempts(max_attempts),
        timeout_s=None if timeout is None else limits.TIMEOUT_S.check("timeout", timeout),
    )


def _concurrency_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"concurrency_key: must be a non-empty string, got {key!r}")
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > limits.MAX_CONCURRENCY_KEY_BYTES:
        raise ValueError(
            f"concurrency_key: at most {limits.MAX_CONCURRENCY_KEY_BYTES} bytes (UTF-8), got {size}"
        )
    return key


def _parents(after: Any) -> tuple[str, ...]:
    if isinstance(after, str) or not isinstance(after, Iterable):
        raise ValueError(f"after: must be a list of job ids, got {after!r}")
    parents: list[str] = []
    for parent in after:
        try:
            check_job_id(parent)
        except ValueError as exc:
            raise ValueError(f"after: {str(exc).removeprefix('id: ')}") from None
        if parent not in parents:
            parents.append(parent)
    if len(parents) > limits.MAX_PARENTS:
        raise ValueError(f"after: at most {limits.MAX_PARENTS} parents, got {len(parents)}")
    return tuple(parents)


def _attempts(value: Any) -> int:
    return int(limits.MAX_ATTEMPTS.check("max_attempts", value))


def _payload(payload: Any) -> bytes:
    try:
        return codec.encode(payload)
    except TypeError as exc:  # a set, an object
        raise TypeError(f"payload: cannot be stored as JSON: {exc}") from None
    except ValueError as exc:  # NaN or an infinity: not standard JSON
        raise ValueError(f"payload: cannot be stored as JSON: {exc}") from None


def _request(job: JobRequest) -> NewJob:
    if isinstance(job, tuple):
        return new_job(*job)
    return new_job(**job)


def _batches(jobs: Iterable[JobRequest]) -> Iterator[list[NewJob]]:
    batch: list[NewJob] = []
    for job in jobs:
        batch.append(_request(job))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _url(redis: str | None) -> str:
    return redis or os.environ.get("SLUICE_REDIS_URL") or DEFAULT_URL


def _config_update(settings: JobSettings) -> tuple[dict[str, str], list[str]]:
    values = settings.to_config()
    return values, [f.name for f in dataclasses.fields(JobSettings) if f.name not in values]


class _QueueBase:
    def __init__(self, name: str, retry_for: float) -> None:
        self.keys = QueueKeys(name)
        self.name = name
        retry_for = limits.ENQUEUE_RETRY_S.check("retry_for", retry_for)
        self._retrier = Retrier(retry_for, f"enqueue to queue {name!r}")

    @staticmethod
    def _ids(members: list[Any]) -> list[str]:
        return [ops.text(m) for m in members]

    @staticmethod
    def _infos(ids: list[str], replies: list[Any]) -> list[JobInfo | None]:
        """Parse the (hash, payload, result) reply triples of :meth:`_fetch`."""
        triples = zip(replies[::3], replies[1::3], replies[2::3], strict=True)
        return [jobinfo.parse(i, *reply) for i, reply in zip(ids, triples, strict=True)]

    @staticmethod
    def _ranges(pipe: Any, ranges: list[browse.Range]) -> Any:
        for r in ranges:
            getattr(pipe, r.command)(r.key, r.start, r.stop)
        return pipe

    @staticmethod
    def _range_ids(ranges: list[browse.Range], replies: list[Any]) -> list[str]:
        return [
            i
            for r, reply in zip(ranges, replies, strict=True)
            for i in browse.ids_from(reply, r.reverse)
        ]

    def _matching(self, keys: list[Any], states: list[Any], state: str) -> list[str]:
        want = browse.SCANNED[state]
        ids = [browse.job_id_of(self.keys, k) for k in keys]
        return [i for i, s in zip(ids, states, strict=True) if s is not None and ops.raw(s) == want]

    @staticmethod
    def _queue_names(keys: Iterable[Any]) -> list[str]:
        return sorted({n for k in keys if (n := browse.queue_of(k)) is not None})


class Queue(_QueueBase):
    """A queue in Redis, for producers, tools and the operator (blocking I/O)."""

    def __init__(
        self,
        name: str,
        redis: str | SyncClient | None = None,
        *,
        retry_for: float = DEFAULT_RETRY_S,
    ) -> None:
        """``retry_for``: seconds an enqueue retries while Redis is unreachable, then
        :class:`~sluice.errors.RedisUnavailable` (0: raise at the first failure)."""
        super().__init__(name, retry_for)
        self._owned = redis is None or isinstance(redis, str)
        self.client: SyncClient = (
            connect(_url(redis)) if redis is None or isinstance(redis, str) else redis
        )
        self.protocol = Protocol(self.client, name)

    def close(self) -> None:
        if self._owned:
            self.client.close()

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def enqueue(
        self,
        task: str,
        payload: Any = None,
        *,
        id: str | None = None,
        priority: str | int | Priority = Priority.NORMAL,
        delay: float = 0,
        timeout: float | None = None,
        max_attempts: int | None = None,
        after: Iterable[str] = (),
        run_if_parent_fails: bool = False,
        concurrency_key: str | None = None,
    ) -> JobHandle:
        """Add one job; returns its id (a str) as a handle: ``enqueue(...).result(timeout)``.

        Same id again: a no-op (within the result TTL). ``after``: ids of jobs that must
        complete first; the job waits, blocked, until they have. When one is dead-lettered
        or cancelled the job is dead-lettered (reason ``dependency_failed``), unless
        ``run_if_parent_fails``. A parent the queue does not hold raises UnknownParent.
        ``concurrency_key``: at most the queue's ``key_concurrency`` jobs of one key run
        at once, across every worker (up to 256 bytes).
        """
        job = new_job(
            task,
            payload,
            id=id,
            priority=priority,
            delay=delay,
            timeout=timeout,
            max_attempts=max_attempts,
            after=after,
            run_if_parent_fails=run_if_parent_fails,
            concurrency_key=concurrency_key,
        )
        call = ops.enqueue(self.name, [job])
        self._retrier.call(partial(self.protocol.run, call), [job.id])
        return JobHandle(job.id, self)

    def enqueue_many(self, jobs: Iterable[JobRequest]) -> list[str]:
        """Add jobs in batches; each is checked before its batch is sent.

        A bad job raises ValueError and the batches before it are stored (their ids
        are then lost to the caller: validate first, as ``sluice enqueue`` does).
        """
        ids: list[str] = []
        for batch in _batches(jobs):
            call = ops.enqueue(self.name, batch)
            self._retrier.call(partial(self.protocol.run, call), [j.id for j in batch], ids)
            ids += [j.id for j in batch]
        return ids

    def get(self, job_id: str) -> JobInfo | None:
        return self._infos([job_id], self._fetch([job_id]).execute())[0]

    def _fetch(self, ids: list[str]) -> Any:
        pipe = self.client.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(self.keys.job(job_id))
            pipe.get(self.keys.payload(job_id))
            pipe.get(self.keys.result(job_id))
        return pipe

    def cancel(self, job_id: str) -> bool:
        """True if the job will not run (or, running, was asked to stop)."""
        return self.protocol.run(ops.cancel(job_id))

    def wait(self, job_id: str, timeout: float | None = None) -> Any:
        """Block until the job ends (at most ``timeout`` s; None: as long as it takes).

        Returns its result; raises JobFailed (dead-lettered), JobCancelled,
        WaitTimeout, or JobNotFound at once for an id the queue does not know.
        Woken through Redis when the job ends (see :mod:`sluice.waiting`), not by polling.
        """
        return self._wait(check_job_id(job_id), timeout, known=False)

    def _wait(self, job_id: str, timeout: float | None, *, known: bool) -> Any:
        waiter = Waiter(
            self.keys, job_id, timeout, known=known, read_timeout=socket_timeout(self.client)
        )
        (watched,) = self.protocol.run(waiter.watch())
        while True:
            done, result = waiter.settle(watched)
            if done:
                return result
            block = waiter.block_s()
            if block <= 0:
                raise waiter.timed_out()
            reply = self.client.xread(
                {waiter.notice: waiter.last}, count=1, block=waiter.xread_block_ms(block)
            )
            woke = waiter.woken(reply)
            watched = woke if woke is not None else self.protocol.run(waiter.watch())[0]

    def events(
        self, since: str | None = None, *, follow: bool = True, job: str | None = None
    ) -> Iterator[Event]:
        """The queue's lifecycle events after ``since``, oldest first.

        ``since``: None for those from now on, ``"0"`` for the oldest kept, or the
        ``id`` of the last event handled (to resume). ``follow``: block for new
        events (woken by Redis) instead of stopping at the newest. ``job``: only
        that job's. Raises :class:`sluice.errors.EventsMissed` when events after
        ``since`` were trimmed before they were read.
        """
        start = since if since is not None else events.latest(self._newest_event())
        reader = events.Reader(self.keys, start, job=job, read_timeout=socket_timeout(self.client))
        while True:
            yield from reader.take(self.protocol.run(reader.read()))
            if reader.full:
                continue
            if not follow:
                return
            streams, block_ms = reader.xread_args()
            self.client.xread(streams, count=1, block=block_ms)  # a wake-up: read() again

    def _newest_event(self) -> Any:
        return self.client.xrevrange(self.keys.events, count=1)

    def stats(self, horizon_s: float = 0.0) -> QueueStats:
        """One snapshot; with ``horizon_s``, delayed jobs due within it are counted apart."""
        return self.protocol.stats(horizon_s)

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[JobInfo]:
        """Dead letters, most recent first."""
        ids = self._ids(self.client.zrevrange(self.keys.dead, offset, offset + limit - 1))
        return [i for i in self._infos(ids, self._fetch(ids).execute()) if i]

    def requeue_dead(self, job_id: str | None = None) -> int:
        """Requeue one dead letter (or all), attempts reset; returns how many."""
        if job_id is not None:
            return self.protocol.run(ops.requeue_dead([job_id]))
        total = 0
        while n := self.protocol.run(ops.requeue_dead(None)):
            total += n
        return total

    def purge_dead(self) -> int:
        total = 0
        while n := self.protocol.run(ops.purge_dead()):
            total += n
        return total

    def jobs(self, request: PageRequest) -> JobPage:
        """A page of jobs in one state (see :mod:`sluice.browse` for the order of each)."""
        if request.state == "waiting":
            return self._waiting(request)
        if request.state in browse.INDEXED:
            return self._indexed(request)
        return self._scanned(request)

    def _waiting(self, req: PageRequest) -> JobPage:
        lists = browse.waiting_keys(self.keys, req.priority)
        pipe = self.client.pipeline(transaction=False)
        for key in lists:
            pipe.llen(key)
        lengths = [int(n) for n in pipe.execute()]
        ranges = browse.waiting_ranges(lists, lengths, req.offset, req.limit)
        pipe = self._ranges(self.client.pipeline(transaction=False), ranges)
        ids = self._range_ids(ranges, pipe.execute())
        return JobPage(req.state, self._found(ids), sum(lengths), req.offset)

    def _indexed(self, req: PageRequest) -> JobPage:
        r = browse.zset_range(self.keys, req.state, req.offset, req.limit)
        pipe = self._ranges(self.client.pipeline(transaction=False), [r])
        reply, total = pipe.zcard(r.key).execute()
        ids = browse.ids_from(reply, r.reverse)
        return JobPage(req.state, self._found(ids), int(total), req.offset)

    def _scanned(self, req: PageRequest) -> JobPage:
        cursor, found = req.cursor, []
        for _ in range(browse.SCAN_ROUNDS):
            cursor, keys = self.client.scan(
                cursor, match=self.keys.job("*"), count=browse.SCAN_COUNT
            )
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.hget(key, "s")
            found += self._matching(keys, pipe.execute(), req.state)
            if cursor == 0 or len(found) >= req.limit:
                break
        return JobPage(req.state, self._found(found), None, req.offset, int(cursor) or None)

    def _found(self, ids: list[str]) -> list[JobInfo]:
        if not ids:
            return []
        return [i for i in self._infos(ids, self._fetch(ids).execute()) if i]

    @classmethod
    def discover(cls, client: SyncClient) -> list[str]:
        """Names of the queues in this Redis (those with stats or settings), sorted."""
        keys = [k for p in browse.DISCOVERY_PATTERNS for k in client.scan_iter(match=p, count=1000)]
        return cls._queue_names(keys)

    def configure(self, settings: JobSettings) -> None:
        values, unset = _config_update(settings)
        self.client.hset(self.keys.config, mapping=values)  # type: ignore[arg-type]
        if unset:
            self.client.hdel(self.keys.config, *unset)

    def settings(self) -> JobSettings:
        return JobSettings.from_config(self.client.hgetall(self.keys.config))

    def fire_schedule(
        self, schedule: str, mark_ms: int, fires: Iterable[tuple[int, NewJob]] = ()
    ) -> int:
        """Enqueue a schedule's fires (fire time in ms, job) not yet recorded; record
        ``mark_ms`` as its last fire unless a later one is. Returns jobs added."""
        return self.protocol.run(ops.fire(self.name, schedule, mark_ms, list(fires)))

    def schedule_marks(self) -> dict[str, int]:
        """Each schedule's last recorded fire time (ms)."""
        pairs: list[Any] = self.client.zrange(self.keys.sched, 0, -1, withscores=True)
        return {ops.text(name): int(score) for name, score in pairs}

    def forget_schedule(self, schedule: str) -> None:
        """Drop a schedule's record of its last fire: it starts afresh, as first seen."""
        self.client.zrem(self.keys.sched, schedule)

    def publish_schedules(self, records: Iterable[ScheduleRecord]) -> None:
        """Replace the published schedule definitions (``sluice schedules`` reads them)."""
        known = self._ids(self.client.hkeys(self.keys.schedinfo))
        pipe = self.client.pipeline(transaction=False)
        _publish(pipe, self.keys, records, known)
        pipe.execute()

    def schedules(self) -> list[ScheduleRecord]:
        """The published schedules, by name."""
        published = {ops.text(k): v for k, v in self.client.hgetall(self.keys.schedinfo).items()}
        return [schedule_record.parse(name, published[name]) for name in sorted(published)]

    def purge(self) -> int:
        """Delete every key of the queue (jobs, stats, config); returns keys deleted."""
        deleted = 0
        batch: list[Any] = []
        for key in self.client.scan_iter(match=self.keys.pattern(), count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(self.client.delete(*batch))
                batch = []
        return deleted + (int(self.client.delete(*batch)) if batch else 0)


class AsyncQueue(_QueueBase):
    """The asyncio twin of :class:`Queue`."""

    def __init__(
        self,
        name: str,
        redis: str | AsyncClient | None = None,
        *,
        retry_for: float = DEFAULT_RETRY_S,
    ) -> None:
        super().__init__(name, retry_for)
        self._owned = redis is None or isinstance(redis, str)
        self.client: AsyncClient = (
            connect(_url(redis), async_=True) if redis is None or isinstance(redis, str) else redis
        )
        self.protocol = AsyncProtocol(self.client, name)
        self._batcher = EnqueueBatcher(self._send, BATCH)  # as many per call as enqueue_many
        self._waits: WaitHub | None = None  # one blocking read for all of this queue's waits

    async def close(self) -> None:
        if self._waits is not None:
            await self._waits.close()
        if self._owned:
            await self.client.aclose()

    async def __aenter__(self) -> AsyncQueue:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def enqueue(
        self,
        task: str,
        payload: Any = None,
        *,
        id: str | None = None,
        priority: str | int | Priority = Priority.NORMAL,
        delay: float = 0,
        timeout: float | None = None,  # noqa: ASYNC109  (the job's, not this call's)
        max_attempts: int | None = None,
        after: Iterable[str] = (),
        run_if_parent_fails: bool = False,
        concurrency_key: str | None = None,
    ) -> AsyncJobHandle:
        job = new_job(
            task,
            payload,
            id=id,
            priority=priority,
            delay=delay,
            timeout=timeout,
            max_attempts=max_attempts,
            after=after,
            run_if_parent_fails=run_if_parent_fails,
            concurrency_key=concurrency_key,
        )
        if job.after:  # alone: an unknown parent must refuse this job, not a shared batch
            await self._send([job])
            return AsyncJobHandle(job.id, self)
        await self._batcher.add(job)  # with the jobs of concurrent calls: see sluice.coalesce
        return AsyncJobHandle(job.id, self)

    async def _send(self, jobs: list[NewJob], stored: list[str] | None = None) -> int:
        call = ops.enqueue(self.name, jobs)
        return await self._retrier.call_async(
            partial(self.protocol.run, call), [j.id for j in jobs], stored or ()
        )

    async def enqueue_many(self, jobs: Iterable[JobRequest]) -> list[str]:
        ids: list[str] = []
        for batch in _batches(jobs):
            await self._send(batch, ids)
            ids += [j.id for j in batch]
        return ids

    async def get(self, job_id: str) -> JobInfo | None:
        return self._infos([job_id], await self._fetch([job_id]).execute())[0]

    def _fetch(self, ids: list[str]) -> Any:
        pipe = self.client.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(self.keys.job(job_id))
            pipe.get(self.keys.payload(job_id))
            pipe.get(self.keys.result(job_id))
        return pipe

    async def cancel(self, job_id: str) -> bool:
        return await self.protocol.run(ops.cancel(job_id))

    async def wait(self, job_id: str, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        """The asyncio twin of :meth:`Queue.wait` (the timeout is the wait's own)."""
        return await self._wait(check_job_id(job_id), timeout, known=False)

    async def _wait(self, job_id: str, timeout: float | None, *, known: bool) -> Any:  # noqa: ASYNC109
        waiter = Waiter(
            self.keys, job_id, timeout, known=known, read_timeout=socket_timeout(self.client)
        )
        hub = self._hub()
        watched = await hub.watch(waiter.job_id, waiter.marker_s())
        while True:
            done, result = waiter.settle(watched)
            if done:
                return result
            block = waiter.block_s()
            if block <= 0:
                raise waiter.timed_out()
            entry = await hub.next_notice(waiter.notice, waiter.last, block)
            woke = waiter.noticed(entry)
            watched = (
                woke if woke is not None else await hub.watch(waiter.job_id, waiter.marker_s())
            )

    def _hub(self) -> WaitHub:
        if self._waits is None:
            block = waiting.max_block(socket_timeout(self.client))
            self._waits = WaitHub(self.client, self.protocol, block)
        return self._waits

    async def events(
        self, since: str | None = None, *, follow: bool = True, job: str | None = None
    ) -> AsyncIterator[Event]:
        """The asyncio twin of :meth:`Queue.events`."""
        if since is None:
            newest = await self.client.xrevrange(self.keys.events, count=1)
        start = since if since is not None else events.latest(newest)
        reader = events.Reader(self.keys, start, job=job, read_timeout=socket_timeout(self.client))
        while True:
            for event in reader.take(await self.protocol.run(reader.read())):
                yield event
            if reader.full:
                continue
            if not follow:
                return
            streams, block_ms = reader.xread_args()
            await self.client.xread(streams, count=1, block=block_ms)

    async def stats(self, horizon_s: float = 0.0) -> QueueStats:
        return await self.protocol.stats(horizon_s)

    async def dead_letters(self, limit: int = 100, offset: int = 0) -> list[JobInfo]:
        ids = self._ids(await self.client.zrevrange(self.keys.dead, offset, offset + limit - 1))
        return [i for i in self._infos(ids, await self._fetch(ids).execute()) if i]

    async def requeue_dead(self, job_id: str | None = None) -> int:
        if job_id is not None:
            return await self.protocol.run(ops.requeue_dead([job_id]))
        total = 0
        while n := await self.protocol.run(ops.requeue_dead(None)):
            total += n
        return total

    async def purge_dead(self) -> int:
        total = 0
        while n := await self.protocol.run(ops.purge_dead()):
            total += n
        return total

    async def jobs(self, request: PageRequest) -> JobPage:
        if request.state == "waiting":
            return await self._waiting(request)
        if request.state in browse.INDEXED:
            return await self._indexed(request)
        return await self._scanned(request)

    async def _waiting(self, req: PageRequest) -> JobPage:
        lists = browse.waiting_keys(self.keys, req.priority)
        pipe = self.client.pipeline(transaction=False)
        for key in lists:
            pipe.llen(key)
        lengths = [int(n) for n in await pipe.execute()]
        ranges = browse.waiting_ranges(lists, lengths, req.offset, req.limit)
        pipe = self._ranges(self.client.pipeline(transaction=False), ranges)
        ids = self._range_ids(ranges, await pipe.execute())
        return JobPage(req.state, await self._found(ids), sum(lengths), req.offset)

    async def _indexed(self, req: PageRequest) -> JobPage:
        r = browse.zset_range(self.keys, req.state, req.offset, req.limit)
        pipe = self._ranges(self.client.pipeline(transaction=False), [r])
        reply, total = await pipe.zcard(r.key).execute()
        ids = browse.ids_from(reply, r.reverse)
        return JobPage(req.state, await self._found(ids), int(total), req.offset)

    async def _scanned(self, req: PageRequest) -> JobPage:
        cursor, found = req.cursor, []
        for _ in range(browse.SCAN_ROUNDS):
            cursor, keys = await self.client.scan(
                cursor, match=self.keys.job("*"), count=browse.SCAN_COUNT
            )
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.hget(key, "s")
            found += self._matching(keys, await pipe.execute(), req.state)
            if cursor == 0 or len(found) >= req.limit:
                break
        return JobPage(req.state, await self._found(found), None, req.offset, int(cursor) or None)

    async def _found(self, ids: list[str]) -> list[JobInfo]:
        if not ids:
            return []
        return [i for i in self._infos(ids, await self._fetch(ids).execute()) if i]

    @classmethod
    async def discover(cls, client: AsyncClient) -> list[str]:
        keys = [
            k
            for p in browse.DISCOVERY_PATTERNS
            async for k in client.scan_iter(match=p, count=1000)
        ]
        return cls._queue_names(keys)

    async def configure(self, settings: JobSettings) -> None:
        values, unset = _config_update(settings)
        await self.client.hset(self.keys.config, mapping=values)  # type: ignore[arg-type]
        if unset:
            await self.client.hdel(self.keys.config, *unset)

    async def settings(self) -> JobSettings:
        return JobSettings.from_config(await self.client.hgetall(self.keys.config))

    async def fire_schedule(
        self, schedule: str, mark_ms: int, fires: Iterable[tuple[int, NewJob]] = ()
    ) -> int:
        """:meth:`Queue.fire_schedule` on the event loop."""
        return await self.protocol.run(ops.fire(self.name, schedule, mark_ms, list(fires)))

    async def schedule_marks(self) -> dict[str, int]:
        """Each schedule's last recorded fire time (ms)."""
        pairs: list[Any] = await self.client.zrange(self.keys.sched, 0, -1, withscores=True)
        return {ops.text(name): int(score) for name, score in pairs}

    async def forget_schedule(self, schedule: str) -> None:
        """:meth:`Queue.forget_schedule` on the event loop."""
        await self.client.zrem(self.keys.sched, schedule)

    async def schedules(self) -> list[ScheduleRecord]:
        """The published schedules, by name."""
        raw = await self.client.hgetall(self.keys.schedinfo)
        published = {ops.text(k): v for k, v in raw.items()}
        return [schedule_record.parse(name, published[name]) for name in sorted(published)]

    async def publish_schedules(self, records: Iterable[ScheduleRecord]) -> None:
        """:meth:`Queue.publish_schedules` on the event loop."""
        known = self._ids(await self.client.hkeys(self.keys.schedinfo))
        pipe = self.client.pipeline(transaction=False)
        _publish(pipe, self.keys, records, known)
        await pipe.execute()

    async def purge(self) -> int:
        deleted = 0
        batch: list[Any] = []
        async for key in self.client.scan_iter(match=self.keys.pattern(), count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(await self.client.delete(*batch))
                batch = []
        return deleted + (int(await self.client.delete(*batch)) if batch else 0)


def _publish(
    pipe: Any, keys: QueueKeys, records: Iterable[ScheduleRecord], known: list[str]
) -> None:
    """Queue on ``pipe`` the writes that replace the published schedules (sync or asyncio
    pipeline alike: adding commands does no I/O): the new definitions, and the record
    and definition of every ``known`` schedule no longer among them."""
    values = {r.name: r.to_json() for r in records}
    gone = [n for n in known if n not in values]
    if values:
        pipe.hset(keys.schedinfo, mapping=values)
    if gone:
        pipe.hdel(keys.schedinfo, *gone)
        pipe.zrem(keys.sched, *gone)
