"""Contract of the finish, extend, reap, cancel and progress scripts."""

from __future__ import annotations

import pytest
import redis

from sluice.job_settings import JobSettings
from sluice.protocol import Claimed, Extended, NewJob, Outcome, Protocol, ops


@pytest.fixture
def proto(redis_client: redis.Redis) -> Protocol:
    return Protocol(redis_client, "jobs")


def add(proto: Protocol, *ids: str, **kw: object) -> None:
    proto.run(ops.enqueue(proto.queue, [NewJob(i, "t", b"[1]", **kw) for i in ids]))  # type: ignore[arg-type]


def claim_one(proto: Protocol, lease_s: float = 30) -> Claimed:
    (job,) = proto.claim("w1", 1, lease_s)
    return job


def field(client: redis.Redis, proto: Protocol, job_id: str, name: str) -> bytes | None:
    value = client.hget(proto.keys.job(job_id), name)
    return value if value is None else bytes(value)


def test_done_keeps_result_drops_payload_and_expires(
    proto: Protocol, redis_client: redis.Redis
) -> None:
    redis_client.hset(proto.keys.config, "result_ttl_s", 120)
    add(proto, "a")
    job = claim_one(proto)
    assert proto.finish([Outcome(job.id, job.token, "done", result=b"42", service_s=0.2)]) == [True]
    assert field(redis_client, proto, "a", "s") == b"c"
    assert redis_client.get(proto.keys.result("a")) == b"42"
    assert 0 < redis_client.ttl(proto.keys.result("a")) <= 120
    assert redis_client.exists(proto.keys.payload("a")) == 0
    assert 0 < redis_client.ttl(proto.keys.job("a")) <= 120
    stats = proto.stats()
    assert (stats.in_flight, stats.counters.completed) == (0, 1)
    assert stats.service_time.count == 1
    assert stats.service_time.quantile(1.0) == 0.25


def test_zombie_finish_is_refused(proto: Protocol, redis_client: redis.Redis) -> None:
    add(proto, "a")
    zombie = claim_one(proto, lease_s=0)  # its lease expires at once
    proto.reap()
    successor = claim_one(proto)
    assert proto.finish([Outcome("a", zombie.token, "done", result=b"1")]) == [False]
    assert proto.extend("w1", [("a", zombie.token)], 30).lost == {"a"}
    assert proto.run(ops.progress("a", zombie.token, 50, "x")) is False
    assert field(redis_client, proto, "a", "s") == b"a"  # still the successor's
    assert proto.finish([Outcome("a", successor.token, "done")]) == [True]
    assert proto.finish([Outcome("a", successor.token, "done")]) == [False]  # only once
    assert proto.stats().counters.completed == 1


def test_retry_with_delay_goes_to_delayed(proto: Protocol, redis_client: redis.Redis) -> None:
    add(proto, "a")
    job = claim_one(proto)
    outcome = Outcome("a", job.token, "retry", error="ValueError: boom", delay_s=30)
    assert proto.finish([outcome]) == [True]
    stats = proto.stats()
    assert (stats.delayed_total, stats.delayed_due, stats.in_flight) == (1, 0, 0)
    assert (stats.counters.failed, stats.counters.retried) == (1, 1)
    assert field(redis_client, proto, "a", "x") == b"ValueError: boom"
    due = redis_client.zscore(proto.keys.delayed, "a")
    assert due is not None
    assert 29_000 < due - stats.taken_at * 1000 <= 30_000


def test_retry_without_delay_is_ready_again(proto: Protocol) -> None:
    add(proto, "a", "b")
    job = claim_one(proto)
    proto.finish([Outcome("a", job.token, "retry")])
    assert [j.id for j in proto.claim("w", 5, 30)] == ["b", "a"]  # back of the line


