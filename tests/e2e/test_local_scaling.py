"""`sluice up` end to end on a real redis-server: scale from zero and back, survive a SIGKILL."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from local_up import UpProcess, children_of, worker_id_of, write_spec

from sluice import Queue

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def busy_worker(up: UpProcess, queue: Queue, timeout: float = 30) -> tuple[int, str]:
    """A worker process whose heartbeat says it is running jobs: (pid, worker id)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = {w.id for w in queue.stats().workers if w.busy}
        for pid in children_of(up.proc.pid):
            wid = worker_id_of(pid)
            if wid is not None and wid in busy:
                return pid, wid
        time.sleep(0.1)
    raise AssertionError("no busy worker process")


def test_500_short_jobs_scale_up_drain_and_return_to_zero(
    tmp_path: Path, redis_url: str, runs: list[UpProcess]
) -> None:
    spec = write_spec(tmp_path / "q.yaml", "burst")
    up = UpProcess(spec, tmp_path / "data", "--redis-url", redis_url, "--exit-when-idle")
    runs.append(up)
    up.wait_for(lambda s: len(s) >= 1, 20, "first status")
    with Queue("burst", redis=redis_url) as queue:
        queue.enqueue_many(("sleep", {"seconds": 0.05}) for _ in range(500))

    assert up.finish(timeout=60) == 0, up.stderr()
    statuses = up.statuses()
    assert max(s["replicas"]["running"] for s in statuses) > 1
    assert statuses[-1]["completed"] == 500
    assert statuses[-1]["replicas"] == {"running": 0, "desired": 0, "ready": 0, "stopping": 0}
    summary = up.summary()
    assert summary["jobs_done"] == 500
    assert summary["peak_replicas"] > 1
    assert summary["replica_seconds"] > 0
    # Workers outlived the work (the idle period), then the policy took them to zero.
    after = [s["replicas"]["running"] for s in statuses if s["completed"] == 500]
    assert after[0] > 0
    assert after[-1] == 0


def test_sigkilled_worker_loses_no_job(
    tmp_path: Path, redis_url: str, runs: list[UpProcess]
) -> None:
    spec = write_spec(tmp_path / "q.yaml", "crashy", scaling={"maxReplicas": 3})
    up = UpProcess(spec, tmp_path / "data", "--redis-url", redis_url, "--exit-when-idle")
    runs.append(up)
    up.wait_for(lambda s: len(s) >= 1, 20, "first status")
    with Queue("crashy", redis=redis_url) as queue:
        ids = queue.enqueue_many(("sleep", {"seconds": 0.3}) for _ in range(120))
        victim, killed = busy_worker(up, queue)
        os.kill(victim, signal.SIGKILL)

        assert up.finish(timeout=75) == 0, up.stderr()
        states = {info.state for info in (queue.get(i) for i in ids) if info is not None}
        stats = queue.stats()
    assert states == {"completed"}
    assert stats.counters.completed == 120
    assert stats.dead == 0
    died = [x for x in up.lines if x["type"] == "worker_exit" and not x["expected"]]
    assert [x["code"] for x in died] == [-signal.SIGKILL]
    assert died[0]["id"] == killed
