"""Jobs listed by state and queues discovered (sluice.browse) against a real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from sluice import AsyncQueue, Priority, Queue
from sluice.browse import MAX_LIMIT, PageRequest
from sluice.protocol import Outcome


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    with Queue("browse", redis_url) as q:
        yield q


@pytest.fixture
async def aqueue(redis_url: str) -> AsyncIterator[AsyncQueue]:
    async with AsyncQueue("browse", redis_url) as q:
        yield q


def _ids(queue: Queue, request: PageRequest) -> list[str]:
    return [j.id for j in queue.jobs(request).jobs]


def test_waiting_jobs_are_listed_in_the_order_workers_take_them(queue: Queue) -> None:
    queue.enqueue_many({"task": "t", "id": f"n{i}"} for i in range(3))
    queue.enqueue_many({"task": "t", "id": f"h{i}", "priority": "high"} for i in range(2))
    page = queue.jobs(PageRequest("waiting", limit=10))
    assert [j.id for j in page.jobs] == ["h0", "h1", "n0", "n1", "n2"]
    assert page.total == 5
    # The next job to run is what a claim takes.
    claimed = queue.protocol.claim("w", 1, 30)
    assert [c.id for c in claimed] == ["h0"]


def test_waiting_pages_cross_priority_lists(queue: Queue) -> None:
    queue.enqueue_many({"task": "t", "id": f"n{i}"} for i in range(3))
    queue.enqueue_many({"task": "t", "id": f"h{i}", "priority": "high"} for i in range(2))
    assert _ids(queue, PageRequest("waiting", offset=1, limit=2)) == ["h1", "n0"]
    assert _ids(queue, PageRequest("waiting", offset=4, limit=2)) == ["n2"]
    assert _ids(queue, PageRequest("waiting", offset=5, limit=2)) == []
    only = queue.jobs(PageRequest("waiting", priority=Priority.NORMAL, offset=1, limit=5))
    assert ([j.id for j in only.jobs], only.total) == (["n1", "n2"], 3)


def test_delayed_active_and_dead_jobs_with_totals(queue: Queue) -> None:
    queue.enqueue("t", id="late", delay=600)
    queue.enqueue("t", id="soon", delay=60)
    for i in range(3):
        queue.enqueue("t", {"i": i}, id=f"j{i}", max_attempts=1)
    jobs = queue.protocol.claim("w1", 3, 30)
    queue.protocol.progress("j0", jobs[0].token, 40, "a third")
    failed = Outcome("j2", jobs[2].token, "fail", error="Traceback: x", reason="bad")
    queue.protocol.finish([failed])

    delayed = queue.jobs(PageRequest("delayed"))
    assert ([j.id for j in delayed.jobs], delayed.total) == (["soon", "late"], 2)
    active = queue.jobs(PageRequest("active"))
    assert sorted(j.id for j in active.jobs) == ["j0", "j1"]
    assert active.total == 2
    running = next(j for j in active.jobs if j.id == "j0")
    assert (running.progress, running.progress_message, running.worker) == (40, "a third", "w1")
    dead = queue.jobs(PageRequest("dead"))
    assert dead.total == 1
    assert (dead.jobs[0].dead_reason, dead.jobs[0].error) == ("bad", "Traceback: x")


def test_dead_letters_newest_first_and_paged(queue: Queue) -> None:
    for i in range(4):
        queue.enqueue("t", id=f"d{i}", max_attempts=1)
        (job,) = queue.protocol.claim("w", 1, 30)
        queue.protocol.finish([Outcome(job.id, job.token, "fail", reason="r")])
    assert _ids(queue, PageRequest("dead", offset=1, limit=2)) == ["d2", "d1"]


def test_completed_and_cancelled_jobs_are_found_by_scan(queue: Queue) -> None:
    queue.enqueue_many({"task": "t", "id": f"c{i}"} for i in range(30))
    queue.enqueue("t", id="gone")
    assert queue.cancel("gone") is True
    jobs = queue.protocol.claim("w", 30, 30)
    queue.protocol.finish([Outcome(j.id, j.token, "done", result=b"1") for j in jobs])
    queue.enqueue("t", id="still-waiting")

    seen: list[str] = []
    cursor: int | None = 0
    while cursor is not None:
        page = queue.jobs(PageRequest("completed", limit=7, cursor=cursor))
        assert page.total is None
        seen += [j.id for j in page.jobs]
        cursor = page.next_cursor
    assert sorted(seen) == sorted(f"c{i}" for i in range(30))
    assert _ids(queue, PageRequest("cancelled", limit=50)) == ["gone"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"state": "lost"}, "state"),
        ({"state": "dead", "limit": 0}, "limit"),
        ({"state": "dead", "limit": MAX_LIMIT + 1}, "limit"),
        ({"state": "dead", "offset": -1}, "offset"),
        ({"state": "dead", "priority": Priority.HIGH}, "priority"),
        ({"state": "completed", "cursor": -5}, "cursor"),
    ],
)
def test_bad_page_requests_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        PageRequest(**kwargs)  # type: ignore[arg-type]


async def test_async_twin_lists_the_same(aqueue: AsyncQueue, queue: Queue) -> None:
    queue.enqueue_many({"task": "t", "id": f"n{i}"} for i in range(3))
    queue.enqueue("t", id="urgent", priority="critical")
    queue.enqueue("t", id="later", delay=60)
    page = await aqueue.jobs(PageRequest("waiting", offset=0, limit=3))
    assert ([j.id for j in page.jobs], page.total) == (["urgent", "n0", "n1"], 4)
    assert [j.id for j in (await aqueue.jobs(PageRequest("delayed"))).jobs] == ["later"]
    assert (await aqueue.jobs(PageRequest("completed"))).jobs == []


async def test_discover_finds_queues_with_jobs_or_settings(redis_url: str) -> None:
    from sluice import JobSettings

    with Queue("alpha", redis_url) as a, Queue("beta.v2:x", redis_url) as b:
        a.enqueue("t")
        b.configure(JobSettings(max_attempts=2))
        assert Queue.discover(a.client) == ["alpha", "beta.v2:x"]
    async with AsyncQueue("gamma", redis_url) as g:
        await g.enqueue("t")
        assert await AsyncQueue.discover(g.client) == ["alpha", "beta.v2:x", "gamma"]
