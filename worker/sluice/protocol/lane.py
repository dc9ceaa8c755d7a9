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

The asyncio client has its own lane (:class:`AsyncLane`), for the worker's
claims, finishes and heartbeats and the operator's stats reads: there the
same layers cost about 33 µs a call (88 against 55), about 2 µs of a no-op
job's worker CPU. One coroutine uses it at a time; the others go through the
client. A call cancelled mid-read leaves the connection closed by redis-py
(``read_response`` disconnects on any exception), and the next call reconnects.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import hiredis  # a base dependency (redis[hiredis]): its reply parser, and here its packer
import redis
import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sluice.protocol.scripts import Arg, AsyncClient, Script, SyncClient

# Connections the lane can talk on as redis-py's client does (send_command,
# read_response): TCP, TLS (sluice.connection's bounded handshake too), Unix sockets.
_CONNECTIONS = (redis.Connection, redis.SSLConnection, redis.UnixDomainSocketConnection)

_ASYNC_CONNECTIONS = (
    redis.asyncio.Connection,
    redis.asyncio.SSLConnection,
    redis.asyncio.UnixDomainSocketConnection,
)

_lanes: weakref.WeakKeyDictionary[SyncClient, Lane] = weakref.WeakKeyDictionary()
_async_lanes: weakref.WeakKeyDictionary[AsyncClient, AsyncLane] = weakref.WeakKeyDictionary()
_lanes_lock = threading.Lock()
C = TypeVar("C")
L = TypeVar("L")


def lane_for(client: SyncClient) -> Lane:
    """The client's lane (made at the first call; it lives as long as the client)."""
    return _kept(_lanes, client, Lane)


def async_lane_for(client: AsyncClient) -> AsyncLane:
    """The asyncio client's lane (made at the first call; it lives as long as the client)."""
    return _kept(_async_lanes, client, AsyncLane)


def _kept(table: weakref.WeakKeyDictionary[C, L], client: C, make: Callable[[C], L]) -> L:
    with _lanes_lock:
        lane = table.get(client)
        if lane is None:
            lane = table[client] = make(client)
        return lane


class Lane:
    """Script calls on a connection of their own; see the module docstring.

    It holds the client's pool, never the client: the client is the key it is
    found by, and must be free to be collected.
    """

    def __init__(self, client: SyncClient) -> None:
        self._pool: redis.ConnectionPool | None = _usable_pool(
            client, redis.Redis, redis.ConnectionPool, _CONNECTIONS
        )
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


class AsyncLane:
    """The asyncio twin of :class:`Lane`; see the module docstring."""

    def __init__(self, client: AsyncClient) -> None:
        self._pool: redis.asyncio.ConnectionPool | None = _usable_pool(
            client, redis.asyncio.Redis, redis.asyncio.ConnectionPool, _ASYNC_CONNECTIONS
        )
        self._busy = False  # one coroutine at a time; no lock to wait on: the others pass by
        self._conn: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def usable(self) -> bool:
        return self._pool is not None

    async def run(
        self, client: AsyncClient, script: Script, keys: list[str], args: list[Arg]
    ) -> Any:
        """The script's reply; NOSCRIPT is answered by sending its source, as Script does."""
        if self._pool is None or self._busy:
            return await script.run_async(client, keys, args)
        self._busy = True
        try:
            try:
                conn = await self._connection(self._pool)
                return await _aevalsha(conn, script, keys, args)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                await self._give_back(self._pool)
        finally:
            self._busy = False
        return await script.run_async(client, keys, args)

    async def _connection(self, pool: redis.asyncio.ConnectionPool) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A connection belongs to the event loop it was made on; a client used from
            # another loop (a new asyncio.run) gets a new one, as its pool would give.
            self._conn, self._loop = None, loop
        if self._conn is None:
            self._conn = await pool.get_connection()  # type: ignore[no-untyped-call]
        return self._conn

    async def _give_back(self, pool: redis.asyncio.ConnectionPool) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.disconnect(nowait=True)
            await pool.release(conn)


def _usable_pool(
    client: Any, client_type: type[Any], pool_type: type[Any], connections: tuple[type, ...]
) -> Any:
    """The client's pool if the lane can take a connection from it, else None: the plain
    client class (a subclass may send commands its own way), a pool of known connections,
    UTF-8 text."""
    pool: Any = getattr(client, "connection_pool", None)
    usable = (
        type(client) is client_type
        and isinstance(pool, pool_type)
        and issubclass(pool.connection_class, connections)
        and _utf8(pool.connection_kwargs)
    )
    return pool if usable else None


def _utf8(options: dict[str, Any]) -> bool:
    """Whether the client encodes text as UTF-8, as the lane's packing does (and as
    every Sluice reader decodes it)."""
    return str(options.get("encoding", "utf-8")).lower().replace("_", "-") in ("utf-8", "utf8")


def _pack(*args: Arg) -> list[bytes]:
    """The command as bytes. hiredis packs the arguments in C, the same bytes as
    redis-py's packer (which runs a Python generator and type checks per argument:
    about 3 µs of a 20-argument script call)."""
    # (hiredis's stub types the tuple as one element long)
    return [hiredis.pack_command(args)]  # type: ignore[arg-type]


async def _aevalsha(conn: Any, script: Script, keys: list[str], args: list[Arg]) -> Any:
    await conn.send_packed_command(_pack("EVALSHA", script.sha, len(keys), *keys, *args))
    try:
        return await conn.read_response()
    except NoScriptError:
        await conn.send_packed_command(_pack("EVAL", script.source, len(keys), *keys, *args))
        return await conn.read_response()


def _evalsha(conn: Any, script: Script, keys: list[str], args: list[Arg]) -> Any:
    conn.send_packed_command(_pack("EVALSHA", script.sha, len(keys), *keys, *args))
    try:
        return conn.read_response()
    except NoScriptError:
        conn.send_packed_command(_pack("EVAL", script.source, len(keys), *keys, *args))
        return conn.read_response()
