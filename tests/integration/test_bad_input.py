"""Bad input against a real redis-server: refused by name, exit codes that tell the truth.

Numbers out of range never reach Redis; a config hash edited by hand to an
absurd value makes the scripts use the default; a handler's NaN result is
not stored as non-standard JSON. User errors (missing files, URLs that point at
the wrong thing, unknown ids) exit with the documented code and one line, no
traceback.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from worker_helpers import QUEUE, running, settled, worker

from sluice import AsyncQueue, JobSettings, Queue
from sluice.cli import main
from sluice.protocol import Outcome
from sluice.tasks import JobContext, Tasks
from sluice.worker import Worker, WorkerSettings
from sluice_local.redis_server import RedisServer, free_port

Q = "badq"


def run(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, str, str]:
    code = main(["--redis-url", url, "--queue", Q, *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


# --- item 3: numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["enqueue", "t", "--delay", "1e300"], "delay"),
        (["enqueue", "t", "--delay", "inf"], "delay"),
        (["enqueue", "t", "--timeout", "nan"], "timeout"),
        (["enqueue", "t", "--timeout", "inf"], "timeout"),
        (["enqueue", "t", "--max-attempts", "100000"], "max_attempts"),
    ],
)
def test_out_of_range_numbers_store_nothing(
    capsys: pytest.CaptureFixture[str], redis_url: str, argv: list[str], field: str
) -> None:
    code, out, err = run(capsys, redis_url, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(f"sluice: {field}: must be ")
    assert Queue(Q, redis_url).stats().counters.enqueued == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("result_ttl_s", "1e20"), ("result_ttl_s", "inf"), ("timeout_s", "nan"),
     ("max_attempts", "1e300"), ("timeout_s", "inf")],
)  # fmt: skip
def test_a_hand_edited_config_out_of_range_means_the_default(
    redis_client: redis.Redis, redis_url: str, field: str, value: str
) -> None:
    queue = Queue(Q, redis_url)
    redis_client.hset(queue.keys.config, field, value)
    job_id = queue.enqueue("t")
    [job] = queue.protocol.claim("w", 1, 30)
    assert job.timeout_s == JobSettings().timeout_s
    assert job.max_attempts == JobSettings().max_attempts
    assert queue.protocol.finish([Outcome(job.id, job.token, "done")]) == [True]
    info = queue.get(job_id)
    assert info is not None
    assert info.state == "completed"
    assert 0 < redis_client.ttl(queue.keys.job(job_id)) <= JobSettings().result_ttl_s
    assert queue.settings() == JobSettings()


async def test_a_nan_result_dead_letters_the_job_instead_of_storing_nan(
    redis_url: str, redis_client: redis.Redis
) -> None:
    tasks = Tasks()

    @tasks.task("nan")
    async def nan(ctx: JobContext) -> float:
        return math.nan

    async with AsyncQueue(QUEUE, redis_url) as q:
        job_id = await q.enqueue("nan")
        async with running(worker(redis_url, tasks)):
            info = await settled(q, job_id)
    assert (info.state, info.dead_reason) == ("dead", "bad_result")
    assert "not JSON compliant" in (info.error or "")
    assert redis_client.get(q.keys.result(job_id)) is None


# --- item 4: user errors --------------------------------------------------------------


def test_missing_files_exit_2_naming_the_flag(
    capsys: pytest.CaptureFixture[str], redis_url: str, tmp_path: Path
) -> None:
    missing = str(tmp_path / "nope.jsonl")
    code, _, err = run(capsys, redis_url, "enqueue", "--file", missing)
    assert code == 2
    assert f"--file: cannot read '{missing}': No such file or directory" in err
    code, _, err = run(capsys, redis_url, "load", "--trace", missing, "--duration", "1")
    assert code == 2
    assert "--trace: cannot read" in err


def test_a_task_with_file_is_refused_not_ignored(
    capsys: pytest.CaptureFixture[str], redis_url: str, tmp_path: Path
) -> None:
    lines = tmp_path / "jobs.jsonl"
    lines.write_text('{"task": "a"}\n')
    code, _, err = run(capsys, redis_url, "enqueue", "b", "--file", str(lines))
    assert code == 2
    assert "TASK" in err
    code, _, err = run(capsys, redis_url, "enqueue", "--delay", "5", "--file", str(lines))
    assert code == 2
    assert "--delay" in err
    assert Queue(Q, redis_url).stats().counters.enqueued == 0


def test_an_id_starting_with_a_dash_is_refused_with_the_pattern(
    capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    code, _, err = run(capsys, redis_url, "enqueue", "t", "--id=-abc")
    assert code == 2
    assert "starting with a letter, digit or '_'" in err
    assert Queue(Q, redis_url).stats().counters.enqueued == 0


def test_requeueing_an_unknown_dead_letter_exits_1(
    capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    code, out, err = run(capsys, redis_url, "dlq", "requeue", "nope")
    assert code == 1
    assert "requeued 0" in out
    assert "nope" in err


@pytest.mark.parametrize(
    ("path", "message"),
    [("/zz", "the path is the database number"), ("/1x", "got /1x")],
)
def test_a_database_that_is_not_a_number_is_refused(
    capsys: pytest.CaptureFixture[str], redis_url: str, path: str, message: str
) -> None:
    url = redis_url.rsplit("/", 1)[0] + path
    code, _, err = run(capsys, url, "info")
    assert code == 2
    assert message in err


def test_a_database_the_server_does_not_have_exits_3(
    capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/99"
    code, _, err = run(capsys, url, "info")
    assert code == 3
    assert "database number" in err
    assert "DB index is out of range" in err


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://127.0.0.1:99999/0", "Port out of range"),
        ("redis://127.0.0.1:abc/0", "Port could not be cast to integer"),
        ("http://127.0.0.1:1/0", "the scheme must be redis://, rediss:// or unix://"),
    ],
)
def test_bad_urls_say_what_is_wrong(
    capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    code, _, err = run(capsys, url, "info")
    assert code == 2
    assert message in err


def test_an_upper_case_scheme_works(capsys: pytest.CaptureFixture[str], redis_url: str) -> None:
    code, out, _ = run(capsys, redis_url.replace("redis://", "REDIS://"), "info")
    assert code == 0
    assert "backlog" in out


@pytest.fixture
def not_redis() -> Iterator[int]:
    """A TCP server that answers like a web server (or never answers a TLS hello)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        held = []
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            held.append(conn)
            try:
                conn.settimeout(0.5)
                data = conn.recv(1024)
                if data and data[:1] != b"\x16":  # not a TLS hello: answer like HTTP
                    conn.sendall(b"<html>not redis</html>\r\n")
            except OSError:
                pass
        for conn in held:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join(5)
    server.close()


