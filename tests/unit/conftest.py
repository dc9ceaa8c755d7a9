"""The unit tier is pure: no test here opens a socket or starts a process.

That is what keeps ``make test-fast`` fast and deterministic. The guard below
turns any attempt into a failure that names the call, so a test that needs
Redis, a port or a child process is moved to ``tests/integration`` (or
``tests/e2e``) instead of slowing this tier down. fakeredis and asyncio's own
self-pipe (a socketpair) need none of the blocked calls.
"""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Any, NoReturn

import pytest


class ImpureUnitTest(AssertionError):
    """A unit test reached for the network or a process."""


def _refuse(what: str) -> Any:
    def refuse(*_args: object, **_kwargs: object) -> NoReturn:
        raise ImpureUnitTest(
            f"tests/unit is pure: {what} is not allowed here (use tests/integration)"
        )

    return refuse


BLOCKED: tuple[tuple[object, str, str], ...] = (
    (socket.socket, "connect", "socket.connect"),
    (socket.socket, "connect_ex", "socket.connect_ex"),
    (socket.socket, "bind", "socket.bind"),
    (socket, "create_connection", "socket.create_connection"),
    (subprocess.Popen, "__init__", "starting a subprocess"),
    (os, "fork", "os.fork"),
    (os, "posix_spawn", "os.posix_spawn"),
    (os, "posix_spawnp", "os.posix_spawnp"),
    (os, "system", "os.system"),
)


@pytest.fixture(autouse=True)
def _pure(monkeypatch: pytest.MonkeyPatch) -> None:
    for owner, name, what in BLOCKED:
        monkeypatch.setattr(owner, name, _refuse(what))
