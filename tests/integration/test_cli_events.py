"""``sluice cancel``, ``enqueue --json``, ``job --wait/--watch`` and ``events`` against Redis.

Exit codes of ``job --wait``: 0 completed, 1 failed (dead-lettered) or no such job,
2 bad arguments, 4 cancelled, 5 timed out waiting.
"""

from __future__ import annotations

import json
import re
import threading

import pytest
from cli_helpers import cli_runner

from sluice import JobSettings, Queue
from sluice.protocol import Outcome

Q = "cliev"
run = cli_runner(Q)
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture
def queue(redis_url: str) -> Queue:
    queue = Queue(Q, redis_url)
    queue.configure(JobSettings(events=True))
    return queue


def finish(queue: Queue, kind: str = "done", **kw: object) -> str:
    (job,) = queue.protocol.claim("cli-w", 1, 30)
    queue.protocol.finish([Outcome(job.id, job.token, kind, **kw)])  # type: ignore[arg-type]
    return job.id


def test_enqueue_json_prints_the_ids(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    code, out, _ = run(capsys, redis_url, "enqueue", "t", "1", "--id", "e1", "--json")
    assert (code, json.loads(out)) == (0, {"ids": ["e1"]})


def test_cancel_many_ids(capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue) -> None:
    waiting = queue.enqueue("t")
    running = queue.enqueue("t")
    queue.protocol.claim("cli-w", 1, 30)  # `waiting` was first: it runs now
    code, out, _ = run(capsys, redis_url, "cancel", running, waiting, "--json")
    assert (code, json.loads(out)) == (0, {running: "cancelled", waiting: "cancel_requested"})
    code, out, _ = run(capsys, redis_url, "cancel", running, "nope")
    assert code == 1
    assert f"{running}  not cancelled" in out
    assert "nope  not cancelled" in out


def test_job_shows_times_as_iso_and_relative_and_json_keeps_numbers(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    job = queue.enqueue("t")
    code, out, _ = run(capsys, redis_url, "job", job)
    assert code == 0
    assert re.search(rf"enqueued_at +{ISO} \(\d+\.\d s ago\)", out), out
    code, out, _ = run(capsys, redis_url, "job", job, "--json")
    assert isinstance(json.loads(out)["enqueued_at"], float)


def test_job_wait_exit_codes(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    done = queue.enqueue("t")
    finish(queue, result=b'{"n": 1}')
    code, out, _ = run(capsys, redis_url, "job", done, "--wait", "--json")
    assert (code, json.loads(out)["result"]) == (0, {"n": 1})

    dead = queue.enqueue("t")
    finish(queue, "fail", reason="bad")
    assert run(capsys, redis_url, "job", dead, "--wait")[0] == 1

    cancelled = queue.enqueue("t", delay=60)
    queue.cancel(cancelled)
    assert run(capsys, redis_url, "job", cancelled, "--wait")[0] == 4

    waiting = queue.enqueue("t")
    code, out, err = run(capsys, redis_url, "job", waiting, "--wait", "--timeout", "0.05")
    assert code == 5
    assert "still waiting" in err
    assert "state            waiting" in out

    assert run(capsys, redis_url, "job", "nope", "--wait", "--timeout", "60")[0] == 1


@pytest.mark.parametrize("timeout", ["-1", "nan", "inf"])
def test_job_wait_refuses_a_bad_timeout(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue, timeout: str
) -> None:
    job = queue.enqueue("t")
    code, _, err = run(capsys, redis_url, "job", job, "--wait", "--timeout", timeout)
    assert code == 2
    assert "timeout" in err


def test_job_wait_is_woken_by_the_end(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    job = queue.enqueue("t")
    finisher = threading.Timer(0.2, lambda: finish(queue, result=b"3"))
    finisher.start()
    code, out, _ = run(capsys, redis_url, "job", job, "--wait", "--timeout", "60", "--json")
    finisher.join()
    assert (code, json.loads(out)["result"]) == (0, 3)


def test_job_watch_draws_progress_until_the_end(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    job = queue.enqueue("t")
    (claimed,) = queue.protocol.claim("cli-w", 1, 30)
    queue.protocol.progress(job, claimed.token, 40, "decoding")

    def later() -> None:
        queue.protocol.progress(job, claimed.token, 80, "encoding")
        queue.protocol.finish([Outcome(job, claimed.token, "done")])

    finisher = threading.Timer(0.3, later)
    finisher.start()
    code, out, _ = run(capsys, redis_url, "job", job, "--watch", "--timeout", "60")
    finisher.join()
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("[" + "#" * 12 + "." * 18 + "]  40%  active  attempt 1/5")
    assert "decoding" in lines[0]
    assert any(line.startswith("[" + "#" * 30 + "] 100%") or "completed" in line for line in lines)
    assert "state            completed" in out


def test_events_text_json_and_job_filter(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    a = queue.enqueue("resize")
    b = queue.enqueue("crop")
    finish(queue, "fail", reason="bad", error="Traceback\nValueError: w")
    code, out, _ = run(capsys, redis_url, "events")
    assert code == 0
    lines = out.splitlines()
    assert re.match(rf"{ISO}  enqueued +{a}  task=resize$", lines[0]), lines[0]
    assert "dead_lettered" in lines[-1]
    assert "reason=bad error=ValueError: w" in lines[-1]
    code, out, _ = run(capsys, redis_url, "events", "--json", "--job", b)
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["type"] for e in events] == ["enqueued"]
    assert isinstance(events[0]["time"], float)


def test_events_warn_when_behind_and_go_on(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    queue.configure(JobSettings(events=True, events_max=100))
    queue.enqueue("t")
    first = next(iter(queue.events("0", follow=False))).id
    queue.enqueue_many([("t", i) for i in range(1000)])
    code, out, err = run(capsys, redis_url, "events", "--since", first)
    assert code == 0
    assert "were trimmed" in err
    assert 100 <= len(out.splitlines()) < 1000


def test_events_refuse_a_bad_since(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    assert run(capsys, redis_url, "events", "--since", "yesterday")[0] == 2


def test_events_say_when_they_are_off(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    queue.configure(JobSettings(events=False))
    queue.enqueue("t")
    code, out, err = run(capsys, redis_url, "events")
    assert (code, out) == (0, "")
    assert "events are off" in err