def test_a_server_that_is_not_redis_exits_3(
    capsys: pytest.CaptureFixture[str], not_redis: int
) -> None:
    code, _, err = run(capsys, f"redis://127.0.0.1:{not_redis}/0", "info")
    assert code == 3
    assert "does not speak the Redis protocol" in err


def test_rediss_against_a_plain_server_fails_within_the_connect_timeout(
    capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    url = redis_url.replace("redis://", "rediss://")
    started = time.monotonic()
    code, _, err = run(capsys, url, "info")
    # Was 62 s: the read timeout per handshake, four times over. Now one connect timeout
    # (5 s); the bound leaves room for a busy machine.
    assert time.monotonic() - started < 30
    assert code == 3
    assert "TLS" in err


@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "locked", password="right-one") as server:
        yield server


def test_a_wrong_password_exits_3_saying_so(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    locked_redis: RedisServer,
) -> None:
    monkeypatch.setenv("SLUICE_REDIS_PASSWORD", "wrong-one")
    code, _, err = run(capsys, locked_redis.url, "info")
    assert code == 3
    assert "refused the credentials" in err
    assert "wrong-one" not in err
    code, _, err = run(capsys, locked_redis.url, "enqueue", "t")
    assert code == 3
    assert "refused the credentials" in err


def test_a_worker_with_a_wrong_password_exits_3(locked_redis: RedisServer) -> None:
    env = {
        **os.environ,
        "SLUICE_REDIS_PASSWORD": "wrong-one",
        "SLUICE_QUEUE": Q,
        "SLUICE_REDIS_URL": locked_redis.url,
        "PYTHONPATH": str(Path(__file__).parent),
    }
    argv = [sys.executable, "-m", "sluice", "worker", "--tasks", "worker_tasks:tasks"]
    # It used to retry forever; the timeout only guards against that hang.
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 3, done.stderr
    assert "refused the credentials" in done.stderr
    assert "Traceback" not in done.stderr
    assert "wrong-one" not in done.stderr


def _readyz(port: int | None) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def test_a_worker_keeps_waiting_for_an_unreachable_redis_and_is_not_ready() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings = WorkerSettings(queue=Q, redis_url=url, tasks="sluice.demo_tasks:tasks",
                              metrics_port=free_port(), metrics_host="127.0.0.1")  # fmt: skip
    w = Worker(settings)
    task = asyncio.create_task(w.run())
    try:
        await asyncio.sleep(1.5)  # several failed claims by now
        assert not task.done()  # an outage is waited out, not an exit
        assert await asyncio.to_thread(_readyz, w.health_port) == 503
    finally:
        w.request_stop()
        await asyncio.wait_for(task, 30)
