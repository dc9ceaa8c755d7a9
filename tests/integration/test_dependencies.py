"""Job dependencies (enqueue ``after=``) against a real redis-server.

A child waits, blocked and outside the backlog, until every parent completed;
a dead-lettered or cancelled parent dead-letters it (``dependency_failed``)
and its own children in turn, unless it said ``run_if_parent_fails``. Parents
must exist when the child is enqueued, so no cycle can form.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sluice import Queue
from sluice.cli import main
from sluice.errors import UnknownParent
from sluice.protocol import Outcome

Q = "depq"


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    with Queue(Q, redis_url) as q:
        yield q


def run(queue: Queue, kind: str = "done", **outcome: object) -> list[str]:
    """Claim everything claimable and end it with ``kind``; the ids, in claim order."""
    jobs = queue.protocol.claim("w", 100, 30)
    queue.protocol.finish([Outcome(j.id, j.token, kind, **outcome) for j in jobs])  # type: ignore[arg-type]
    return [j.id for j in jobs]


def state(queue: Queue, job_id: str) -> str:
    info = queue.get(job_id)
    assert info is not None
    return info.state


def test_a_chain_runs_in_order_and_blocked_jobs_are_not_backlog(queue: Queue) -> None:
    a = queue.enqueue("t", 1, id="a")
    b = queue.enqueue("t", 2, id="b", after=[a])
    c = queue.enqueue("t", 3, id="c", after=[b])
    stats = queue.stats()
    assert (stats.backlog, stats.blocked) == (1, 2)
    assert (state(queue, b), state(queue, c)) == ("blocked", "blocked")
    assert run(queue) == ["a"]
    assert state(queue, c) == "blocked"
    assert run(queue) == ["b"]
    assert run(queue) == ["c"]
    stats = queue.stats()
    assert (stats.backlog, stats.blocked, stats.counters.completed) == (0, 0, 3)


def test_every_parent_must_complete(queue: Queue) -> None:
    queue.enqueue("t", id="p1")
    queue.enqueue("t", id="p2", delay=3600)
    queue.enqueue("t", id="kid", after=["p1", "p2"])
    assert run(queue) == ["p1"]
    info = queue.get("kid")
    assert info is not None
    assert (info.state, info.waiting_for, info.parents) == ("blocked", 1, ("p1", "p2"))
    parent = queue.get("p1")
    assert parent is not None
    assert parent.children == ("kid",)


def test_a_failed_parent_dead_letters_its_descendants(queue: Queue) -> None:
    queue.enqueue("t", id="root")
    queue.enqueue("t", id="mid", after=["root"])
    queue.enqueue("t", id="leaf", after=["mid"])
    queue.enqueue("t", id="brave", after=["root"], run_if_parent_fails=True)
    assert run(queue, "fail", reason="bad") == ["root"]
    for job_id in ("mid", "leaf"):
        info = queue.get(job_id)
        assert info is not None
        assert (info.state, info.dead_reason) == ("dead", "dependency_failed")
    assert state(queue, "brave") == "waiting"  # it said so: runs anyway
    stats = queue.stats()
    assert (stats.blocked, stats.dead, stats.backlog) == (0, 3, 1)


def test_a_cancelled_parent_dead_letters_its_children(queue: Queue) -> None:
    queue.enqueue("t", id="p", delay=60)
    queue.enqueue("t", id="c", after=["p"])
    assert queue.cancel("p")
    info = queue.get("c")
    assert info is not None
    assert (info.state, info.dead_reason) == ("dead", "dependency_failed")
    assert "p was cancelled" in (info.error or "")


def test_cancelling_a_blocked_job(queue: Queue) -> None:
    queue.enqueue("t", id="p")
    queue.enqueue("t", id="c", after=["p"])
    assert queue.cancel("c")
    assert queue.stats().blocked == 0
    run(queue)
    assert state(queue, "c") == "cancelled"  # the parent's completion leaves it alone


def test_parents_already_ended(queue: Queue) -> None:
    queue.enqueue("t", id="done")
    queue.enqueue("t", id="gone")
    jobs = queue.protocol.claim("w", 2, 30)
    queue.protocol.finish([Outcome(jobs[0].id, jobs[0].token, "done"),
                           Outcome(jobs[1].id, jobs[1].token, "fail", reason="x")])  # fmt: skip
    queue.enqueue("t", id="after-done", after=["done"])
    queue.enqueue("t", id="after-dead", after=["gone"])
    assert state(queue, "after-done") == "waiting"
    info = queue.get("after-dead")
    assert info is not None
    assert (info.state, info.dead_reason) == ("dead", "dependency_failed")


def test_an_unknown_parent_refuses_the_whole_batch(queue: Queue) -> None:
    with pytest.raises(UnknownParent, match="names parent 'nope'"):
        queue.enqueue_many([{"task": "t", "id": "fine"}, {"task": "t", "after": ["nope"]}])
    assert queue.get("fine") is None
    assert queue.stats().counters.enqueued == 0
    with pytest.raises(ValueError, match="after: must be a list"):
        queue.enqueue("t", after="a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="after: invalid job id"):
        queue.enqueue("t", after=["has space"])


def test_a_parent_earlier_in_the_same_batch(queue: Queue) -> None:
    ids = queue.enqueue_many([{"task": "t", "id": "first"},
                              {"task": "t", "id": "second", "after": ["first"]}])  # fmt: skip
    assert ids == ["first", "second"]
    assert state(queue, "second") == "blocked"
    # A job cannot wait for itself or a later one: that would be a cycle.
    with pytest.raises(UnknownParent):
        queue.enqueue_many([{"task": "t", "id": "x", "after": ["y"]}, {"task": "t", "id": "y"}])


def test_a_delayed_child_keeps_its_due_time(queue: Queue) -> None:
    queue.enqueue("t", id="p")
    queue.enqueue("t", id="c", after=["p"], delay=3600)
    run(queue)
    assert state(queue, "c") == "delayed"
    queue.enqueue("t", id="p2")
    queue.enqueue("t", id="c2", after=["p2"], delay=0.001)
    run(queue)
    assert state(queue, "c2") in ("waiting", "delayed")


async def test_async_enqueue_after(redis_url: str) -> None:
    from sluice import AsyncQueue

    async with AsyncQueue(Q, redis_url) as q:
        await q.enqueue("t", id="ap")
        await q.enqueue("t", id="ac", after=["ap"])
        with pytest.raises(UnknownParent):
            await q.enqueue("t", after=["missing"])
        info = await q.get("ac")
        assert info is not None
        assert info.state == "blocked"


def test_cli_after_and_json_lines(
    queue: Queue, redis_url: str, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    base = ["--redis-url", redis_url, "--queue", Q]
    assert main(["enqueue", "t", "--id", "p", *base]) == 0
    assert main(["enqueue", "t", "--id", "c", "--after", "p", *base]) == 0
    assert main(["enqueue", "t", "--after", "missing", *base]) == 2
    err = capsys.readouterr().err
    assert "after:" in err
    assert "missing" in err
    lines = tmp_path / "jobs.jsonl"  # type: ignore[operator]
    lines.write_text(json.dumps({"task": "t", "id": "j", "after": ["p", "c"],
                                 "run_if_parent_fails": True}) + "\n")  # fmt: skip
    assert main(["enqueue", "--file", str(lines), *base]) == 0
    assert main(["job", "p", *base]) == 0
    out = capsys.readouterr().out
    assert "children" in out
    assert "c, j" in out
    assert main(["job", "j", "--json", *base]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["parents"] == ["p", "c"]
    assert shown["state"] == "blocked"
