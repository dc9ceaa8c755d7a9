"""Local mode's Redis: URL precedence, the embedded server's persistence, port and lock."""

from __future__ import annotations

import asyncio
import io
import socket
import stat
from pathlib import Path

import pytest
import redis

from sluice.worker import Worker, WorkerSettings
from sluice_local import cli as local_cli
from sluice_local.cli import UpOptions, up
from sluice_local.dashboard import DashboardOptions
from sluice_local.embedded_redis import (
    DataDirBusy,
    LocalRedis,
    choose_url,
    default_data_dir,
    port_is_free,
)
from sluice_local.manifest import load_manifest
from sluice_local.redis_server import RedisServer, free_port
from sluice_local.session import RunLimits
from sluice_local.view import JsonView


def test_default_data_dir_follows_xdg(tmp_path: Path) -> None:
    assert default_data_dir("demo", {"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "sluice/demo"
    assert default_data_dir("demo", {}).parts[-3:] == (".cache", "sluice", "demo")


def test_flag_beats_spec_beats_embedded() -> None:
    assert choose_url("redis://a:1/0", "redis://b:2/0") is not None
    assert choose_url("redis://a:1/0", "redis://b:2/0").url == "redis://a:1/0"  # type: ignore[union-attr]
    spec = choose_url(None, "redis://b:2/0")
    assert spec is not None
    assert (spec.url, spec.source) == ("redis://b:2/0", "spec")
    assert choose_url(None, None) is None


def test_a_given_url_starts_nothing(tmp_path: Path, redis_url: str) -> None:
    with LocalRedis(tmp_path, flag_url=redis_url) as local:
        assert (local.url, local.source) == (redis_url, "flag")
        assert not (tmp_path / "port").exists()


def test_embedded_server_keeps_data_and_port_across_restarts(tmp_path: Path) -> None:
    with LocalRedis(tmp_path) as local:
        assert local.source == "embedded"
        url = local.url
        client = redis.Redis.from_url(url, password=local.password)
        client.rpush("q:{demo}:ready:2", "job-1", "job-2")
        client.close()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert port_is_free(port)  # stopped on exit
    with LocalRedis(tmp_path) as again:
        assert again.url == url
        client = redis.Redis.from_url(again.url, password=again.password)
        assert client.lrange("q:{demo}:ready:2", 0, -1) == [b"job-1", b"job-2"]
        client.close()


def test_second_instance_on_one_data_dir_is_refused(tmp_path: Path) -> None:
    with LocalRedis(tmp_path), pytest.raises(DataDirBusy, match="another 'sluice up'"):
        LocalRedis(tmp_path).__enter__()


def test_a_server_left_behind_is_adopted_not_doubled(tmp_path: Path) -> None:
    # What a SIGKILLed `sluice up` leaves: its redis-server still serving the directory.
    (tmp_path / "password").write_text("kept\n")
    orphan = RedisServer(tmp_path, appendonly=True, password="kept").start()
    try:
        (tmp_path / "port").write_text(f"{orphan.port}\n")
        redis.Redis(port=orphan.port, password="kept").set("k", "v")
        with LocalRedis(tmp_path) as local:
            assert local.url == orphan.url
            assert redis.Redis.from_url(local.url, password="kept").get("k") == b"v"
        assert port_is_free(orphan.port)  # shut down with the run that adopted it
    finally:
        orphan.stop()


def test_remembered_port_taken_by_a_stranger_moves(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    (tmp_path / "port").write_text(f"{redis_server.port}\n")  # another server, another dir
    with LocalRedis(tmp_path) as local:
        assert local.url != redis_server.url
        assert (tmp_path / "port").read_text().strip() != str(redis_server.port)


# --- local mode secrets ------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_embedded_redis_needs_a_password_kept_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLUICE_REDIS_PASSWORD", raising=False)
    data = tmp_path / "data"
    with LocalRedis(data) as local:
        assert local.password
        with pytest.raises(redis.AuthenticationError):  # NOAUTH: other local users stay out
            redis.Redis.from_url(local.url).ping()
        client = redis.Redis.from_url(local.url, password=local.password)
        client.rpush("q:{demo}:ready:2", "job-1")
        client.close()
        assert (data / "password").read_text().strip() == local.password
        assert local._server is not None
        assert local.password not in " ".join(local._server.argv())  # `ps` shows argv
    assert _mode(data) == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any("appendonly" in p.name for p in files)
    assert {(p.name, _mode(p)) for p in files} == {(p.name, 0o600) for p in files}
    with LocalRedis(data) as again:  # the same password next time: the AOF's data is there
        assert again.password == local.password
        client = redis.Redis.from_url(again.url, password=again.password)
        assert client.lrange("q:{demo}:ready:2", 0, -1) == [b"job-1"]
        client.close()


def test_files_an_older_run_left_readable_are_made_private(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    (tmp_path / "logs").mkdir(mode=0o755)
    old = [tmp_path / "redis.log", tmp_path / "logs" / "local-1.log"]
    for path in old:
        path.write_text("an older run's lines\n")
        path.chmod(0o644)
    with LocalRedis(tmp_path):
        assert _mode(tmp_path) == 0o700
        assert _mode(tmp_path / "logs") == 0o700
        assert [_mode(p) for p in old] == [0o600, 0o600]


def test_sluice_redis_password_sets_the_embedded_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_REDIS_PASSWORD", "from-the-env")
    with LocalRedis(tmp_path) as local:
        assert local.password == "from-the-env"
        assert redis.Redis.from_url(local.url, password="from-the-env").ping()
    assert not (tmp_path / "password").exists()


def test_an_unprotected_server_left_behind_gives_way_to_a_protected_one(tmp_path: Path) -> None:
    # What an older `sluice up` killed outright leaves: a server without a password.
    orphan = RedisServer(tmp_path, appendonly=True).start()
    try:
        (tmp_path / "port").write_text(f"{orphan.port}\n")
        redis.Redis(port=orphan.port).set("k", "v")
        with LocalRedis(tmp_path) as local:
            assert local.url == orphan.url  # the same address, now with a password
            with pytest.raises(redis.AuthenticationError):
                redis.Redis.from_url(local.url).ping()
            assert redis.Redis.from_url(local.url, password=local.password).get("k") == b"v"
    finally:
        orphan.stop()


def test_sluice_up_honours_sluice_redis_password_for_a_given_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "q.yaml"
    spec.write_text(SPEC)
    with RedisServer(tmp_path / "locked", password="given") as server:
        monkeypatch.setenv("SLUICE_REDIS_PASSWORD", "given")
        options = UpOptions(redis_url=server.url, data_dir=tmp_path / "data", output="json",
                            limits=RunLimits(duration_s=0.5))  # fmt: skip
        code = up(load_manifest(spec), options)
        _, err = capsys.readouterr()
        assert code == 0, err  # was 3: "NOAUTH Authentication required"
        config = redis.Redis(port=server.port, password="given").hgetall("q:{locked}:config")
    assert config  # the spec's job settings were written


def test_sluice_up_with_its_embedded_redis_and_dashboard_runs_behind_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SLUICE_REDIS_PASSWORD", raising=False)
    shown = io.StringIO()
    monkeypatch.setattr(local_cli, "make_view", lambda *_: JsonView(shown))
    spec = tmp_path / "q.yaml"
    spec.write_text(SPEC)
    dashboard = DashboardOptions(port=0)
    options = UpOptions(data_dir=tmp_path / "data", limits=RunLimits(duration_s=0.5),
                        dashboard=dashboard)  # fmt: skip
    code = up(load_manifest(spec), options)
    out, err = shown.getvalue(), capsys.readouterr().err
    assert code == 0, err
    password = (tmp_path / "data" / "password").read_text().strip()
    assert "dashboard: http://127.0.0.1:" in out  # it reached the queue behind the password
    assert 'SLUICE_REDIS_PASSWORD=\\"$(cat ' in out  # how to reach the queue from a shell
    assert password not in out + err


SPEC = """
apiVersion: sluice.dev/v1alpha1
kind: JobQueue
metadata: {name: locked}
spec:
  worker: {image: img, tasks: "sluice.demo_tasks:tasks"}
  scaling: {minReplicas: 0, maxReplicas: 1}
"""


def _listening_on(port: int) -> set[str]:
    """The IPv4 addresses a socket listens on at ``port`` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@pytest.mark.parametrize(("host", "bound"), [(None, "0.0.0.0"), ("127.0.0.1", "127.0.0.1")])
async def test_worker_metrics_listen_where_told(
    redis_url: str, host: str | None, bound: str
) -> None:
    values = {"queue": "mq", "redis_url": redis_url, "tasks": "sluice.demo_tasks:tasks",
              "metrics_port": free_port()}  # fmt: skip
    if host is not None:
        values["metrics_host"] = host
    w = Worker(WorkerSettings(**values))
    task = asyncio.create_task(w.run())
    try:
        await asyncio.sleep(0.5)
        assert w.health_port is not None
        assert _listening_on(w.health_port) == {bound}
    finally:
        w.request_stop()
        await asyncio.wait_for(task, 30)
