"""Contract of the stats and heartbeat scripts: what the autoscaler reads."""

from __future__ import annotations

import time

import pytest
import redis

from sluice.protocol import NewJob, Outcome, Protocol, ops
from sluice.protocol.scripts import constants
from sluice.stats import BUCKETS, Priority


@pytest.fixture
def proto(redis_client: redis.Redis) -> Protocol:
    return Protocol(redis_client, "jobs")


def add(proto: Protocol, *ids: str, **kw: object) -> None:
    proto.run(ops.enqueue(proto.queue, [NewJob(i, "t", b"1", **kw) for i in ids]))  # type: ignore[arg-type]


def test_empty_queue(proto: Protocol) -> None:
    stats = proto.stats()
    assert stats.backlog == 0
    assert stats.oldest_age_s is None
    assert stats.workers == ()
    assert abs(stats.taken_at - time.time()) < 5


def test_stats_is_one_round_trip(
    proto: Protocol, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(proto, "a")
    proto.heartbeat("w", 1, 2, 30)
    proto.stats()  # the server now has the script cached
    sent: list[bytes] = []
    real = redis.connection.Connection.send_packed_command

    # Every command any connection sends (the client's pool, or the protocol's own),
    # by its name in the packed bytes.
    def counting(self: redis.connection.Connection, command: object, *args: object) -> None:
        chunks = [command] if isinstance(command, (bytes, str)) else list(command)  # type: ignore[call-overload]
        head = chunks[0] if isinstance(chunks[0], bytes) else str(chunks[0]).encode()
        sent.append(head.split(b"\r\n")[2])
        real(self, chunks, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counting)
    stats = proto.stats()
    assert sent == [b"EVALSHA"]
    assert (stats.backlog, stats.total_slots) == (1, 2)


def test_counts_every_place_a_job_can_be(proto: Protocol) -> None:
    add(proto, "c", priority=Priority.CRITICAL)
    add(proto, "h1", "h2", priority=Priority.HIGH)
    add(proto, "n1", "n2", "n3", "n4")
    add(proto, "d1", "d2", delay_s=60)
    add(proto, "due", delay_s=0.001)
    time.sleep(0.01)
    running = proto.run(ops.claim("w", 2, 30))  # claims c and h1 (and promotes "due")
    proto.finish([Outcome("c", running.jobs[0].token, "fail", reason="x")])
    stats = proto.stats()
    assert stats.ready == {
        Priority.CRITICAL: 0,
        Priority.HIGH: 1,
        Priority.NORMAL: 5,
        Priority.LOW: 0,
    }
    assert (stats.delayed_total, stats.delayed_due, stats.in_flight, stats.dead) == (2, 0, 1, 1)
    assert stats.backlog == 6


def test_oldest_age_covers_ready_heads_and_due_delayed(proto: Protocol) -> None:
    add(proto, "old", priority=Priority.LOW)
    time.sleep(0.05)
    add(proto, "young", priority=Priority.CRITICAL)
    stats = proto.stats()
    assert stats.oldest_age_s is not None
    assert 0.05 <= stats.oldest_age_s < 1

    proto.claim("w", 2, 30)
    add(proto, "sched", delay_s=0.02)
    assert proto.stats().oldest_age_s is None  # not due yet: not waiting
    time.sleep(0.06)
    age = proto.stats().oldest_age_s
    assert age is not None
    assert 0.03 <= age < 1  # counted from the due time


def test_workers_come_from_heartbeats_that_expire(proto: Protocol) -> None:
    proto.heartbeat("pod-a", 3, 8, 30)
    proto.heartbeat("pod-b", 0, 8, 0.05)
    workers = proto.stats().workers
    assert [(w.id, w.busy, w.slots) for w in workers] == [("pod-a", 3, 8), ("pod-b", 0, 8)]
    stats = proto.stats()
    assert (stats.busy_slots, stats.total_slots) == (3, 16)
    time.sleep(0.06)
    assert [w.id for w in proto.stats().workers] == ["pod-a"]
    proto.heartbeat("pod-a", 0, 8, 0)  # a clean exit removes it at once
    assert proto.stats().workers == ()


def test_heartbeat_sweeps_expired_workers(proto: Protocol, redis_client: redis.Redis) -> None:
    proto.heartbeat("gone", 0, 1, 0.001)
    time.sleep(0.01)
    proto.heartbeat("alive", 0, 1, 30)
    assert redis_client.hkeys(proto.keys.winfo) == [b"alive"]
    assert redis_client.zcard(proto.keys.workers) == 1


def test_snapshots_subtract_into_rates(proto: Protocol) -> None:
    before = proto.stats()
    add(proto, "a", "b", "c")
    jobs = proto.claim("w", 3, 30)
    proto.finish([Outcome(j.id, j.token, "done", service_s=0.5) for j in jobs])
    window = proto.stats().since(before)
    assert (window.enqueued, window.completed) == (3, 3)
    assert window.service_time.mean() == pytest.approx(0.5)
    assert window.wait_time.count == 3


def test_lua_buckets_match_python() -> None:
    line = next(x for x in constants().splitlines() if x.startswith("local BUCKETS"))
    values = line.split("{", 1)[1].rstrip("}").split(", ")
    assert len(values) == len(BUCKETS)
    assert [float(v) for v in values[:-1]] == list(BUCKETS[:-1])
    assert values[-1] == "math.huge"


def test_scripts_survive_a_flushed_script_cache(proto: Protocol, redis_client: redis.Redis) -> None:
    add(proto, "a")
    redis_client.script_flush()  # as after a restart or failover: EVALSHA gets NOSCRIPT
    assert [j.id for j in proto.claim("w", 1, 30)] == ["a"]
    assert proto.stats().in_flight == 1
