"""The scripts' generated name tables against a real redis-server: the wire format holds."""

from __future__ import annotations

import pytest
import redis

from sluice.protocol import Protocol, scripts


def test_a_job_stored_with_the_documented_letters_is_claimed(redis_client: redis.Redis) -> None:
    # Written by hand, as data stored before the scripts named their fields would be.
    proto = Protocol(redis_client, "jobs")
    keys = proto.keys
    redis_client.hset(keys.job("old"), mapping={"t": "resize", "q": 1, "s": "w", "e": 1000, "m": 7})
    redis_client.set(keys.payload("old"), b'{"w": 3}')
    redis_client.lpush(keys.ready(1), "old")
    [job] = proto.claim("w1", 5, 30)
    assert (job.id, job.task, job.payload, job.attempt, job.max_attempts) == (
        "old", "resize", b'{"w": 3}', 1, 7,
    )  # fmt: skip
    stored = redis_client.hgetall(keys.job("old"))
    assert (stored[b"s"], stored[b"a"], stored[b"w"], stored[b"k"]) == (b"a", b"1", b"w1", b"1")


def test_a_misspelt_name_is_an_error_not_a_nil(redis_client: redis.Redis) -> None:
    lua = scripts.constants() + "return {F.attempts, STATE.active, F.atempts}"
    with pytest.raises(redis.ResponseError, match=r"no F\.atempts"):
        redis_client.eval(lua, 0)
    assert redis_client.eval(scripts.constants() + "return {F.attempts, KIND.retry}", 0) == [
        b"a", b"r",
    ]  # fmt: skip
