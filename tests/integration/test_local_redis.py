"""Local mode's Redis: URL precedence, the embedded server's persistence, port and lock."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from sluice_local.embedded_redis import (
    DataDirBusy,
    LocalRedis,
    choose_url,
    default_data_dir,
    port_is_free,
)
from sluice_local.redis_server import RedisServer


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
        client = redis.Redis.from_url(url)
        client.rpush("q:{demo}:ready:2", "job-1", "job-2")
        client.close()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert port_is_free(port)  # stopped on exit
    with LocalRedis(tmp_path) as again:
        assert again.url == url
        client = redis.Redis.from_url(again.url)
        assert client.lrange("q:{demo}:ready:2", 0, -1) == [b"job-1", b"job-2"]
        client.close()


def test_second_instance_on_one_data_dir_is_refused(tmp_path: Path) -> None:
    with LocalRedis(tmp_path), pytest.raises(DataDirBusy, match="another 'sluice up'"):
        LocalRedis(tmp_path).__enter__()


def test_a_server_left_behind_is_adopted_not_doubled(tmp_path: Path) -> None:
    # What a SIGKILLed `sluice up` leaves: its redis-server still serving the directory.
    orphan = RedisServer(tmp_path, appendonly=True).start()
    try:
        (tmp_path / "port").write_text(f"{orphan.port}\n")
        redis.Redis(port=orphan.port).set("k", "v")
        with LocalRedis(tmp_path) as local:
            assert local.url == orphan.url
            assert redis.Redis.from_url(local.url).get("k") == b"v"
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
