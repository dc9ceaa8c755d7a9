"""A connection kept out of the client's pool for a producer's script calls.

redis-py 8 spends about 32 µs of client CPU on a command sent through
``Redis.execute_command``: 13 µs of it getting and releasing a pooled connection,
most of the rest in its observability and retry layers. Sending the same command
on a connection directly (``send_command``, ``read_response``) costs about 9 µs.
A single enqueue is one such call, so the lane is most of the difference between
a round trip's cost and redis-py's.

Each client gets one lane, shared by every ``Queue`` on it: a connection taken
from the client's pool once and kept, so it has the pool's settings (address,
credentials, TLS, timeouts, health checks) and the client's ``close()`` closes
it with the others. One thread uses it at a time: a call that finds it busy, or
that fails on it (a connection error or timeout), goes through the client as
before, with redis-py's retries, and the lane takes a fresh connection next
time. A forked child takes its own. A client the lane does not know (a cluster
client, a subclass that may send commands its own way) is always used as it is.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sluice.protocol.scripts import Arg, Script, SyncClient

# Connections the lane can talk on as redis-py's client does (send_command,
# read_response): TCP, TLS (sluice.connection's bounded handshake too), Unix sockets.
_CONNECTIONS = (redis.Connection, redis.SSLConnection, redis.UnixDomainSocketConnection)

_lanes: weakref.WeakKeyDictionary[SyncClient, Lane] = weakref.WeakKeyDictionary()
_lanes_lock = threading.Lock()


def lane_for(client: SyncClient) -> Lane:
    """The client's lane (made at the first call; it lives as long as the client)."""
    with _lanes_lock:
        lane = _lanes.get(client)
        if lane is None:
            lane = _lanes[client] = Lane(client)
        return lane


class Lane:
    """Script calls on a connection of their own; see the module docstring.

    It holds the client's pool, never the client: the client is the key it is
    found by, and must be free to be collected.
    """

    def __init__(self, client: SyncClient) -> None:
        pool = getattr(client, "connection_pool", None)
        usable = (
            type(client) is redis.Redis
            and isinstance(pool, redis.ConnectionPool)
            and issubclass(pool.connection_class, _CONNECTIONS)
        )
        self._pool: redis.ConnectionPool | None = pool if usable else None
        self._lock = threading.Lock()
        self._conn: Any = None  # a connection of the pool's class, checked out for good
        self._pid = os.getpid()

    @property
    def usable(self) -> bool:
        return self._pool is not None

    def run(self, client: SyncClient, script: Script, keys: list[str], args: list[Arg]) -> Any:
        """The script's reply; NOSCRIPT is answered by sending its source, as Script does."""
        if self._pool is None or not self._lock.acquire(blocking=False):
            return script(client, keys, args)
        try:
            try:
                return _evalsha(self._connection(self._pool), script, keys, args)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                # A stale socket (a restarted server) or a slow one: hand it back to the
                # pool to be dropped, and let the client's own retries decide, as every
                # call did before the lane.
                self._give_back(self._pool)
        finally:
            self._lock.release()
        return script(client, keys, args)

    def _connection(self, pool: redis.ConnectionPool) -> Any:
        if self._pid != os.getpid():
            # A forked child must not talk on its parent's socket; its pool starts anew.
            self._conn, self._pid = None, os.getpid()
        if self._conn is None:
            self._conn = pool.get_connection()
        return self._conn

    def _give_back(self, pool: redis.ConnectionPool) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.disconnect()
            pool.release(conn)


def _evalsha(conn: Any, script: Script, keys: list[str], args: list[Arg]) -> Any:
    conn.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
    try:
        return conn.read_response()
    except NoScriptError:
        conn.send_command("EVAL", script.source, len(keys), *keys, *args)
        return conn.read_response()
