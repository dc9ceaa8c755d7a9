"""A blocking read must stay under the client's read timeout: which one a client has."""

from __future__ import annotations

import redis
import redis.asyncio

from sluice.connection import connect
from sluice.protocol.client import socket_timeout
from sluice.waiting import MAX_BLOCK_S, max_block


def test_a_client_that_names_no_timeout_has_the_librarys() -> None:
    # redis-py 8 reads with 5 s unless told otherwise: a 5 s block would time out.
    default = socket_timeout(redis.Redis.from_url("redis://127.0.0.1:1/0"))
    assert default is None or default > 0
    if default is not None:
        assert max_block(default) < default


def test_explicit_timeouts_are_read() -> None:
    assert socket_timeout(redis.Redis.from_url("redis://h:1/0", socket_timeout=None)) is None
    assert socket_timeout(redis.asyncio.Redis.from_url("redis://h:1/0", socket_timeout=3)) == 3
    assert socket_timeout(connect("redis://h:1/0")) == 15
    assert max_block(None) == MAX_BLOCK_S
    assert max_block(3) == 1.5