def test_retry_after_last_attempt_dead_letters(proto: Protocol, redis_client: redis.Redis) -> None:
    add(proto, "a", max_attempts=2)
    for _ in range(2):
        job = claim_one(proto)
        proto.finish([Outcome("a", job.token, "retry", error="tb", reason="timeout")])
    stats = proto.stats()
    assert (stats.dead, stats.backlog, stats.delayed_total) == (1, 0, 0)
    assert (stats.counters.failed, stats.counters.retried, stats.counters.dead_lettered) == (
        2,
        1,
        1,
    )
    assert field(redis_client, proto, "a", "y") == b"timeout"
    assert redis_client.get(proto.keys.payload("a")) == b"[1]"  # kept for requeue


def test_fail_dead_letters_at_once_with_reason(proto: Protocol, redis_client: redis.Redis) -> None:
    add(proto, "a")
    job = claim_one(proto)
    proto.finish([Outcome("a", job.token, "fail", error="bad json", reason="bad_payload")])
    assert proto.stats().dead == 1
    assert field(redis_client, proto, "a", "y") == b"bad_payload"
    assert field(redis_client, proto, "a", "x") == b"bad json"
    assert redis_client.ttl(proto.keys.job("a")) == -1  # dead letters wait for a human


def test_release_returns_to_the_front_without_charging(proto: Protocol) -> None:
    add(proto, "a", "b")
    job = claim_one(proto)
    assert proto.finish([Outcome("a", job.token, "release")]) == [True]
    again = proto.claim("w2", 1, 30)[0]
    assert (again.id, again.attempt) == ("a", 1)
    counters = proto.stats().counters
    assert (counters.failed, counters.retried) == (0, 0)
    assert proto.stats().service_time.count == 0


def test_dead_letter_queue_is_bounded(proto: Protocol, redis_client: redis.Redis) -> None:
    redis_client.hset(proto.keys.config, "dead_max", 2)
    add(proto, "a", "b", "c")
    for _ in range(3):
        job = claim_one(proto)
        proto.finish([Outcome(job.id, job.token, "fail", reason="x")])
    stats = proto.stats()
    assert stats.dead == 2
    assert (stats.counters.dead_lettered, stats.counters.dead_trimmed) == (3, 1)
    assert redis_client.exists(proto.keys.job("a")) == 0  # the oldest went, hash and all


def test_finish_is_batched_and_fenced_per_job(proto: Protocol) -> None:
    add(proto, *(f"j{i}" for i in range(4)))
    jobs = proto.claim("w", 4, 30)
    outcomes = [Outcome(j.id, j.token, "done") for j in jobs]
    outcomes[2] = Outcome(jobs[2].id, "bogus", "done")
    assert proto.finish(outcomes) == [True, True, False, True]
    assert proto.stats().in_flight == 1


def test_extend_renews_the_lease(proto: Protocol, redis_client: redis.Redis) -> None:
    add(proto, "a")
    job = claim_one(proto, lease_s=0)
    assert proto.extend("w1", [("a", job.token)], 30) == Extended()  # nothing lost
    assert proto.reap() == 0  # renewed before anyone reaped it
    deadline = redis_client.zscore(proto.keys.leases, "a")
    assert deadline is not None
    assert deadline / 1000 > proto.stats().taken_at + 29


def test_expired_lease_goes_back_to_the_front(proto: Protocol) -> None:
    add(proto, "a", "b")
    claim_one(proto, lease_s=0)
    assert proto.reap() == 1
    stats = proto.stats()
    assert (stats.in_flight, stats.counters.retried) == (0, 1)
    assert [j.id for j in proto.claim("w", 5, 30)] == ["a", "b"]


def test_lease_expiring_on_the_last_attempt_dead_letters(
    proto: Protocol, redis_client: redis.Redis
) -> None:
    add(proto, "poison", max_attempts=2)
    for _ in range(2):
        claim_one(proto, lease_s=0)
        proto.reap()
    assert proto.stats().dead == 1
    assert field(redis_client, proto, "poison", "y") == b"lease_expired"


def test_claim_reaps_expired_leases_itself(proto: Protocol) -> None:
    add(proto, "a")
    first = claim_one(proto, lease_s=0)
    again = claim_one(proto)  # no separate reaper ran
    assert (again.id, again.attempt) == ("a", 2)
    assert again.token != first.token


