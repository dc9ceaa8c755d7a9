"""The guard in this tier's conftest refuses sockets and processes, and names the call."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest

# The guard raises conftest's ImpureUnitTest, an AssertionError that names the call.
ImpureUnitTest = AssertionError


def test_a_connection_is_refused_with_the_call_named() -> None:
    with pytest.raises(ImpureUnitTest, match=r"socket\.create_connection"):
        socket.create_connection(("127.0.0.1", 6379), timeout=0.1)
    with socket.socket() as sock, pytest.raises(ImpureUnitTest, match=r"socket\.connect"):
        sock.connect(("127.0.0.1", 6379))


def test_a_listening_socket_is_refused() -> None:
    with socket.socket() as sock, pytest.raises(ImpureUnitTest, match=r"socket\.bind"):
        sock.bind(("127.0.0.1", 0))


def test_a_child_process_is_refused() -> None:
    with pytest.raises(ImpureUnitTest, match="subprocess"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


async def test_an_event_loop_still_works() -> None:
    """asyncio's self-pipe is a socketpair: the guard must leave it alone."""
    assert await asyncio.sleep(0, result=7) == 7
