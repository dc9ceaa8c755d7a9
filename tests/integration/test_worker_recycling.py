"""Worker recycling against a real redis-server: --max-jobs, and job children replaced.

A worker with ``--max-jobs N`` claims N jobs, finishes them, and exits 0 (its
supervisor starts a fresh one); the rest stay in the queue. With process
isolation a child is replaced after ``max_jobs_per_child`` jobs, or after a
job that left its peak RSS above ``max_child_memory_mb``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice import JobSettings, Queue

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
QUEUE = "recycleq"


def worker_cmd(redis_url: str, *args: str) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT / "worker")]),
           "SLUICE_REDIS_URL": redis_url, "SLUICE_QUEUE": QUEUE,
           "SLUICE_TASKS": "worker_tasks:tasks", "SLUICE_WORKER_ID": "r1"}  # fmt: skip
    return [sys.executable, "-m", "sluice", "worker", *args], env


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    with Queue(QUEUE, redis_url) as q:
        q.configure(JobSettings(lease_s=5))
        yield q


def results(queue: Queue, ids: list[str]) -> list[object]:
    infos = [queue.get(i) for i in ids]
    return [i.result if i is not None and i.state == "completed" else None for i in infos]


def test_max_jobs_finishes_n_jobs_then_exits_zero(redis_url: str, queue: Queue) -> None:
    ids = [queue.enqueue("record", {"sleep": 0.2}) for _ in range(7)]
    argv, env = worker_cmd(redis_url, "--max-jobs", "3", "--concurrency", "2")
    done = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert b"max jobs" in done.stderr
    finished = [r for r in results(queue, ids) if r is not None]
    assert len(finished) == 3  # all three ran to the end; none handed back half-done
    stats = queue.stats()
    assert (stats.backlog, stats.in_flight) == (4, 0)
    assert stats.counters.completed == 3
    assert not stats.workers  # it said goodbye


def test_max_jobs_from_the_environment_and_bad_values(redis_url: str, queue: Queue) -> None:
    argv, env = worker_cmd(redis_url, "--max-jobs", "0")
    bad = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
    assert bad.returncode == 2
    assert b"max_jobs" in bad.stderr
    argv, env = worker_cmd(redis_url, "--max-jobs-per-child", "2")  # thread isolation
    bad = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
    assert bad.returncode == 2
    assert b"need isolation 'process'" in bad.stderr
    queue.enqueue("record", None)
    argv, env = worker_cmd(redis_url)
    done = subprocess.run(argv, env={**env, "SLUICE_MAX_JOBS": "1"}, capture_output=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()


@pytest.mark.slow
def test_children_are_replaced_after_max_jobs_per_child(redis_url: str, queue: Queue) -> None:
    ids = [queue.enqueue("grow", None) for _ in range(5)]
    argv, env = worker_cmd(redis_url, "--isolation", "process", "--concurrency", "1",
                           "--max-jobs-per-child", "2", "--max-jobs", "5")  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    pids = results(queue, ids)
    assert None not in pids
    # One child at a time, in order: a a b b c.
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    assert pids[0] != pids[4]


@pytest.mark.slow
def test_a_child_that_grew_past_the_memory_limit_is_replaced(redis_url: str, queue: Queue) -> None:
    # A spawned child with the tasks imported stays well below 200 MB; one that keeps
    # 250 MB does not.
    small = [queue.enqueue("grow", {"mb": 0}) for _ in range(2)]
    leak = queue.enqueue("grow", {"mb": 250})
    after = queue.enqueue("grow", {"mb": 0})
    argv, env = worker_cmd(redis_url, "--isolation", "process", "--concurrency", "1",
                           "--max-child-memory", "200", "--max-jobs", "4")  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    a, b, leaked, fresh = results(queue, [*small, leak, after])
    assert a == b == leaked  # the small jobs did not trip the limit
    assert fresh != leaked  # the child that grew was replaced after its job
    assert b"peak RSS" in done.stderr
    assert time.monotonic() - started < 120
