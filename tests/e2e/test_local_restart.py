"""A restarted `sluice up` finds its embedded Redis's data: queued jobs still run.

Also after `sluice up` was killed outright: its workers drain and exit, and the
next run adopts the redis-server it left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from local_up import UpProcess, children_of, with_password, worker_id_of, write_spec

from sluice import Queue
from sluice_local.embedded_redis import port_is_free

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def start_one_slot_with_backlog(
    tmp_path: Path, name: str, runs: list[UpProcess], *, completed: int
) -> tuple[Path, Path, UpProcess, str]:
    """`sluice up` with one worker slot and 30 jobs of 0.2 s, once ``completed`` are done:
    (spec file, data directory, the run, its Redis URL)."""
    spec = write_spec(
        tmp_path / "q.yaml", name, worker={"concurrency": 1}, scaling={"maxReplicas": 1}
    )
    data = tmp_path / "data"
    first = UpProcess(spec, data)
    runs.append(first)
    first.wait_for(lambda s: len(s) >= 1, 20, "first status")
    url = first.url()
    with Queue(name, redis=with_password(url, data)) as queue:
        queue.enqueue_many(("sleep", {"seconds": 0.2}) for _ in range(30))
    first.wait_for(lambda s: (s[-1]["completed"] or 0) >= completed, 30, "first completions")
    return spec, data, first, url


def test_jobs_left_queued_by_ctrl_c_run_after_a_restart(
    tmp_path: Path, runs: list[UpProcess]
) -> None:
    # One slot in all: 30 jobs of 0.2 s take 6 s, so Ctrl-C leaves most of them queued.
    spec, data, first, url = start_one_slot_with_backlog(tmp_path, "slow", runs, completed=2)
    first.interrupt()
    assert first.finish(timeout=30) == 0, first.stderr()
    done_before = first.summary()["jobs_done"]
    assert 2 <= done_before < 30

    second = UpProcess(spec, data, "--exit-when-idle")
    runs.append(second)
    assert second.finish(timeout=60) == 0, second.stderr()
    assert second.url() == url  # the same port, remembered in the data directory
    statuses = second.statuses()
    assert statuses[0]["backlog"] + statuses[0]["delayed"] > 0  # the jobs were still there
    assert statuses[-1]["completed"] == 30
    assert second.summary()["jobs_done"] == 30 - statuses[0]["completed"]


def test_killed_outright_workers_drain_and_the_next_run_adopts_redis(
    tmp_path: Path, runs: list[UpProcess]
) -> None:
    spec, data, first, url = start_one_slot_with_backlog(tmp_path, "orphan", runs, completed=1)
    workers = [p for p in children_of(first.proc.pid) if worker_id_of(p)]
    assert workers
    first.proc.kill()  # no drain, no goodbye
    first.finish(timeout=10)
    try:
        drained_and_adopted(spec, data, url, workers, runs)
    finally:  # a failure must not leave processes behind
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        client = redis.Redis.from_url(with_password(url, data))
        with contextlib.suppress(redis.RedisError):
            client.shutdown()
        client.close()


def drained_and_adopted(
    spec: Path, data: Path, url: str, workers: list[int], runs: list[UpProcess]
) -> None:
    deadline = time.monotonic() + 20  # they get SIGTERM and drain (grace 5 s)
    while any(Path(f"/proc/{p}").exists() and not zombie(p) for p in workers):
        assert time.monotonic() < deadline, "orphaned workers still running"
        time.sleep(0.1)

    second = UpProcess(spec, data, "--exit-when-idle")
    runs.append(second)
    assert second.finish(timeout=60) == 0, second.stderr()
    assert second.url() == url  # the server left behind, adopted
    assert second.statuses()[-1]["completed"] == 30
    port = urlsplit(url).port
    assert port is not None
    assert port_is_free(port)  # and shut down at the end of the run that adopted it


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_an_embedded_redis_that_dies_is_restarted_from_its_aof(
    tmp_path: Path, runs: list[UpProcess]
) -> None:
    # Enough completions that the jobs' enqueue is well past the AOF's one-second fsync.
    _, _, up, url = start_one_slot_with_backlog(tmp_path, "phoenix", runs, completed=8)
    (server,) = [p for p in children_of(up.proc.pid) if _is_redis_server(p)]
    os.kill(server, signal.SIGKILL)
    up.wait_for(lambda s: (s[-1]["completed"] or 0) == 30, 60, "every job, after the restart")
    notes = [x["text"] for x in up.lines if x["type"] == "message"]
    assert any("restarted it on port" in n for n in notes), notes
    assert urlsplit(url).port == urlsplit(up.url()).port  # the same address for the workers
    assert not [p for p in children_of(up.proc.pid) if p == server]


def _is_redis_server(pid: int) -> bool:
    try:
        return b"redis-server" in (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False
