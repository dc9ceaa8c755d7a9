"""Restarting a dead embedded Redis: at once, then backing off while it keeps dying."""

from __future__ import annotations

from pathlib import Path

from sluice_local.embedded_redis import LocalRedis
from sluice_local.redis_server import RedisServerError


class Server:
    """A RedisServer stand-in: only whether it runs and what start does matter here."""

    def __init__(self, starts: bool) -> None:
        self.running = False
        self.port = 6390
        self.starts = starts

    def start(self) -> Server:
        if not self.starts:
            raise RedisServerError("redis-server exited: no space left on device")
        self.running = True
        return self


def local_with(server: Server, tmp_path: Path) -> LocalRedis:
    local = LocalRedis(tmp_path)
    local._server = server  # type: ignore[assignment]
    return local


def test_a_dead_server_is_restarted_at_once_and_said_so(tmp_path: Path) -> None:
    server = Server(starts=True)
    local = local_with(server, tmp_path)
    note = local.revive(100.0)
    assert note is not None
    assert "restarted it on port 6390" in note
    assert server.running
    assert local.revive(100.1) is None  # running: nothing to do


def test_a_server_that_will_not_start_is_retried_with_backoff(tmp_path: Path) -> None:
    server = Server(starts=False)
    local = local_with(server, tmp_path)
    tried_at = [t / 10 for t in range(0, 400) if local.revive(t / 10) is not None]
    assert tried_at[:5] == [0.0, 1.0, 3.0, 7.0, 15.0]  # waits of 1, 2, 4, 8 s
    note = local.revive(1000.0)
    assert note is not None
    assert "did not restart (redis-server exited: no space left on device)" in note


def test_an_adopted_or_external_server_is_not_watched(tmp_path: Path) -> None:
    assert LocalRedis(tmp_path, flag_url="redis://elsewhere:6379/0").revive(0.0) is None
