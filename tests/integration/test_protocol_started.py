"""The started marker and suspects: what a lease expiry charges, against a real redis-server.

A claim marks the jobs the worker starts at once; a held-back job is marked
through finish when it starts. Reap charges (and counts as ``retried``) only
marked jobs; the rest go back uncharged (``returned``). Every reaped job is a
suspect: a claim hands out at most one, only to start at once, and only to a
worker that runs none.
"""

from __future__ import annotations

import time

import pytest
import redis

from sluice.protocol import NewJob, Outcome, Protocol, ops
from sluice.protocol.keys import F
from sluice.stats import Priority


@pytest.fixture
def proto(redis_client: redis.Redis) -> Protocol:
    return Protocol(redis_client, "jobs")


def add(proto: Protocol, *ids: str) -> None:
    proto.run(ops.enqueue(proto.queue, [NewJob(i, "t", b"[1]") for i in ids]))


def attempts(client: redis.Redis, proto: Protocol, *ids: str) -> list[int]:
    return [int(client.hget(proto.keys.job(i), F.ATTEMPTS) or 0) for i in ids]


def expire_all(proto: Protocol) -> None:
    time.sleep(0.06)  # past the 50 ms leases below
    proto.reap()


def test_a_claim_marks_only_the_jobs_it_hands_over_to_start(
    proto: Protocol, redis_client: redis.Redis
) -> None:
    add(proto, "a", "b", "c")
    jobs = proto.claim("w", 3, 30, start=1)
    assert [(j.id, j.started, j.attempt) for j in jobs] == [
        ("a", True, 1), ("b", False, 1), ("c", False, 1),
    ]  # fmt: skip
    assert attempts(redis_client, proto, "a", "b", "c") == [1, 0, 0]


def test_reap_charges_started_jobs_and_returns_the_others_uncharged(
    proto: Protocol, redis_client: redis.Redis
) -> None:
    add(proto, "a", "b", "c", "d")
    b = proto.claim("w", 4, 0.05, start=1)[1]
    assert proto.finish([], starts=[(b.id, b.token)]) == []  # b started later
    assert attempts(redis_client, proto, "a", "b", "c", "d") == [1, 1, 0, 0]
    expire_all(proto)
    assert attempts(redis_client, proto, "a", "b", "c", "d") == [1, 1, 0, 0]
    counters = proto.stats().counters
    assert (counters.retried, counters.returned) == (2, 2)
    assert sum(proto.stats().ready.values()) == 4
    assert all(redis_client.hget(proto.keys.job(i), F.SUSPECT) for i in "abcd")


def test_reap_dead_letters_a_started_job_that_used_its_attempts_only(
    proto: Protocol, redis_client: redis.Redis
) -> None:
    redis_client.hset(proto.keys.config, "max_attempts", 1)
    add(proto, "a", "b")
    proto.claim("w", 2, 0.05, start=1)
    expire_all(proto)
    assert [proto.stats().dead, sum(proto.stats().ready.values())] == [1, 1]
    assert redis_client.hget(proto.keys.job("a"), F.DEAD_REASON) == b"lease_expired"
    assert redis_client.hget(proto.keys.job("b"), F.STATE) == b"w"


def test_a_start_is_fenced_and_counted_once(proto: Protocol, redis_client: redis.Redis) -> None:
    add(proto, "a")
    (a,) = proto.claim("w", 1, 30, start=0)
    assert proto.run(ops.finish([], [(a.id, "999")])) == [False]  # not this claim's token
    assert proto.run(ops.finish([], [(a.id, a.token)])) == [True]
    assert proto.run(ops.finish([], [(a.id, a.token)])) == [True]  # a resent call
    assert attempts(redis_client, proto, "a") == [1]


def test_release_gives_back_only_a_charged_attempt(
    proto: Protocol, redis_client: redis.Redis
) -> None:
    add(proto, "a", "b")
    a, b = proto.claim("w", 2, 30, start=1)
    released = [Outcome(a.id, a.token, "release"), Outcome(b.id, b.token, "release")]
    assert proto.finish(released) == [True, True]
    assert attempts(redis_client, proto, "a", "b") == [0, 0]


def test_a_start_sent_with_its_outcome_counts_before_it(
    proto: Protocol, redis_client: redis.Redis
) -> None:
    redis_client.hset(proto.keys.config, "max_attempts", 1)
    add(proto, "a")
    (a,) = proto.claim("w", 1, 30, start=0)
    retry = Outcome(a.id, a.token, "retry", error="boom")
    assert proto.finish([retry], starts=[(a.id, a.token)]) == [True]
    assert proto.stats().dead == 1  # its one attempt was used: dead, not retried


def test_a_start_riding_on_its_outcome_is_charged_once(
    proto: Protocol, redis_client: redis.Redis
) -> None:
    add(proto, "a", "b", "c")
    a, b, c = proto.claim("w", 3, 30, start=0)
    done = [Outcome(a.id, a.token, "done"), Outcome(b.id, b.token, "release")]
    starts = [(a.id, a.token), (b.id, b.token), (c.id, c.token)]
    assert str(ops.finish(done, starts).args[0]).count('"s"') == 1  # only c's start is an entry
    assert proto.finish(done, starts) == [True, True]
    assert attempts(redis_client, proto, "a", "b", "c") == [1, 0, 1]  # b handed back
    assert redis_client.hget(proto.keys.job("a"), F.STATE) == b"c"


def test_suspects_go_one_per_claim_only_to_start_and_keep_their_place(
    proto: Protocol, redis_client: redis.Redis
) -> None:
    add(proto, "s1", "s2", "s3")
    proto.claim("w", 3, 0.05)
    expire_all(proto)  # three suspects at the front
    add(proto, "fresh")
    assert [j.id for j in proto.claim("w2", 10, 30, start=0)] == ["fresh"]
    assert proto.suspects_passed == 3
    assert proto.claim("w2", 10, 30, start=10, suspects=False) == []
    [one] = proto.claim("w2", 10, 30, start=10)
    assert (one.suspect, one.started) == (True, True)
    [two] = proto.claim("w3", 10, 30, start=10)
    left = [
        bytes(x).decode() for x in redis_client.lrange(proto.keys.ready(Priority.NORMAL), 0, -1)
    ]
    assert len(left) == 1
    assert {one.id, two.id, *left} == {"s1", "s2", "s3"}


def test_requeue_from_the_dlq_clears_suspicion(proto: Protocol, redis_client: redis.Redis) -> None:
    redis_client.hset(proto.keys.config, "max_attempts", 1)
    add(proto, "a")
    proto.claim("w", 1, 0.05)
    expire_all(proto)
    assert proto.run(ops.requeue_dead(["a"])) == 1
    assert redis_client.hget(proto.keys.job("a"), F.SUSPECT) is None
    assert proto.claim("w", 1, 30, suspects=False)[0].id == "a"
