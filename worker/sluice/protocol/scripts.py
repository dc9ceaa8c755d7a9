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
time per call. So each script is assembled from what it reads: a shared
function or variable only if the script (or a piece it includes) names it, a
name table's entries only as far as they are read. A Redis script runs its
whole text on every call, and building the unused tables and closures was about
a quarter of a single enqueue's server time.

A script is sent by SHA; a server that does not know it yet (restart, failover,
another cluster node) answers NOSCRIPT and gets the source once (EVAL caches it).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
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


def _lua_table(name: str, fields: dict[str, str], quote: bool = True) -> str:
    """``local NAME = {a = 'x', ...}``; reading a name it lacks raises (a typo is an error)."""
    body = ", ".join(f"{k} = '{v}'" if quote else f"{k} = {v}" for k, v in fields.items())
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


def _number_tables() -> dict[str, dict[str, str]]:
    """DEFAULTS and MAXIMA: Lua name -> {setting: Lua number literal}."""
    d = JobSettings()
    defaults = {
        name: _lua_number(getattr(d, name))
        for name in ("max_attempts", "timeout_s", "result_ttl_s", "dead_max", "events",
                     "events_max")
    }  # fmt: skip
    return {
        "DEFAULTS": defaults,
        "MAXIMA": {name: _lua_number(r.high) for name, r in _MAXIMA.items()},
    }


def constants(words: set[str] | None = None) -> str:
    """The Lua preamble generated from the Python definitions: every value and table
    (None), or those named in ``words``, the words of a script already folded (see
    :func:`fold`): a name left in it is a whole value or table the script uses."""
    return "".join(
        _lua_table(name, table, quote=quoted) if isinstance(table, dict)
        else f"local {name} = {table}\n"
        for name, (table, quoted) in _all_constants().items()
        if words is None or name in words
    )  # fmt: skip


def _all_constants() -> dict[str, tuple[dict[str, str] | str, bool]]:
    """Every generated name: a value's Lua text, or a table (and whether it is quoted)."""
    bounds = ", ".join(_lua_number(b) for b in BUCKETS)
    out: dict[str, tuple[dict[str, str] | str, bool]] = {
        "BUCKETS": (f"{{{bounds}}}", False),
        "WAKE_MAX": (str(WAKE_MAX), False),
        "NOTICE_TTL_MS": (str(NOTICE_TTL_MS), False),
    }
    return out | _tables()


def _tables() -> dict[str, tuple[dict[str, str], bool]]:
    """Every generated table: its entries, and whether they are quoted (names, not numbers)."""
    tables = {name: (values, False) for name, values in _number_tables().items()}
    return tables | {name: (values, True) for name, values in names().items()}


def fold(code: str, where: str) -> str:
    """Each ``TABLE.name`` of the generated tables replaced by its value.

    A script then builds none of those tables on a call: Redis runs a script's whole
    text every time, and five tables with their guards were about 2 µs of each call.
    A name a table lacks fails here, when the script is built, instead of when the
    line runs. A table used otherwise (iterated, passed) keeps its ``local``.
    """
    tables = _tables()
    # Comments match first and stay as written.
    pattern = re.compile(rf"(--[^\n]*)|\b({'|'.join(tables)})\.(\w+)\b")

    def value(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(1)
        values, quoted = tables[m.group(2)]
        if m.group(3) not in values:
            raise ValueError(f"{where}: no {m.group(2)}.{m.group(3)}")
        v = values[m.group(3)]
        return f"'{v}'" if quoted else f"({v})"

    return pattern.sub(value, code)


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


def _code(lua: str) -> str:
    """Lua without its comments, for finding which names a piece of it reads."""
    return re.sub(r"--[^\n]*", "", lua)


def _words(lua: str) -> set[str]:
    """The whole words of ``lua`` outside its comments (a declared name is one word)."""
    return set(re.findall(r"\w+", _code(lua)))


def _declarations(shared: str) -> list[tuple[tuple[str, ...], str]]:
    """The top-level ``local`` declarations of a shared file, each with the names it
    declares and its text (with the comment lines above it). A function runs to the
    next ``end`` at column 0; anything else must fit on its line."""
    pieces: list[tuple[tuple[str, ...], str]] = []
    lines = shared.splitlines(keepends=True)
    above: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("local "):
            above.append(line)
            i += 1
            continue
        head = line.removeprefix("local ").removeprefix("function ")
        declared = tuple(n.strip() for n in re.split(r"[=(]", head, maxsplit=1)[0].split(","))
        text = [*above, line]
        if line.startswith("local function "):
            while not lines[i].startswith("end"):
                i += 1
                text.append(lines[i])
        elif line.count("{") != line.count("}") or line.count("(") != line.count(")"):
            raise ValueError(f"shared Lua: a top-level declaration must fit on a line: {line!r}")
        pieces.append((declared, "".join(text)))
        above = []
        i += 1
    return pieces


def assemble(own: str, shared: str) -> str:
    """``shared``'s declarations that ``own`` needs, directly or through one another
    (in their order, so each is defined before use), then ``own``."""
    pieces = _declarations(shared)
    keep = [False] * len(pieces)
    # The words of the code so far: a set lookup per name, where a regex search per name
    # and pass cost a worker ~60 ms of CPU before its first claim (it builds every script).
    words = _words(own)
    grew = True
    while grew:
        grew = False
        for i, (declared, text) in enumerate(pieces):
            if not keep[i] and any(n in words for n in declared):
                keep[i], grew = True, True
                words |= _words(text)
    return "".join(text for k, (_, text) in zip(keep, pieces, strict=True) if k) + own


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
    shared = [_read("_lib")] + [_read(f"_{part}") for part in ("jobs", "enqueue") if part in uses]
    body = fold(assemble(own, "\n".join(shared)), f"{name}.lua")
    source = "\n".join([constants(_words(body)), bindings(keys), body])
    return Script(name, source, keys)
