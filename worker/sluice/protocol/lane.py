"""A connection of one's own for a producer's script calls, past redis-py's pool.

redis-py 8 spends about 32 µs of client CPU on a command sent through
``Redis.execute_command``: 13 µs of it getting and releasing a pooled connection,
most of the rest in its observability and retry layers. Sending the same command
on a connection directly (``send_command``, ``read_response``) costs about 9 µs.
A single enqueue is one such call, so the lane is most of the difference between
a round trip's cost and redis-py's.

The lane is one connection made from the client's own pool settings (address,
credentials, TLS, timeouts, health checks), used by one thread at a time: a call
that finds it busy (another thread), or that fails on it (a connection error or
timeout), goes through the client as before, with redis-py's retries; the lane's
connection is then dropped and made again on the next call. A client the lane
does not know (a cluster client, a test double's pool) always goes through the client.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sluice.protocol.scripts import Arg, Script, SyncClient

# Connections the lane can make and talk on as redis-py's client does (send_command,
# read_response): TCP, TLS (sluice.connection's bounded handshake too) and Unix sockets.
_CONNECTIONS = (redis.Connection, redis.SSLConnection, redis.UnixDomainSocketConnection)


class Lane:
    """Script calls on a connection of their own; see the module docstring."""

    def __init__(self, client: SyncClient) -> None:
        self._client = client
        pool = getattr(client, "connection_pool", None)
        # A subclass of the client may change how commands are sent: only the plain one.
        usable = (
            type(client) is redis.Redis
            and isinstance(pool, redis.ConnectionPool)
            and issubclass(pool.connection_class, _CONNECTIONS)
        )
        self._pool = pool if usable else None
        self._lock = threading.Lock()
        self._conn: redis.Connection | None = None
        self._pid = os.getpid()

    def run(self, script: Script, keys: list[str], args: list[Arg]) -> Any:
        """The script's reply; NOSCRIPT is answered by sending its source, as Script does."""
        if self._pool is None or not self._lock.acquire(blocking=False):
            return script(self._client, keys, args)
        try:
            conn = self._connection()
            try:
                return _evalsha(conn, script, keys, args)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                # A stale socket (a restarted server) or a slow one: drop it, and let the
                # client's own retries decide, as every call did before the lane.
                self._drop()
        finally:
            self._lock.release()
        return script(self._client, keys, args)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _connection(self) -> redis.Connection:
        if self._pid != os.getpid():
            # A forked child must not talk on its parent's socket, nor close it.
            self._conn, self._pid = None, os.getpid()
        if self._conn is None:
            assert self._pool is not None  # run() checked it
            self._conn = self._pool.connection_class(**self._pool.connection_kwargs)
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.disconnect()  # type: ignore[no-untyped-call]
        self._conn = None


def _evalsha(conn: redis.Connection, script: Script, keys: list[str], args: list[Arg]) -> Any:
    conn.send_command("EVALSHA", script.sha, len(keys), *keys, *args)  # type: ignore[no-untyped-call]
    try:
        return conn.read_response()
    except NoScriptError:
        conn.send_command("EVAL", script.source, len(keys), *keys, *args)  # type: ignore[no-untyped-call]
        return conn.read_response()
