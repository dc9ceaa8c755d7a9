"""Each operation as a pure pair: the script arguments to send, and a parser of the reply.

The sync and async clients (and Queue / AsyncQueue) differ only in whether
they await the round trip, so everything else lives here once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sluice.errors import QueueFull, UnknownParent
from sluice.protocol.messages import (
    OUTCOME_CODES,
    START_CODE,
    Claimed,
    ClaimResult,
    Extended,
    NewJob,
    Outcome,
)
from sluice.protocol.scripts import Arg

T = TypeVar("T")

# The last part of a traceback says most; the job hash need not hold megabytes.
MAX_ERROR_CHARS = 8000


@dataclass(frozen=True)
class Call(Generic[T]):
    """A script invocation: its name, ARGV after the key prefix, and the reply's parser."""

    script: str
    args: list[Arg]
    parse: Callable[[Any], T]


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def raw(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _opt(value: float | None) -> Arg:
    return "" if value is None else value


def clip_error(error: str | None) -> str:
    if not error:
        return ""
    clipped = error if len(error) <= MAX_ERROR_CHARS else "..." + error[-MAX_ERROR_CHARS:]
    # Lone surrogates (undecodable bytes in a message) are valid str but not UTF-8.
    return clipped.encode("utf-8", "replace").decode()


def _job_args(jobs: Sequence[NewJob]) -> list[Arg]:
    args: list[Arg] = [len(jobs)]
    for j in jobs:
        args += [j.id, j.task, j.payload, int(j.priority), _ms(j.delay_s)]
        args += [_opt(j.max_attempts), _opt(j.timeout_s)]
        args += [" ".join(j.after), "1" if j.run_if_parent_fails else ""]
        args += [j.concurrency_key or ""]
    return args


def _added(queue: str) -> Callable[[list[Any]], int]:
    def parse(reply: list[Any]) -> int:
        if int(reply[0]) == 0:
            raise QueueFull(queue, int(reply[1]), int(reply[2]))
        if int(reply[0]) == 2:
            raise UnknownParent(queue, text(reply[1]), text(reply[2]))
        return int(reply[1])

    return parse


# The NewJob fields enqueue_one.lua stores; a job that sets any other takes enqueue.lua.
ONE_FIELDS = ("id", "task", "payload", "priority", "max_attempts", "timeout_s")


def _plain(job: NewJob) -> bool:
    """Claimable now, no parents, no concurrency key: what ``enqueue_one`` handles."""
    return not (job.delay_s or job.after or job.run_if_parent_fails or job.concurrency_key)


def enqueue(queue: str, jobs: Sequence[NewJob]) -> Call[int]:
    """One script call for the batch; a lone job claimable now takes the short script.

    ``enqueue_one`` does for such a job what ``enqueue`` does, in about half the server
    time and a third fewer arguments: a single enqueue is what most applications send.
    """
    if len(jobs) == 1 and _plain(jobs[0]):
        j = jobs[0]
        args: list[Arg] = [j.id, j.task, j.payload, int(j.priority)]
        args += [_opt(j.max_attempts), _opt(j.timeout_s)]
        return Call("enqueue_one", args, _added(queue))
    return Call("enqueue", _job_args(jobs), _added(queue))


def fire(queue: str, schedule: str, mark_ms: int, fires: Sequence[tuple[int, NewJob]]) -> Call[int]:
    """Enqueue a schedule's fires later than its recorded last fire; record ``mark_ms``.

    The check, the enqueue and the record are one script call: of two reconcilers
    firing the same schedule, the second finds the fire recorded and adds nothing.
    """
    args: list[Arg] = [schedule, mark_ms, *_job_args([job for _, job in fires])]
    return Call("fire", args + [at for at, _ in fires], _added(queue))


def _claimed(f: list[Any]) -> Claimed:
    if isinstance(f[0], bytes):  # the worker's own client: bytes, decoded here once
        return Claimed(
            f[0].decode(), f[1].decode(), f[2], int(f[3]), int(f[4]), int(f[5]) / 1000,
            str(f[6]), int(f[7]) / 1000, int(f[8]) / 1000, f[9] == 1, f[10] == 1,
        )  # fmt: skip
    return Claimed(
        id=text(f[0]),
        task=text(f[1]),
        payload=raw(f[2]),
        attempt=int(f[3]),
        max_attempts=int(f[4]),
        timeout_s=int(f[5]) / 1000,
        token=text(str(f[6])),
        enqueued_at=int(f[7]) / 1000,
        wait_s=int(f[8]) / 1000,
        started=int(f[9]) == 1,
        suspect=int(f[10]) == 1,
    )


def _claim_result(reply: list[Any]) -> ClaimResult:
    jobs = [_claimed(reply[i : i + 11]) for i in range(3, len(reply), 11)]
    due = int(reply[1])
    return ClaimResult(
        jobs, int(reply[0]) / 1000, due / 1000 if due >= 0 else None, passed=int(reply[2])
    )


def claim(
    worker_id: str, count: int, lease_s: float, start: int | None = None, suspects: bool = True
) -> Call[ClaimResult]:
    """Lease up to ``count`` jobs, the first ``start`` (default all) marked started.

    ``suspects``: whether one job whose lease expired before may be among the started.
    """
    start = count if start is None else max(0, min(start, count))
    args: list[Arg] = [worker_id, count, _ms(lease_s), start, int(suspects)]
    return Call("claim", args, _claim_result)


def _extended(reply: list[Any]) -> Extended:
    return Extended({text(x) for x in reply[0]}, {text(x) for x in reply[1]})


def extend(leases: Iterable[tuple[str, str]], lease_s: float) -> Call[Extended]:
    args: list[Arg] = [_ms(lease_s)]
    for job_id, token in leases:
        args += [job_id, token]
    return Call("extend", args, _extended)


def _stored_result(result: bytes | None) -> bytes:
    # A handler that returns None gives JSON null: storing nothing reads back the same
    # and saves a key per finished job.
    return b"" if result is None or result == b"null" else result


def finish(outcomes: Sequence[Outcome], starts: Sequence[tuple[str, str]] = ()) -> Call[list[bool]]:
    """One JSON argument describes the batch; results (opaque bytes) follow as their own.

    A batch of 50 would otherwise be 400 arguments, and packing them is most of a
    worker's client-side cost per job. ``starts`` are (id, token) of held-back jobs the
    worker has started since its last call. A start whose outcome is in the same batch
    (a short job) rides on that outcome as a flag, one Redis call cheaper than an entry
    of its own; the others go first, before any outcome. The reply has one flag per
    start entry, then one per outcome.
    """
    results: list[Arg] = []
    begun = set(starts).intersection((o.id, o.token) for o in outcomes) if starts else set()
    headers: list[list[Any]] = [
        [job_id, token, START_CODE] for job_id, token in starts if (job_id, token) not in begun
    ]
    for o in outcomes:
        result = _stored_result(o.result)
        if result:
            results.append(result)
        ref = len(results) if result else 0
        headers.append(
            [o.id, o.token, OUTCOME_CODES[o.kind], _ms(o.delay_s), max(0.0, o.service_s),
             o.reason or "", clip_error(o.error), ref, int((o.id, o.token) in begun)]
        )  # fmt: skip
    return Call("finish", [json.dumps(headers), *results], _accepted)


def _accepted(reply: list[Any]) -> list[bool]:
    return [bool(int(x)) for x in reply]


def reap(limit: int = 1000) -> Call[int]:
    return Call("reap", [limit], int)


def cancel(job_id: str) -> Call[bool]:
    return Call("cancel", [job_id], lambda reply: int(reply) != 0)


# cancel.lua's replies, by name.
CANCEL_OUTCOMES = {0: "not_found", 1: "cancelled", 2: "cancel_requested"}


def cancel_outcome(job_id: str) -> Call[str]:
    """What a cancel did: cancelled, cancel_requested (running), not_found (or already ended)."""
    return Call("cancel", [job_id], lambda reply: CANCEL_OUTCOMES[int(reply)])


def progress(job_id: str, token: str, pct: float, message: str) -> Call[bool]:
    return Call("progress", [job_id, token, pct, message], lambda reply: int(reply) == 1)


def requeue_dead(job_ids: Sequence[str] | None, limit: int = 1000) -> Call[int]:
    return Call("requeue_dead", [limit, *(job_ids or ())], int)


def purge_dead(limit: int = 1000) -> Call[int]:
    return Call("purge_dead", [limit], int)


def heartbeat(worker_id: str, busy: int, slots: int, ttl_s: float) -> Call[float]:
    ttl = _ms(ttl_s) if ttl_s > 0 else 0
    return Call("heartbeat", [worker_id, busy, slots, ttl], lambda reply: int(reply) / 1000)


@dataclass(frozen=True)
class Watched:
    """Where a job stands for a waiter (``watch.lua``); ``state`` None: no such job."""

    state: str | None  # stored letter, see keys.STATES
    result: bytes | None = None
    error: str | None = None
    dead_reason: str | None = None
    notice: str = "0-0"  # the end notice already there: a waiter reads after it


def _opt_text(value: bytes | str | None) -> str | None:
    return None if value is None else text(value)


def _watched(reply: list[Any]) -> Watched:
    if not reply:
        return Watched(None)
    fields = [*reply, None, None, None, None][:5]
    result = raw(fields[1]) if fields[1] is not None else None
    notice = text(fields[4]) if fields[4] else "0-0"
    return Watched(text(fields[0]), result, _opt_text(fields[2]), _opt_text(fields[3]), notice)


def notice(fields: dict[Any, Any]) -> Watched:
    """A job's end notice (an XREAD entry's fields) as :class:`Watched`: it carries the outcome."""
    values = {text(k): v for k, v in fields.items()}
    result = values.get("result")
    return Watched(
        _opt_text(values.get("state")),
        raw(result) if result is not None else None,
        _opt_text(values.get("error")),
        _opt_text(values.get("reason")),
    )


def watch(job_ids: Sequence[str], marker_s: float) -> Call[list[Watched]]:
    """Where each job stands; marks a waiter on those not ended for ``marker_s``."""
    return Call(
        "watch", [max(1, _ms(marker_s)), *job_ids], lambda reply: [_watched(r) for r in reply]
    )


@dataclass(frozen=True)
class EventBatch:
    """``events.lua``'s reply: entries after the id asked for, and whether some were trimmed."""

    missed: bool
    oldest: str  # the oldest entry kept ('' when the stream is empty)
    entries: list[tuple[Any, Any]]


def _event_batch(reply: list[Any]) -> EventBatch:
    entries = [(e[0], e[1]) for e in reply[2]]
    return EventBatch(bool(int(reply[0])), text(reply[1]) if reply[1] else "", entries)


def read_events(since: str, count: int) -> Call[EventBatch]:
    return Call("events", [since, count], _event_batch)
