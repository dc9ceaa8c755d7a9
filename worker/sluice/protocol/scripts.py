"""The Lua script registry: one file per operation, run with EVALSHA.

Each script is the generated constants (histogram bounds, setting defaults, the
job hash's field names and state letters),
the bindings of the keys it declares on its ``-- KEYS:`` line, then
``lua/_lib.lua`` (shared steps), ``lua/_jobs.lua`` when it says ``-- uses:
jobs``, ``lua/_enqueue.lua`` when it says ``-- uses: enqueue``, and the
operation's own file. Generating the constants from
:data:`sluice.stats.BUCKETS`, :class:`sluice.job_settings.JobSettings` and
:mod:`sluice.protocol.keys` keeps Python and Lua from drifting apart: a script
says ``F.attempts`` and ``STATE.active``, never the stored letters, and a
misspelt name fails loudly instead of reading a field that is not there. A script
gets only the keys it touches, and only the shared code it calls: on the hot paths
(enqueue, claim, finish) every argument and every function definition costs server
time per call.

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

from sluice import limits
from sluice.job_settings import JobSettings
from sluice.protocol.keys import HISTOGRAMS, KEY_NAMES, STATES, job_fields
from sluice.protocol.messages import OUTCOME_CODES, START_CODE
from sluice.stats import BUCKETS

SyncClient = redis.Redis | redis.cluster.RedisCluster
AsyncClient = redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster
Arg = str | bytes | int | float

# Most wake-up tokens waiting in a queue's wake list: enough to wake every idle worker
# of a large deployment, few enough that stale tokens cost nothing.
WAKE_MAX = 256
# How long a job's end notice (q:{N}:dn:<id>) outlives the job's end: only waiters that
# are between their watch and their XREAD need it, for milliseconds.
NOTICE_TTL_MS = 60_000

NAMES = (
    "enqueue", "enqueue_one", "claim", "extend", "finish", "reap", "cancel", "progress",
    "requeue_dead", "purge_dead", "heartbeat", "stats", "fire", "watch", "events",
)  # fmt: skip


# The config fields the scripts read, and their ranges: a value above is the default.
_MAXIMA = {
    "max_attempts": limits.MAX_ATTEMPTS,
    "timeout_s": limits.TIMEOUT_S,
    "result_ttl_s": limits.RESULT_TTL_S,
    "dead_max": limits.DEAD_MAX,
    "max_length": limits.MAX_LENGTH,
    "events_max": limits.EVENTS_MAX,
    "rate_limit": limits.RATE_LIMIT,
    "rate_period_s": limits.RATE_PERIOD_S,
    "key_concurrency": limits.KEY_CONCURRENCY,
}


def _lua_number(x: float) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    return "math.huge" if math.isinf(x) else repr(x)


def _lua_table(name: str, fields: dict[str, str]) -> str:
    """``local NAME = {a = 'x', ...}``; reading a name it lacks raises (a typo is an error)."""
    body = ", ".join(f"{k} = '{v}'" for k, v in fields.items())
    guard = f"function(_, k) error('no {name}.' .. tostring(k)) end"
    return f"local {name} = setmetatable({{{body}}}, {{__index = {guard}}})\n"


def names() -> dict[str, dict[str, str]]:
    """The named tables every script gets: Lua name -> {name: stored value}."""
    return {
        "F": job_fields(),
        "STATE": {shown: stored for stored, shown in STATES.items()},
        "KIND": {**{str(kind): code for kind, code in OUTCOME_CODES.items()}, "start": START_CODE},
        "HIST": dict(HISTOGRAMS),
    }


def constants(jobs: bool = True) -> str:
    """The Lua preamble generated from the Python definitions (BUCKETS for _jobs.lua)."""
    d = JobSettings()
    defaults = ", ".join(
        f"{name} = {_lua_number(getattr(d, name))}"
        for name in (
            "max_attempts",
            "timeout_s",
            "result_ttl_s",
            "dead_max",
            "events",
            "events_max",
        )
    )
    maxima = ", ".join(f"{name} = {_lua_number(r.high)}" for name, r in _MAXIMA.items())
    bounds = ", ".join(_lua_number(b) for b in BUCKETS)
    return (
        (f"local BUCKETS = {{{bounds}}}\n" if jobs else "")
        + f"local DEFAULTS = {{{defaults}}}\n"
        + f"local MAXIMA = {{{maxima}}}\n"
        + f"local WAKE_MAX = {WAKE_MAX}\n"
        + f"local NOTICE_TTL_MS = {NOTICE_TTL_MS}\n"
        + "".join(_lua_table(name, table) for name, table in names().items())
    )


def _read(name: str) -> str:
    return resources.files("sluice.protocol").joinpath(f"lua/{name}.lua").read_text()


def _header(source: str, tag: str) -> list[str]:
    """The words after ``-- {tag}:`` on a script's header line (before any parenthesis)."""
    for line in source.splitlines():
        if line.startswith(f"-- {tag}:"):
            return line.split(":", 1)[1].split("(", 1)[0].split()
    return []


def bindings(keys: tuple[str, ...]) -> str:
    """Lua locals for every key name: declared ones from KEYS in order, the rest nil."""
    lines, n = [], 0
    for name in KEY_NAMES:
        if name not in keys:
            lines.append(f"local {name.upper()} = nil")
        elif name == "ready":
            lines.append(
                f"local READY = {{KEYS[{n + 1}], KEYS[{n + 2}], KEYS[{n + 3}], KEYS[{n + 4}]}}"
            )
            n += 4
        else:
            n += 1
            lines.append(f"local {name.upper()} = KEYS[{n}]")
    return "\n".join(lines) + "\n"


class Script:
    """One operation's full source, SHA, and the key names its KEYS hold in order."""

    def __init__(self, name: str, source: str, keys: tuple[str, ...] = ()) -> None:
        self.name = name
        self.source = source
        self.keys = keys
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
    own = _read(name)
    keys = tuple(_header(own, "KEYS"))
    unknown = [k for k in keys if k not in KEY_NAMES]
    if not keys or unknown or len(set(keys)) != len(keys):
        # At least one key: in a cluster, KEYS is what routes the call to the queue's slot.
        raise ValueError(f"{name}.lua: bad '-- KEYS:' line {keys} (names: {KEY_NAMES})")
    # Declared in KEY_NAMES order, so bindings() and QueueKeys.script_keys() agree.
    keys = tuple(k for k in KEY_NAMES if k in keys)
    uses = _header(own, "uses")
    jobs = "jobs" in uses
    parts = [constants(jobs), bindings(keys), _read("_lib"), _read("_jobs") if jobs else ""]
    parts += [_read("_enqueue") if "enqueue" in uses else "", own]
    return Script(name, "\n".join(parts), keys)
