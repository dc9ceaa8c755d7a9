"""Shared fixtures: a real redis-server per session, flushed per test.

Tests that depend on Redis behaviour (Lua scripts, blocking pops, expiry,
persistence) use these; only pure tests may use fakeredis.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sluice_local.redis_server import RedisServer


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """Code under test (``sluice worker`` run in-process) installs root log handlers
    bound to pytest's captured stderr, which is closed after the test; a thread
    still logging later (Kopf's) would then hit a closed file."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's real redis-server, emptied before each test."""
    if not redis_server.running:  # a test may have stopped it to simulate an outage
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, for tests that stop, kill or restart it."""
    with RedisServer(tmp_path / "redis", appendonly=True) as server:
        yield server
