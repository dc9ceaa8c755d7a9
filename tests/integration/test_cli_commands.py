"""The ``sluice`` command against a real redis-server: output, effects and exit codes.

Exit codes: 0 ok, 1 the operation failed, 2 usage or validation, 3 Redis unreachable.
"""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest
from cli_helpers import cli_runner

from sluice import JobSettings, Queue
from sluice.cli import COMMANDS, main
from sluice.protocol import Outcome
from sluice_local.redis_server import free_port

Q = "cliq"
run = cli_runner(Q)


@pytest.fixture
def queue(redis_url: str) -> Queue:
    return Queue(Q, redis_url)


def test_enqueue_one_job(capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue) -> None:
    code, out, _ = run(capsys, redis_url, "enqueue", "resize", '{"w": 10}', "--id", "j1",
                       "--priority", "high", "--max-attempts", "7")  # fmt: skip
    assert (code, out) == (0, "j1\n")
    info = queue.get("j1")
    assert info is not None
    assert (info.task, info.payload, info.priority.name, info.max_attempts) == (
        "resize", {"w": 10}, "HIGH", 7,
    )  # fmt: skip


def test_enqueue_json_lines_from_file_and_stdin(
    capsys: pytest.CaptureFixture[str],
    redis_url: str,
    queue: Queue,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = tmp_path / "jobs.jsonl"
    lines.write_text('{"task": "a", "payload": 1, "id": "f1"}\n\n{"task": "b", "delay": 60}\n')
    code, out, _ = run(capsys, redis_url, "enqueue", "--file", str(lines))
    assert code == 0
    assert out.splitlines()[0] == "f1"
    assert len(out.splitlines()) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO('{"task": "c", "id": "s1"}\n'))
    code, out, _ = run(capsys, redis_url, "enqueue", "-f", "-")
    assert (code, out) == (0, "s1\n")
    stats = queue.stats()
    assert (stats.backlog, stats.delayed_total) == (2, 1)


def test_a_bad_line_enqueues_nothing(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue, tmp_path: Path
) -> None:
    lines = tmp_path / "jobs.jsonl"
    lines.write_text('{"task": "a"}\n{"task": "b", "priority": "urgent"}\n')
    code, _, err = run(capsys, redis_url, "enqueue", "--file", str(lines))
    assert code == 2
    assert "line 2" in err
    assert "urgent" in err
    assert queue.stats().counters.enqueued == 0


@pytest.mark.parametrize(
    "argv",
    [("enqueue",), ("enqueue", "t", "{bad json"), ("enqueue", "t", "--priority", "meh"),
     ("dlq", "requeue"), ("bogus",), ("worker", "--concurrency", "0", "--tasks", "x:y")],
)  # fmt: skip
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], redis_url: str, argv: tuple[str, ...]
) -> None:
    code, _, err = run(capsys, redis_url, *argv)
    assert code == 2
    assert err


def test_worker_with_unimportable_tasks_exits_2(
    capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    code, _, err = run(capsys, redis_url, "worker", "--tasks", "no_such_module_here:tasks")
    assert code == 2
    assert "no_such_module_here" in err


def test_full_queue_exits_1_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    queue.configure(JobSettings(max_length=1))
    assert run(capsys, redis_url, "enqueue", "t")[0] == 0
    code, out, err = run(capsys, redis_url, "enqueue", "t")
    assert (code, out) == (1, "")
    assert "is full" in err
    assert "limit 1" in err


def test_info_text_and_json(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    queue.enqueue("t", priority="critical")
    queue.enqueue("t")
    queue.enqueue("t", delay=60)
    code, out, _ = run(capsys, redis_url, "info")
    assert code == 0
    assert "backlog    2 (ready: critical 1, high 0, normal 1, low 0; due delayed 0)" in out
    code, out, _ = run(capsys, redis_url, "info", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["ready"] == {"critical": 1, "high": 0, "normal": 1, "low": 0}
    assert (data["backlog"], data["delayed_total"], data["counters"]["enqueued"]) == (2, 1, 3)


def test_job_shows_one_job_or_exits_1(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    job = queue.enqueue("t", {"k": "v"})
    code, out, _ = run(capsys, redis_url, "job", job, "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["state"], data["payload"], data["priority"]) == ("waiting", {"k": "v"}, "normal")
    code, out, _ = run(capsys, redis_url, "job", job)
    assert code == 0
    assert "state            waiting" in out
    code, _, err = run(capsys, redis_url, "job", "missing")
    assert code == 1
    assert "no job 'missing'" in err


def _dead_letter(queue: Queue, count: int) -> list[str]:
    ids = [queue.enqueue("t", i) for i in range(count)]
    jobs = queue.protocol.claim("cli-test", count, 30)
    queue.protocol.finish([Outcome(j.id, j.token, "fail", error="bad\nworse", reason="nope")
                           for j in jobs])  # fmt: skip
    return ids


def test_dlq_list_requeue_purge(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    ids = _dead_letter(queue, 3)
    code, out, _ = run(capsys, redis_url, "dlq", "list", "--json")
    assert code == 0
    assert sorted(d["id"] for d in json.loads(out)) == sorted(ids)
    code, out, _ = run(capsys, redis_url, "dlq", "list")
    assert code == 0
    assert "nope" in out
    assert "worse" in out
    assert run(capsys, redis_url, "dlq", "requeue", ids[0])[1] == "requeued 1\n"
    info = queue.get(ids[0])
    assert info is not None
    assert (info.state, info.attempts) == ("waiting", 0)
    assert run(capsys, redis_url, "dlq", "purge", "--json")[1].strip() == '{\n  "purged": 2\n}'
    assert queue.stats().dead == 0


def test_dlq_requeue_all(capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue) -> None:
    _dead_letter(queue, 4)
    assert run(capsys, redis_url, "dlq", "requeue", "--all") == (0, "requeued 4\n", "")
    assert queue.stats().backlog == 4


def test_unreachable_redis_exits_3_without_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://admin:hunter2@127.0.0.1:{free_port()}/0"
    code = main(["info", "--redis-url", url])
    _, err = capsys.readouterr()
    assert code == 3
    assert "cannot reach Redis" in err
    assert "hunter2" not in err


def test_global_options_before_the_subcommand(
    capsys: pytest.CaptureFixture[str], redis_url: str, queue: Queue
) -> None:
    assert main(["--redis-url", redis_url, "--queue", Q, "enqueue", "t", "--id", "g1"]) == 0
    assert capsys.readouterr().out == "g1\n"
    assert queue.get("g1") is not None


# The built-in commands and those found through the entry-point group (``up``).
SUBCOMMANDS = [[m.rsplit(".", 1)[1]] for m in COMMANDS] + [["up"]]


@pytest.mark.parametrize("argv", [[], *SUBCOMMANDS, ["dlq", "list"], ["dlq", "requeue"]])
def test_help_everywhere(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main([*argv, "--help"]) == 0
    assert "usage: sluice" in capsys.readouterr().out


def test_worker_exits_2_when_its_metrics_port_is_taken(
    capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run(capsys, redis_url, "worker", "--tasks", "worker_tasks:tasks",
                           "--metrics-port", str(port))  # fmt: skip
    assert code == 2
    assert f"cannot serve metrics on 0.0.0.0:{port}" in err


def test_up_is_found_through_the_entry_point_group_not_an_import() -> None:
    from sluice.cli import plugin_commands

    assert "up" not in {m.rsplit(".", 1)[1] for m in COMMANDS}
    registered = [f"{f.__module__}.{f.__qualname__}" for f in plugin_commands()]
    assert "sluice_local.up_command.register" in registered