def test_cancel_waiting_and_delayed_jobs_never_run(proto: Protocol) -> None:
    add(proto, "a", "b")
    add(proto, "later", delay_s=0.001)
    assert proto.run(ops.cancel("a")) is True
    assert proto.run(ops.cancel("later")) is True
    assert proto.run(ops.cancel("a")) is False  # already finished
    assert proto.run(ops.cancel("nope")) is False
    assert [j.id for j in proto.claim("w", 5, 30)] == ["b"]
    assert proto.stats().counters.cancelled == 2


def test_cancel_running_job_is_seen_by_extend_and_discards_result(
    proto: Protocol, redis_client: redis.Redis
) -> None:
    add(proto, "a")
    job = claim_one(proto)
    assert proto.run(ops.cancel("a")) is True
    extended = proto.extend("w1", [("a", job.token)], 30)
    assert (extended.lost, extended.cancelled) == (set(), {"a"})
    assert proto.finish([Outcome("a", job.token, "done", result=b"1")]) == [True]
    assert field(redis_client, proto, "a", "s") == b"x"
    assert redis_client.exists(proto.keys.result("a")) == 0
    assert proto.stats().counters.completed == 0


def test_progress_is_recorded_for_the_lease_holder(
    proto: Protocol, redis_client: redis.Redis
) -> None:
    add(proto, "a")
    job = claim_one(proto)
    assert proto.progress("a", job.token, 40.5, "resizing") is True
    assert field(redis_client, proto, "a", "g") == b"40.5"
    assert field(redis_client, proto, "a", "h") == b"resizing"


def test_a_null_result_stores_nothing(proto: Protocol, redis_client: redis.Redis) -> None:
    add(proto, "a", "b")
    a, b = proto.claim("w1", 2, 30)
    proto.finish([Outcome("a", a.token, "done", result=b"null"), Outcome("b", b.token, "done")])
    assert redis_client.exists(proto.keys.result("a"), proto.keys.result("b")) == 0
    assert field(redis_client, proto, "a", "s") == b"c"


def test_cancelled_job_whose_worker_died_is_not_run_again(
    proto: Protocol, redis_client: redis.Redis
) -> None:
    add(proto, "a")
    claim_one(proto, lease_s=0)
    proto.run(ops.cancel("a"))
    assert proto.reap() == 1
    assert field(redis_client, proto, "a", "s") == b"x"
    assert proto.claim("w2", 5, 30) == []
    assert proto.stats().counters.cancelled == 1


def test_batch_mixes_results_errors_and_kinds(proto: Protocol, redis_client: redis.Redis) -> None:
    add(proto, "a", "b", "c", "d")
    a, b, c, d = proto.claim("w1", 4, 30)
    accepted = proto.finish(
        [
            Outcome("a", a.token, "done", result=b'"A"'),
            Outcome("b", b.token, "done"),
            Outcome("c", c.token, "fail", error="bad \udcff byte \u00e9", reason="r\u00e9"),
            Outcome("d", d.token, "done", result=b"\xff\x00binary"),
        ]
    )
    assert accepted == [True] * 4
    assert redis_client.get(proto.keys.result("a")) == b'"A"'
    assert redis_client.exists(proto.keys.result("b")) == 0
    assert redis_client.get(proto.keys.result("d")) == b"\xff\x00binary"
    assert field(redis_client, proto, "c", "y") == "r\u00e9".encode()
    assert field(redis_client, proto, "c", "x") == "bad ? byte \u00e9".encode()


def test_out_of_range_config_means_the_default(proto: Protocol, redis_client: redis.Redis) -> None:
    redis_client.hset(proto.keys.config, mapping={"dead_max": 0, "result_ttl_s": "soon"})
    add(proto, "a", "b")
    a, b = proto.claim("w1", 2, 30)
    proto.finish([Outcome("a", a.token, "fail", reason="x"), Outcome("b", b.token, "done")])
    assert proto.stats().dead == 1  # not trimmed to nothing
    default = JobSettings().result_ttl_s
    assert default - 60 < redis_client.ttl(proto.keys.job("b")) <= default  # not 'soon'
