"""Chaos: 2,000 jobs, 3 worker processes, one SIGKILLed and restarted about every second.

Each run of a job increments its counter in a ledger hash before it does its
work, so the ledger proves that every job ran, and counts the reruns that
at-least-once delivery allows (jobs in flight or not yet acknowledged in a
killed worker). Leases are 1 s, so a killed worker's jobs return quickly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from sluice import JobSettings, Queue

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
QUEUE = "chaos"
JOBS = 2000
WORKERS = 3
CONCURRENCY = 8
KILL_EVERY_S = 1.0
DEADLINE_S = 40.0


def start(redis_url: str, n: int, logs: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT / "worker")]),
        "SLUICE_REDIS_URL": redis_url,
        "SLUICE_QUEUE": QUEUE,
        "SLUICE_TASKS": "chaos_tasks:tasks",
        "SLUICE_CONCURRENCY": str(CONCURRENCY),
        "SLUICE_WORKER_ID": f"chaos-{n}",
        "SLUICE_LOG_LEVEL": "INFO",
    }
    with (logs / f"chaos-{n}.log").open("wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-m", "sluice", "worker"], env=env,
                                stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip


def kill_and_restart(procs: list[subprocess.Popen[bytes]], url: str, n: int, logs: Path) -> None:
    victim = n % WORKERS
    procs[victim].send_signal(signal.SIGKILL)
    procs[victim].wait()
    procs[victim] = start(url, WORKERS + n, logs)  # ids chaos-<n>: the current ones are the last 3


def drain(queue: Queue, procs: list[subprocess.Popen[bytes]], kills: int, logs: Path) -> list[int]:
    # A worker restarted a moment ago may not have its SIGTERM handler yet: wait for its
    # heartbeat, which it sends once it runs.
    ids = {n % WORKERS: f"chaos-{n}" for n in range(kills, kills + WORKERS)}  # by slot
    while not set(ids.values()) <= {w.id for w in queue.stats().workers}:
        time.sleep(0.05)
    for p in procs:
        p.send_signal(signal.SIGTERM)
    codes = []
    for slot, p in enumerate(procs):
        worker_id = ids[slot]
        try:
            codes.append(p.wait(15))
        except subprocess.TimeoutExpired:
            log = (logs / f"{worker_id}.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"{worker_id} still running 15 s after SIGTERM:\n{log}") from None
    return codes


@pytest.mark.slow
def test_every_job_completes_despite_workers_killed_every_second(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    with Queue(QUEUE, redis_url) as queue:
        queue.configure(JobSettings(lease_s=1, max_attempts=1000, backoff_base_s=0.05))
        ids = queue.enqueue_many(("ledger", None) for _ in range(JOBS))
        procs = [start(redis_url, n, tmp_path) for n in range(WORKERS)]
        kills, deadline = 0, time.monotonic() + DEADLINE_S
        try:
            next_kill = time.monotonic() + KILL_EVERY_S
            while queue.stats().counters.completed < JOBS:
                assert time.monotonic() < deadline, f"not drained: {queue.stats()}"
                if time.monotonic() >= next_kill:
                    kill_and_restart(procs, redis_url, kills, tmp_path)
                    kills += 1
                    next_kill += KILL_EVERY_S
                time.sleep(0.05)
            codes = drain(queue, procs, kills, tmp_path)
        finally:
            for p in procs:
                p.kill()
                p.wait()
        stats = queue.stats()
    ledger = {k.decode(): int(v) for k, v in redis_client.hgetall("ledger").items()}
    duplicates = sum(ledger.values()) - JOBS
    print(f"\nchaos: {kills} kills, {duplicates} duplicate runs of {JOBS} jobs")
    assert kills >= 3  # the chaos really happened while jobs ran
    assert set(ledger) == set(ids)  # every job ran at least once
    assert (stats.counters.completed, stats.dead, stats.backlog, stats.in_flight) == (
        JOBS, 0, 0, 0,
    )  # fmt: skip
    # A kill can cost at most what that worker held: running jobs and unsent outcomes.
    assert duplicates <= kills * 2 * CONCURRENCY
    assert codes == [0] * WORKERS  # the survivors drained cleanly on SIGTERM
