"""The short script for one job claimable now does what the batch script does for it."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from sluice import Queue
from sluice.errors import QueueFull
from sluice.job_settings import JobSettings
from sluice.protocol import NewJob, Protocol, ops
from sluice.stats import Priority

VOLATILE = {b"e"}  # enqueued at (ms): differs between the two runs


def _state(client: redis.Redis, queue: str, job_id: str) -> dict[str, Any]:
    proto = Protocol(client, queue)
    k = proto.keys
    events = [fields for _, fields in client.xrange(k.events)]
    job = {f: v for f, v in client.hgetall(k.job(job_id)).items() if f not in VOLATILE}
    return {
        "job": job,
        "payload": client.get(k.payload(job_id)),
        "ready": [client.lrange(k.ready(p), 0, -1) for p in Priority],
        "wake": client.lrange(k.wake, 0, -1),
        "enqueued": client.hget(k.stats, "enqueued"),
        "events": [{f: v for f, v in e.items()} for e in events],
    }


def _batch_call(queue: str, job: NewJob) -> ops.Call[int]:
    return ops.Call("enqueue", ops._job_args([job]), ops.enqueue(queue, [job]).parse)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"priority": Priority.CRITICAL, "max_attempts": 7, "timeout_s": 2.5}],
)
def test_enqueue_one_stores_what_the_batch_script_stores(
    redis_client: redis.Redis, overrides: dict[str, Any]
) -> None:
    job = NewJob("job-1", "resize", b'{"w":3}', **overrides)
    for name in ("a", "b"):  # events on: the lifecycle event is part of what must match
        Queue(name, redis_client).configure(JobSettings(events=True))
    assert ops.enqueue("a", [job]).script == "enqueue_one"
    Protocol(redis_client, "a").run(ops.enqueue("a", [job]))
    Protocol(redis_client, "b").run(_batch_call("b", job))
    one, batch = _state(redis_client, "a", "job-1"), _state(redis_client, "b", "job-1")
    assert one == batch
    assert one["job"][b"s"] == b"w"
    assert (one["enqueued"], one["wake"]) == (b"1", [b"1"])
    assert [e[b"type"] for e in one["events"]] == [b"enqueued"]


def test_enqueue_one_is_idempotent_by_id(redis_client: redis.Redis) -> None:
    proto = Protocol(redis_client, "q")
    job = NewJob("same", "t", b"1")
    assert proto.run(ops.enqueue("q", [job])) == 1
    assert proto.run(ops.enqueue("q", [NewJob("same", "other", b"2")])) == 0
    assert redis_client.hget(proto.keys.job("same"), "t") == b"t"
    assert redis_client.get(proto.keys.payload("same")) == b"1"
    assert redis_client.llen(proto.keys.ready(Priority.NORMAL)) == 1


def test_enqueue_one_keeps_the_length_limit(redis_client: redis.Redis) -> None:
    queue = Queue("full", redis_client)
    queue.configure(JobSettings(max_length=2))
    first = queue.enqueue("t", 1, id="first")
    queue.enqueue("t", 2, delay=60)  # a delayed job counts as waiting too
    with pytest.raises(QueueFull):
        queue.enqueue("t", 3)
    assert queue.enqueue("t", 1, id=str(first)) == first  # an existing id: a no-op, not full
    assert queue.stats().counters.enqueued == 2


def test_single_enqueues_with_delay_parents_or_a_key_take_the_batch_script() -> None:
    assert ops.enqueue("q", [NewJob("a", "t", b"1", delay_s=1.0)]).script == "enqueue"
    assert ops.enqueue("q", [NewJob("a", "t", b"1", after=("p",))]).script == "enqueue"
    assert ops.enqueue("q", [NewJob("a", "t", b"1", concurrency_key="k")]).script == "enqueue"


def test_every_job_field_is_either_stored_by_enqueue_one_or_routes_past_it() -> None:
    """A field added to NewJob must be stored by enqueue_one.lua or make _plain() refuse
    the job: otherwise a single enqueue would drop it. Update both, then this list."""
    routed = {"delay_s", "after", "run_if_parent_fails", "concurrency_key"}
    assert set(NewJob._fields) == set(ops.ONE_FIELDS) | routed
