"""Chaos: 2,000 jobs, 3 worker processes, one SIGKILLed and restarted about every second,
and one poison job that kills whichever worker runs it.

Each run of a job increments its counter in a ledger hash before it does its
work, so the ledger proves that every job ran, and counts the reruns that
at-least-once delivery allows (jobs in flight or not yet acknowledged in a
killed worker). Leases are 1 s, so a killed worker's jobs return quickly. The
poison job alone must end in the dead-letter queue: a crash charges only the
jobs that were running, and after one a worker runs at most one suspect.
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
# A guard against hangs, sized for a busy shared machine: kills wait for the victim to
# have worked (below), so on a slow machine the test takes longer instead of failing.
DEADLINE_S = 240.0


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


class Fleet:
    """WORKERS worker processes; one that dies (a kill, a poison job) is replaced at once."""

    def __init__(self, redis_url: str, logs: Path) -> None:
        self.url, self.logs, self.started = redis_url, logs, 0
        self.procs: list[subprocess.Popen[bytes]] = []
        self.names: list[str] = []
        for _ in range(WORKERS):
            self._start(None)

    def _start(self, slot: int | None) -> None:
        n, self.started = self.started, self.started + 1
        proc = start(self.url, n, self.logs)
        if slot is None:
            self.procs.append(proc)
            self.names.append(f"chaos-{n}")
        else:
            self.procs[slot], self.names[slot] = proc, f"chaos-{n}"

    def working(self, slot: int, queue: Queue) -> bool:
        """Whether the worker in ``slot`` has announced itself (it is past its start-up)."""
        return self.names[slot] in {w.id for w in queue.stats().workers}

    def kill(self, slot: int) -> None:
        self.procs[slot].send_signal(signal.SIGKILL)
        self.procs[slot].wait()
        self._start(slot)

    def replace_dead(self) -> int:
        """Restart every worker that exited by itself; returns how many did."""
        dead = [slot for slot, p in enumerate(self.procs) if p.poll() is not None]
        for slot in dead:
            self._start(slot)
        return len(dead)

    def drain(self, queue: Queue) -> list[int]:
        # A worker restarted a moment ago may not have its SIGTERM handler yet: wait for
        # its heartbeat, which it sends once it runs.
        while not set(self.names) <= {w.id for w in queue.stats().workers}:
            self.replace_dead()
            time.sleep(0.05)
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        codes = []
        for name, p in zip(self.names, self.procs, strict=True):
            try:
                codes.append(p.wait(15))
            except subprocess.TimeoutExpired:
                log = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"{name} still running 15 s after SIGTERM:\n{log}") from None
        return codes

    def close(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()


@pytest.mark.slow
@pytest.mark.timeout(DEADLINE_S + 60)
def test_every_job_completes_despite_workers_killed_every_second(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    with Queue(QUEUE, redis_url) as queue:
        # Attempts are charged only to jobs that were running when their worker died: 5
        # are plenty for the innocent ones, and the poison job uses them up.
        queue.configure(JobSettings(lease_s=1, max_attempts=5, backoff_base_s=0.05))
        ids = queue.enqueue_many(("ledger", None) for _ in range(JOBS // 2))
        poison = queue.enqueue("killer")
        ids += queue.enqueue_many(("ledger", None) for _ in range(JOBS - len(ids)))
        fleet = Fleet(redis_url, tmp_path)
        kills, crashes, deadline = 0, 0, time.monotonic() + DEADLINE_S
        try:
            next_kill = time.monotonic() + KILL_EVERY_S
            while queue.stats().counters.completed < JOBS:
                assert time.monotonic() < deadline, f"not drained: {queue.stats()}"
                crashes += fleet.replace_dead()
                # Kill only a worker that got to work: one killed during its start-up
                # (a loaded machine) would never run a job, and the test measure nothing.
                if time.monotonic() >= next_kill and fleet.working(kills % WORKERS, queue):
                    fleet.kill(kills % WORKERS)
                    kills += 1
                    next_kill = time.monotonic() + KILL_EVERY_S
                time.sleep(0.05)
            while (job := queue.get(poison)) is not None and job.state != "dead":
                assert time.monotonic() < deadline, f"poison job not dead-lettered: {job}"
                crashes += fleet.replace_dead()
                time.sleep(0.05)
            codes = fleet.drain(queue)
        finally:
            fleet.close()
        stats = queue.stats()
        dead = queue.dead_letters()
    ledger = {k.decode(): int(v) for k, v in redis_client.hgetall("ledger").items()}
    duplicates = sum(ledger.values()) - JOBS
    print(f"\nchaos: {kills} kills, {crashes} crashes, {duplicates} duplicate runs of {JOBS} jobs")
    assert kills >= 3  # the chaos really happened while jobs ran
    assert set(ledger) == set(ids)  # every job ran at least once
    assert (stats.counters.completed, stats.dead, stats.backlog, stats.in_flight) == (
        JOBS, 1, 0, 0,
    )  # fmt: skip
    # The poison job alone is dead-lettered, after one crash per attempt.
    assert [(j.id, j.dead_reason, j.attempts) for j in dead] == [(poison, "lease_expired", 5)]
    assert int(redis_client.hget("killer", poison) or 0) >= 5
    # A death can cost at most what that worker held: running jobs and unsent outcomes.
    assert duplicates <= (kills + crashes) * 2 * CONCURRENCY
    assert codes == [0] * WORKERS  # the survivors drained cleanly on SIGTERM
