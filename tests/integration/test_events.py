"""Lifecycle events: written by the script that makes the change, read and resumed by id."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis

from sluice import AsyncQueue, EventsMissed, JobSettings, Queue
from sluice.events import Event
from sluice.protocol import Outcome

DEADLINE_S = 20.0


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    with Queue("ev", redis_url) as q:
        q.configure(JobSettings(events=True))
        yield q


def kept(queue: Queue, job: str | None = None) -> list[Event]:
    return list(queue.events("0", follow=False, job=job))


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


def test_a_jobs_life_in_events(queue: Queue) -> None:
    job = queue.enqueue("resize", {"w": 1}, max_attempts=3)
    proto = queue.protocol
    (claimed,) = proto.claim("worker-a", 1, 30)
    assert proto.progress(job, claimed.token, 40, "decoding")
    retry = Outcome(job, claimed.token, "retry", delay_s=2.5, error="Traceback\n  x\nOSError: disk")
    assert proto.finish([retry]) == [True]
    queue.client.zadd(queue.keys.delayed, {job: 0})  # due now
    (again,) = proto.claim("worker-b", 1, 30)
    assert proto.finish([Outcome(job, again.token, "done", result=b"1")]) == [True]

    events = kept(queue)
    assert types(events) == ["enqueued", "started", "progress", "retried", "started", "completed"]
    assert all(e.job == job for e in events)
    assert events[0].data == {"task": "resize"}
    assert events[1].data == {"worker": "worker-a", "attempt": 1}
    assert events[2].data == {"progress": 40.0, "message": "decoding"}
    assert events[3].data == {"attempt": 1, "delay_ms": 2500, "error": "OSError: disk"}
    assert events[4].data == {"worker": "worker-b", "attempt": 2}
    ids = [e.id for e in events]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    assert events[0].time <= events[-1].time


def test_every_other_change_has_its_event(queue: Queue) -> None:
    proto = queue.protocol
    waiting = queue.enqueue("t", id="waiting")
    delayed = queue.enqueue("t", id="delayed", delay=60)
    assert queue.cancel(waiting)
    assert queue.cancel(delayed)
    a, b, c, d = (queue.enqueue("t", id=n, max_attempts=1) for n in ("a", "b", "c", "d"))
    ja, jb, jc = proto.claim("w", 3, 30)
    assert queue.cancel(ja.id)  # running: asked to stop
    assert proto.finish([
        Outcome(ja.id, ja.token, "done"),
        Outcome(jb.id, jb.token, "fail", reason="bad input", error="ValueError: w"),
        Outcome(jc.id, jc.token, "release"),
    ]) == [True, True, True]  # fmt: skip
    proto.claim("w", 2, 0)  # c and d, leases that expire at once
    assert proto.reap() == 2  # both used their single attempt
    assert queue.requeue_dead(b) == 1

    by_job = {j: types(kept(queue, job=j)) for j in ("waiting", "delayed", a, b, c, d)}
    assert by_job == {
        "waiting": ["enqueued", "cancelled"],
        "delayed": ["enqueued", "cancelled"],
        a: ["enqueued", "started", "cancel_requested", "cancelled"],
        b: ["enqueued", "started", "dead_lettered", "requeued"],
        c: ["enqueued", "started", "released", "started", "lease_expired", "dead_lettered"],
        d: ["enqueued", "started", "lease_expired", "dead_lettered"],
    }
    delayed_enqueued = kept(queue, job="delayed")[0]
    assert delayed_enqueued.data == {"task": "t", "delay_ms": 60000}
    dead = [e for e in kept(queue) if e.type == "dead_lettered"]
    assert [e.data for e in dead] == [
        {"reason": "bad input", "error": "ValueError: w"},
        {"reason": "lease_expired", "error": "lease expired: the worker stopped or stalled"},
        {"reason": "lease_expired", "error": "lease expired: the worker stopped or stalled"},
    ]
    expired = [e for e in kept(queue) if e.type == "lease_expired"]
    assert {e.data["worker"] for e in expired} == {"w"}


def test_a_lease_expiry_with_attempts_left_is_retried(queue: Queue) -> None:
    job = queue.enqueue("t", max_attempts=2)
    queue.protocol.claim("w", 1, 0)
    assert queue.protocol.reap() == 1
    assert types(kept(queue, job))[-2:] == ["lease_expired", "retried"]


def test_events_are_off_by_default_and_then_write_none(
    queue: Queue, redis_client: redis.Redis
) -> None:
    assert JobSettings().events is False
    queue.configure(JobSettings())
    job = queue.enqueue("t")
    (claimed,) = queue.protocol.claim("w", 1, 30)
    queue.protocol.finish([Outcome(job, claimed.token, "done")])
    assert not redis_client.exists(queue.keys.events)
    assert kept(queue) == []
    queue.configure(JobSettings(events=True))
    queue.enqueue("t")
    assert types(kept(queue)) == ["enqueued"]
    queue.client.hdel(queue.keys.config, "events")  # unset: the scripts' default, off
    queue.enqueue("t")
    assert types(kept(queue)) == ["enqueued"]


def test_resume_after_an_id(queue: Queue) -> None:
    ids = queue.enqueue_many([("t", i) for i in range(5)])
    events = kept(queue)
    rest = list(queue.events(events[1].id, follow=False))
    assert [e.job for e in rest] == ids[2:]
    assert list(queue.events(follow=False)) == []  # from now on: nothing yet


def test_more_than_one_read_batch(queue: Queue) -> None:
    queue.enqueue_many([("t", i) for i in range(1200)])
    assert len(kept(queue)) == 1200


def test_a_reader_that_fell_behind_is_told(queue: Queue) -> None:
    queue.configure(JobSettings(events=True, events_max=100))
    queue.enqueue("t")
    first = kept(queue)[0]
    queue.enqueue_many([("t", i) for i in range(1000)])  # trims far past `first`
    with pytest.raises(EventsMissed) as caught:
        list(queue.events(first.id, follow=False))
    oldest = kept(queue)[0]
    assert caught.value.since == first.id
    assert caught.value.first == oldest.id
    assert 100 <= len(kept(queue)) < 1000  # MAXLEN ~: about the bound


def test_a_reader_whose_last_event_is_kept_is_not_told(queue: Queue) -> None:
    queue.configure(JobSettings(events=True, events_max=100))
    queue.enqueue_many([("t", i) for i in range(1000)])
    events = kept(queue)
    # Older events than the last one read are gone, that one is not: no gap.
    assert len(list(queue.events(events[0].id, follow=False))) == len(events) - 1


async def test_a_follower_is_woken_by_new_events(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    queue = AsyncQueue("ev", client)
    await queue.configure(JobSettings(events=True))
    got: list[Event] = []

    async def follow() -> None:
        async for event in queue.events():
            got.append(event)
            if len(got) == 2:
                return

    task = asyncio.create_task(follow())
    watcher = redis.Redis.from_url(redis_url)
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not any(c.get("cmd") == "xread" for c in watcher.client_list()):
        assert asyncio.get_running_loop().time() < deadline, "the follower never blocked"
        await asyncio.sleep(0.01)
    watcher.close()
    first = await queue.enqueue("t")
    second = await queue.enqueue("u")
    await asyncio.wait_for(task, DEADLINE_S)
    assert [(e.type, e.job) for e in got] == [("enqueued", first), ("enqueued", second)]
    await client.aclose()


def test_a_bad_since_is_refused(queue: Queue) -> None:
    with pytest.raises(ValueError, match="event id"):
        list(queue.events("yesterday", follow=False))
