"""Worker processes (``python -m sluice worker``) under signals, crashes and process isolation.

SIGTERM drains and hands back what did not finish without charging an attempt;
SIGKILL leaves leases that expire (1 s here) so the jobs run again elsewhere; a
job that kills its worker every time ends in the dead-letter queue with reason
``lease_expired``; with process isolation a timed-out sync job's child dies.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from sluice import JobSettings, Queue

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
QUEUE = "pq"


def start_worker(redis_url: str, *args: str, worker_id: str = "p1") -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT / "worker")]),
           "SLUICE_REDIS_URL": redis_url, "SLUICE_QUEUE": QUEUE,
           "SLUICE_TASKS": "worker_tasks:tasks", "SLUICE_WORKER_ID": worker_id}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "sluice", "worker", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    with Queue(QUEUE, redis_url) as q:
        q.configure(JobSettings(lease_s=1, max_attempts=3, backoff_base_s=0.05))
        yield q


def settled(queue: Queue) -> bool:
    """Nothing waits or runs (one snapshot: a job moves between the two counts)."""
    stats = queue.stats()
    return stats.backlog + stats.delayed_total + stats.in_flight == 0


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    if proc.stderr:
        proc.stderr.close()


def test_sigterm_drains_then_hands_back_without_charging_an_attempt(
    redis_url: str, redis_client: redis.Redis, queue: Queue
) -> None:
    short = [queue.enqueue("record", {"sleep": 0.3}) for _ in range(3)]
    long = [queue.enqueue("record", {"sleep": 30}) for _ in range(2)]
    proc = start_worker(redis_url, "--shutdown-grace-seconds", "1.5", "--log-format", "json")
    try:
        wait_for(lambda: redis_client.hlen("ledger") == 5)  # all five are running
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        took = time.monotonic() - sent
        err = proc.stderr.read().decode() if proc.stderr else ""
    finally:
        stop(proc)
    assert took < 1.5 + 3, err  # the grace period, then out at once
    for job in short:
        assert queue.get(job).state == "completed"  # type: ignore[union-attr]
    for job in long:
        info = queue.get(job)
        assert info is not None
        assert (info.state, info.attempts) == ("waiting", 0), info  # back, nothing charged
    stats = queue.stats()
    assert (stats.in_flight, stats.backlog) == (0, 2)
    assert stats.workers == ()  # the heartbeat was withdrawn
    messages = [json.loads(line)["msg"] for line in err.splitlines()]  # JSON lines
    assert "handing back 2 unfinished jobs (no attempt charged)" in messages


def test_sigkill_leaves_jobs_that_run_again_after_the_lease(
    redis_url: str, redis_client: redis.Redis, queue: Queue
) -> None:
    jobs = [queue.enqueue("record", {"sleep": 0.8}) for _ in range(4)]
    first = start_worker(redis_url, worker_id="doomed")
    second = None
    try:
        wait_for(lambda: redis_client.hlen("ledger") == 4)
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = start_worker(redis_url, worker_id="heir")
        wait_for(lambda: queue.stats().counters.completed == 4)
    finally:
        stop(first)
        if second is not None:
            stop(second)
    for job in jobs:
        info = queue.get(job)
        assert info is not None
        assert (info.state, info.attempts, info.worker) == ("completed", 2, "heir")
    assert {int(v) for v in redis_client.hvals("ledger")} == {2}  # each ran twice
    assert queue.stats().counters.retried == 4  # the expired leases


def test_poison_job_that_crashes_its_worker_ends_in_the_dlq(
    redis_url: str, redis_client: redis.Redis, queue: Queue
) -> None:
    poison = queue.enqueue("crash", max_attempts=2)
    for n in range(2):  # each worker claims it (after the last one's lease expired) and dies
        proc = start_worker(redis_url, worker_id=f"victim-{n}")
        try:
            assert proc.wait(15) == 3
        finally:
            stop(proc)
    healthy = queue.enqueue("record")
    proc = start_worker(redis_url, worker_id="survivor")  # its claims reap the last lease
    try:
        wait_for(lambda: queue.get(poison).state == "dead")  # type: ignore[union-attr]
        wait_for(lambda: queue.get(healthy).state == "completed")  # type: ignore[union-attr]
        assert proc.poll() is None  # the survivor never ran the poison job
    finally:
        stop(proc)
    info = queue.get(poison)
    assert info is not None
    assert (info.dead_reason, info.attempts) == ("lease_expired", 2)
    assert int(redis_client.hget("ledger", poison) or 0) == 2


def test_a_crash_charges_the_running_job_not_those_claimed_behind_it(
    redis_url: str, redis_client: redis.Redis, queue: Queue
) -> None:
    queue.configure(JobSettings(lease_s=1, max_attempts=1, backoff_base_s=0.05))
    proc = start_worker(redis_url, "--concurrency", "1", worker_id="doomed")
    heir = None
    try:
        # Short jobs first: the worker then claims a batch ahead of its one slot.
        queue.enqueue_many(("record", None) for _ in range(30))
        wait_for(lambda: queue.stats().counters.completed == 30)
        poison, *behind = queue.enqueue_many([("crash", None)] + [("record", None)] * 10)
        assert proc.wait(15) == 3  # it ran the poison job, holding the other ten
        assert not any(redis_client.hexists("ledger", j) for j in behind)  # none started
        heir = start_worker(redis_url, worker_id="heir")
        wait_for(lambda: settled(queue))
    finally:
        stop(proc)
        if heir is not None:
            stop(heir)
    info = queue.get(poison)
    assert info is not None
    assert (info.state, info.dead_reason, info.attempts) == ("dead", "lease_expired", 1)
    for job in behind:  # max_attempts 1: a charge for the crash would have dead-lettered them
        info = queue.get(job)
        assert info is not None
        assert (info.state, info.attempts, info.worker) == ("completed", 1, "heir")
    counters = queue.stats().counters
    assert (counters.retried, counters.returned, counters.dead_lettered) == (0, 10, 1)


def test_after_a_crash_the_suspects_run_one_at_a_time_so_only_the_killer_dies(
    redis_url: str, redis_client: redis.Redis, queue: Queue
) -> None:
    queue.configure(JobSettings(lease_s=1, max_attempts=2, backoff_base_s=0.05))
    poison, *beside = queue.enqueue_many(
        [("crash_beside", {"others": 3})] + [("record", {"sleep": 0.5})] * 3
    )  # fmt: skip
    procs = [start_worker(redis_url, "--concurrency", "4", worker_id="w0")]
    try:
        wait_for(lambda: procs[-1].poll() == 3)  # all four ran: the poison job killed them
        assert {int(redis_client.hget("ledger", j) or 0) for j in beside} == {1}
        deadline = time.monotonic() + 30
        while not settled(queue):
            assert time.monotonic() < deadline, queue.stats()
            if procs[-1].poll() is not None:  # killed again: the next worker takes over
                procs.append(
                    start_worker(redis_url, "--concurrency", "4", worker_id=f"w{len(procs)}")
                )
            time.sleep(0.05)
    finally:
        for p in procs:
            stop(p)
    info = queue.get(poison)
    assert info is not None
    assert (info.state, info.dead_reason, info.attempts) == ("dead", "lease_expired", 2)
    assert [p.returncode for p in procs].count(3) == 2  # it killed two workers, no more
    for job in beside:  # charged once, for the crash they were running in; then they ran alone
        info = queue.get(job)
        assert info is not None
        assert (info.state, info.attempts) == ("completed", 2)
    assert queue.stats().counters.retried == 4  # the four re-runs after the first crash


def test_process_isolation_kills_a_timed_out_sync_job(
    redis_url: str, redis_client: redis.Redis, queue: Queue
) -> None:
    job = queue.enqueue("hang", timeout=0.5, max_attempts=1)
    echo = queue.enqueue("echo", {"n": 1})
    proc = start_worker(redis_url, "--isolation", "process", "--concurrency", "2")
    try:
        wait_for(lambda: queue.get(job).state == "dead")  # type: ignore[union-attr]
        wait_for(lambda: queue.get(echo).state == "completed")  # type: ignore[union-attr]
        child = int(redis_client.get(f"pid:{job}") or 0)
        assert child not in (0, proc.pid)
        wait_for(lambda: not _alive(child), timeout=5)
    finally:
        stop(proc)
    info = queue.get(job)
    assert info is not None
    assert info.dead_reason == "timeout"
    result = queue.get(echo).result  # type: ignore[union-attr]
    assert result["payload"] == {"n": 1}
    assert result["pid"] != proc.pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child not yet reaped is a zombie: dead for our purposes.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


def test_sigterm_mid_drain_leaves_nothing_in_flight(
    redis_url: str, redis_client: redis.Redis, queue: Queue
) -> None:
    # Short jobs: the worker claims ahead of its free slots; those must go back too.
    ids = queue.enqueue_many(("record", None) for _ in range(5000))
    proc = start_worker(redis_url, "--concurrency", "20")
    try:
        wait_for(lambda: queue.stats().counters.completed >= 500)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        stop(proc)
    stats = queue.stats()
    assert stats.in_flight == 0
    assert stats.counters.completed + stats.backlog == len(ids)
    assert stats.backlog > 0  # it stopped mid-drain
    waiting = [queue.get(i) for i in ids[-50:]]
    assert all(i is not None and (i.state, i.attempts) == ("waiting", 0) for i in waiting)
    assert redis_client.hlen("ledger") == stats.counters.completed  # nothing ran unrecorded


def test_process_isolation_kills_the_child_of_a_cancelled_job(
    redis_url: str, redis_client: redis.Redis, queue: Queue
) -> None:
    job = queue.enqueue("hang", timeout=60)
    proc = start_worker(redis_url, "--isolation", "process")
    try:
        wait_for(lambda: redis_client.get(f"pid:{job}") is not None)
        child = int(redis_client.get(f"pid:{job}") or 0)
        assert queue.cancel(job)
        wait_for(lambda: queue.get(job).state == "cancelled")  # type: ignore[union-attr]
        wait_for(lambda: not _alive(child), timeout=5)
        assert proc.poll() is None  # the worker itself goes on
    finally:
        stop(proc)


def test_progress_travels_up_from_a_child_process(queue: Queue, redis_url: str) -> None:
    job = queue.enqueue("steps", {"sleep": 1.0})
    proc = start_worker(redis_url, "--isolation", "process")
    try:
        wait_for(lambda: (queue.get(job).progress, queue.get(job).progress_message)  # type: ignore[union-attr]
                 == (50.0, "half way"))  # fmt: skip
        wait_for(lambda: queue.get(job).state == "completed")  # type: ignore[union-attr]
    finally:
        stop(proc)
    assert queue.get(job).result == "done"  # type: ignore[union-attr]
