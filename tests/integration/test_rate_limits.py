"""Rate limits and concurrency keys, enforced by the claim script on a real redis-server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sluice import JobSettings, Queue
from sluice.cli import main
from sluice.protocol import Outcome

Q = "rateq"


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    with Queue(Q, redis_url) as q:
        yield q


def test_the_rate_limit_holds_across_claims_and_says_when_the_next_may_start(
    queue: Queue,
) -> None:
    queue.configure(JobSettings(rate_limit=5, rate_period_s=1.0))
    queue.enqueue_many([("t", i) for i in range(30)])
    first = queue.protocol.claim("w1", 30, 30)
    assert len(first) == 5  # a period's worth at once (the burst)
    assert queue.protocol.claim("w2", 30, 30) == []  # another worker: the same limit
    assert queue.client.llen(queue.keys.wake) == 0  # idle workers sleep, not spin
    due = queue.protocol._next_due_mono
    assert due is not None
    assert 0.05 < due - time.monotonic() <= 0.25  # one job per 200 ms from here
    time.sleep(0.65)
    again = queue.protocol.claim("w1", 30, 30)
    assert 2 <= len(again) <= 4  # ~3 more after 0.6 s, give or take the test's clock
    assert queue.stats().backlog == 30 - 5 - len(again)


def test_a_slow_period(queue: Queue) -> None:
    queue.configure(JobSettings(rate_limit=2, rate_period_s=60))
    queue.enqueue_many([("t", i) for i in range(5)])
    assert len(queue.protocol.claim("w", 5, 30)) == 2
    assert queue.protocol.claim("w", 5, 30) == []


def test_concurrency_keys_hold_their_place_in_line(queue: Queue) -> None:
    queue.configure(JobSettings(key_concurrency=1))
    for i in range(3):
        queue.enqueue("t", i, id=f"a{i}", concurrency_key="tenant-a")
    queue.enqueue("t", id="b0", concurrency_key="tenant-b")
    queue.enqueue("t", id="free")
    queue.enqueue("t", id="b1", concurrency_key="tenant-b")
    got = queue.protocol.claim("w", 10, 30)
    assert [j.id for j in got] == ["a0", "b0", "free"]
    assert queue.protocol.claim("w", 10, 30) == []
    by_id = {j.id: j for j in got}
    queue.protocol.finish([Outcome("a0", by_id["a0"].token, "done")])
    assert [j.id for j in queue.protocol.claim("w", 10, 30)] == ["a1"]  # order kept
    # An expired lease frees its key too.
    queue.protocol.finish([Outcome("b0", by_id["b0"].token, "release")])
    assert [j.id for j in queue.protocol.claim("w", 10, 0)] == ["b0"]  # lease of 0 ms
    time.sleep(0.01)
    assert queue.protocol.reap() == 1
    assert [j.id for j in queue.protocol.claim("w", 10, 30)] == ["b0"]
    assert queue.client.hgetall(queue.keys.keyrun) == {b"tenant-a": b"1", b"tenant-b": b"1"}


def test_a_full_key_puts_idle_workers_to_sleep_until_a_lease_ends(queue: Queue) -> None:
    queue.configure(JobSettings(key_concurrency=1))
    for i in range(5):
        queue.enqueue("t", id=f"s{i}", concurrency_key="same")
    (first,) = queue.protocol.claim("w1", 10, 30)
    assert queue.protocol.claim("w2", 10, 30) == []
    assert queue.client.llen(queue.keys.wake) == 0  # w2 sleeps instead of spinning
    queue.protocol.finish([Outcome(first.id, first.token, "done")])
    assert queue.client.llen(queue.keys.wake) >= 1  # the key's slot freed: wake one
    assert [j.id for j in queue.protocol.claim("w2", 10, 30)] == ["s1"]


def test_without_settings_keys_change_nothing(queue: Queue) -> None:
    ids = [queue.enqueue("t", id=f"j{i}", concurrency_key="k") for i in range(3)]
    assert [j.id for j in queue.protocol.claim("w", 10, 30)] == ids


def test_bad_concurrency_keys_and_rates(
    queue: Queue, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="concurrency_key: at most 256 bytes"):
        queue.enqueue("t", concurrency_key="é" * 129)
    queue.enqueue("t", concurrency_key="é" * 128)  # 256 bytes: fine
    with pytest.raises(ValueError, match="concurrency_key: must be a non-empty string"):
        queue.enqueue("t", concurrency_key="")
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="rate_"):
            JobSettings(rate_limit=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="rate_period_s"):
            JobSettings(rate_limit=1, rate_period_s=bad)
    base = ["--redis-url", redis_url, "--queue", Q]
    assert main(["enqueue", "t", "--concurrency-key", "x" * 257, *base]) == 2
    assert "concurrency_key: at most 256 bytes" in capsys.readouterr().err
    assert main(["enqueue", "t", "--concurrency-key", "tenant-1", *base]) == 0


def test_a_hand_edited_rate_is_ignored_not_obeyed(queue: Queue) -> None:
    queue.client.hset(queue.keys.config, mapping={"rate_limit": "nan", "key_concurrency": "0"})
    queue.enqueue_many([("t", i) for i in range(4)])
    assert len(queue.protocol.claim("w", 4, 30)) == 4


async def test_workers_follow_the_limit_without_spinning(redis_url: str) -> None:
    """Two in-process workers, 40 jobs, 20 jobs/s: the second 20 take a second, and the
    workers sleep through the wait (few claims) rather than claiming in a loop."""
    import asyncio

    from worker_helpers import QUEUE, running, until, worker

    from sluice import AsyncQueue
    from sluice.tasks import JobContext, Tasks

    tasks = Tasks()

    @tasks.task("noop")
    async def noop(ctx: JobContext) -> None:
        return None

    async with AsyncQueue(QUEUE, redis_url) as q:
        await q.configure(JobSettings(rate_limit=20, rate_period_s=1.0))
        await q.enqueue_many([("noop", i) for i in range(40)])
        started = asyncio.get_running_loop().time()
        w1, w2 = worker(redis_url, tasks), worker(redis_url, tasks, worker_id="w-2")
        async with running(w1), running(w2):

            async def drained() -> bool:
                return (await q.stats()).counters.completed == 40

            await until(drained, within=20)
        elapsed = asyncio.get_running_loop().time() - started
        assert elapsed >= 0.9  # 20 at once, then 20 more at one per 50 ms
        assert w1.claimed + w2.claimed == 40
        claims = sum(
            w.metrics.registry.get_sample_value(
                "sluice_claim_latency_seconds_count", {"queue": QUEUE}
            )
            or 0
            for w in (w1, w2)
        )
        # A claim per allowed start at most (plus a few wake-ups), not a busy loop.
        assert claims < 150, claims
