"""Several consumers at once, some of which "crash" holding jobs: nothing is lost.

Threads share the real server; a crashing consumer drops the jobs it claimed
(no finish, no heartbeat). Their leases expire and other consumers' claims reap
them, so every job completes; the fencing tokens make each job complete once.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest
import redis

from sluice import JobSettings, Queue
from sluice.protocol import Outcome, Protocol

JOBS = 1000
LEASE_S = 0.05


def consumer(url: str, seed: int, done: Counter[str], lock: threading.Lock) -> None:
    rng = random.Random(seed)
    client = redis.Redis.from_url(url)
    proto = Protocol(client, "chaos")
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        jobs = proto.claim(f"c{seed}", rng.randint(1, 20), LEASE_S)
        if not jobs:
            if proto.stats().counters.completed >= JOBS:
                break
            time.sleep(0.005)
            continue
        if rng.random() < 0.15:
            continue  # crashed: these leases will expire
        accepted = proto.finish([Outcome(j.id, j.token, "done") for j in jobs])
        with lock:
            done.update(j.id for j, ok in zip(jobs, accepted, strict=True) if ok)
    client.close()


@pytest.mark.slow
def test_every_job_completes_once_despite_crashing_consumers(redis_url: str) -> None:
    with Queue("chaos", redis_url) as queue:
        # Enough attempts that no job dead-letters by bad luck (a crash is 15% per batch).
        queue.configure(JobSettings(max_attempts=100))
        ids = queue.enqueue_many(("t", i) for i in range(JOBS))
        done: Counter[str] = Counter()
        lock = threading.Lock()
        threads = [
            threading.Thread(target=consumer, args=(redis_url, seed, done, lock))
            for seed in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = queue.stats()
    assert set(done) == set(ids)  # nothing lost
    assert max(done.values()) == 1  # fencing: one accepted completion per job
    assert stats.counters.completed == JOBS
    assert (stats.backlog, stats.in_flight, stats.dead) == (0, 0, 0)
    assert stats.counters.retried > 0  # crashes happened and were recovered
