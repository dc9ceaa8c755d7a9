"""The Lua script registry: one file per operation, run with EVALSHA.

Each script is the generated constants (histogram bounds, setting defaults),
then ``lua/_lib.lua`` (key layout and shared steps), then the operation's own
file. Generating the constants from :data:`sluice.stats.BUCKETS` and
:class:`sluice.settings.JobSettings` keeps Python and Lua from drifting apart.

A script is sent by SHA; a server that does not know it yet (restart, failover,
another cluster node) answers NOSCRIPT and gets the source once (EVAL caches it).
"""

from __future__ import annotations

import functools
import hashlib
import math
from importlib import resources
from typing import Any

import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.exceptions import NoScriptError

from sluice.settings import JobSettings
from sluice.stats import BUCKETS

SyncClient = redis.Redis | redis.cluster.RedisCluster
AsyncClient = redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster
Arg = str | bytes | int | float

# Most wake-up tokens waiting in a queue's wake list: enough to wake every idle worker
# of a large deployment, few enough that stale tokens cost nothing.
WAKE_MAX = 256

NAMES = (
    "enqueue", "claim", "extend", "finish", "reap", "cancel", "progress",
    "requeue_dead", "purge_dead", "heartbeat", "stats",
)  # fmt: skip


def _lua_number(x: float) -> str:
    return "math.huge" if math.isinf(x) else repr(x)


def constants() -> str:
    """The Lua preamble generated from the Python definitions."""
    d = JobSettings()
    defaults = ", ".join(
        f"{name} = {_lua_number(getattr(d, name))}"
        for name in ("max_attempts", "timeout_s", "result_ttl_s", "dead_max")
    )
    bounds = ", ".join(_lua_number(b) for b in BUCKETS)
    return (
        f"local BUCKETS = {{{bounds}}}\n"
        f"local DEFAULTS = {{{defaults}}}\n"
        f"local WAKE_MAX = {WAKE_MAX}\n"
    )


def _read(name: str) -> str:
    return resources.files("sluice.protocol").joinpath(f"lua/{name}.lua").read_text()


class Script:
    """One operation's full source and SHA."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def __call__(self, client: SyncClient, keys: list[str], args: list[Arg]) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return client.eval(self.source, len(keys), *keys, *args)

    async def run_async(self, client: AsyncClient, keys: list[str], args: list[Arg]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.source, len(keys), *keys, *args)


@functools.cache
def script(name: str) -> Script:
    """The named operation's script (sources are read once per process)."""
    if name not in NAMES:
        raise KeyError(f"no script {name!r}")
    return Script(name, constants() + _read("_lib") + "\n" + _read(name))
