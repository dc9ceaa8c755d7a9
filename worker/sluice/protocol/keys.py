"""Every Redis key name of a queue, and the job hash's field names, in one place.

All keys of queue ``N`` start with ``q:{N}:``. The braces make ``N`` a Redis
Cluster hash tag: a queue lives in one slot, so its Lua scripts may touch any of
its keys, and many queues spread over a cluster.

=====================  ======  ==================================================
key                    type    holds
=====================  ======  ==================================================
``q:{N}:job:<id>``     hash    one job (fields below)
``q:{N}:p:<id>``       string  its payload, apart so the hash stays a small listpack
``q:{N}:r:<id>``       string  its result (expires with the finished job)
``q:{N}:ready:<p>``    list    waiting ids of priority p (0 critical .. 3 low);
                               LPUSH at the back, RPOP from the front
``q:{N}:delayed``      zset    id -> due time (ms): scheduled jobs and retries
``q:{N}:leases``       zset    id -> lease deadline (ms): running jobs
``q:{N}:dead``         zset    id -> time dead-lettered (ms)
``q:{N}:stats``        hash    monotonic counters, histogram buckets and sums
``q:{N}:config``       hash    :class:`sluice.job_settings.JobSettings` fields
``q:{N}:wake``         list    tokens an idle worker blocks on (BLPOP)
``q:{N}:workers``      zset    worker id -> heartbeat expiry (ms)
``q:{N}:winfo``        hash    worker id -> "busy slots seen_ms"
``q:{N}:sched``        zset    schedule name -> its last fire time (ms), recorded by
                               the fire script in the same call as the fire's enqueue
``q:{N}:schedinfo``    hash    schedule name -> JSON (cron, zone, task, next fire),
                               published by the reconciler for ``sluice schedules``
``q:{N}:rate``         string  the rate limit's theoretical arrival time (ms, GCRA)
``q:{N}:keyrun``       hash    concurrency key -> jobs of that key holding a lease
``q:{N}:events``       stream  lifecycle events, bounded (``MAXLEN ~ events_max``)
``q:{N}:wt:<id>``      string  "someone waits for this job" (expires with the waiter)
``q:{N}:dn:<id>``      stream  the job's end notice, written only when a waiter is
                               marked; waiters block on it with XREAD (short TTL)
``q:{N}:hub:<token>``  stream  an asyncio process's poke: it makes the process's one
                               XREAD over its waiters' notices take in new ones
=====================  ======  ==================================================

Job hash fields are one letter: a waiting job is ``t q s e`` (plus ``m``/``o``
when the enqueue overrode the defaults), which keeps it a small listpack. A
payload over 64 bytes (``hash-max-ziplist-value``) would turn the hash into a
hashtable several times its size, so payloads are string keys of their own.

The letters are the wire format; nobody reads them by hand. The Lua scripts get
them as named tables generated from :class:`F`, :data:`STATES` and
:data:`HISTOGRAMS` (``F.attempts``, ``STATE.active``, ``HIST.wait``; see
:func:`sluice.protocol.scripts.constants`), so the two languages cannot drift.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sluice.stats import Priority

PRIORITIES = tuple(Priority)
# The keys a script may declare on its "-- KEYS:" line, in the order they are passed;
# "ready" stands for the four ready lists (critical .. low). See protocol/scripts.py.
KEY_NAMES = (
    "ready", "delayed", "leases", "dead", "stats", "config", "wake", "workers", "winfo",
    "sched", "events", "rate", "keyrun",
)  # fmt: skip

_QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
MAX_ID_LENGTH = 256
# A job id starts with a letter, digit or '_' (one starting with '-' would read as an
# option to `sluice job ID`), then ASCII letters, digits and _ . : - @ / + = # only:
# no spaces, quotes or glob characters, so it is safe in a shell, a log and a SCAN.
JOB_ID_PATTERN = rf"[A-Za-z0-9_][A-Za-z0-9_.:@/+=#-]{{0,{MAX_ID_LENGTH - 1}}}"
_JOB_ID = re.compile(JOB_ID_PATTERN)


class F:
    """Job hash field names."""

    TASK = "t"
    PRIORITY = "q"
    STATE = "s"
    ENQUEUED = "e"  # ms
    READY_SINCE = "u"  # ms: when it last became claimable (due time, reap, release)
    ATTEMPTS = "a"
    MAX_ATTEMPTS = "m"  # only when the enqueue overrode the queue's default
    TIMEOUT = "o"  # seconds; only when overridden
    TOKEN = "k"  # noqa: S105  (a field name, not a secret): fencing token, bumped by every claim
    # The started marker: the token of the claim whose attempt has begun. A claim marks
    # the jobs it hands over to run at once; a worker marks a job it held back (prefetch)
    # when it starts it. Only a marked job is charged an attempt or suspected when its
    # lease expires; an unmarked one goes back to the queue as if never claimed.
    RUN = "r"
    # 1 once a lease of this job expired (its worker died or stalled while holding it).
    # A worker runs at most one suspect at a time, and starts it marked at once, so a job
    # that kills its worker is charged for every crash and its neighbours are not.
    SUSPECT = "z"
    STARTED = "b"  # ms, last claim
    FINISHED = "f"  # ms
    WORKER = "w"
    PROGRESS = "g"
    PROGRESS_MESSAGE = "h"
    ERROR = "x"  # last error / traceback
    DEAD_REASON = "y"
    CANCEL = "c"  # cancel requested while running
    # Dependencies (enqueue ``after=``): a child's parents and, while it is blocked, how many
    # have not completed; a parent's children. Ids are space-separated (ids hold no spaces).
    PARENTS = "P"
    PENDING = "n"
    CHILDREN = "C"
    RUN_ANYWAY = "v"  # 1: the child runs when a parent is dead-lettered or cancelled
    CONCURRENCY_KEY = "K"  # at most the queue's key_concurrency jobs of one key run at once


# Job states as stored (one letter) and as shown.
STATES = {
    "w": "waiting",
    "d": "delayed",
    "a": "active",
    "c": "completed",
    "f": "dead",
    "x": "cancelled",
    "b": "blocked",  # waiting for its parents (enqueue ``after=``): not backlog
}


# Stats hash histograms: fields "<letter>:<bucket index>" and "<letter>:sum".
HISTOGRAMS = {"service": "s", "wait": "w"}


def job_fields() -> dict[str, str]:
    """:class:`F` as lower-case name -> stored letter (the names Lua scripts use)."""
    return {k.lower(): v for k, v in vars(F).items() if k.isupper()}


def check_queue_name(name: str) -> str:
    if not _QUEUE_NAME.fullmatch(name):
        raise ValueError(
            f"invalid queue name {name!r}: 1-128 characters from A-Z a-z 0-9 . _ : -, "
            "starting with a letter or digit"
        )
    return name


def check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise ValueError(
            f"id: invalid job id {job_id!r}: 1-{MAX_ID_LENGTH} characters from "
            "A-Z a-z 0-9 _ . : - @ / + = #, starting with a letter, digit or '_'"
        )
    return job_id


@dataclass(frozen=True)
class QueueKeys:
    """The key names of one queue."""

    queue: str
    prefix: str = field(init=False)

    def __post_init__(self) -> None:
        check_queue_name(self.queue)
        object.__setattr__(self, "prefix", f"q:{{{self.queue}}}:")

    def ready(self, priority: Priority) -> str:
        return f"{self.prefix}ready:{int(priority)}"

    @property
    def delayed(self) -> str:
        return self.prefix + "delayed"

    @property
    def leases(self) -> str:
        return self.prefix + "leases"

    @property
    def dead(self) -> str:
        return self.prefix + "dead"

    @property
    def stats(self) -> str:
        return self.prefix + "stats"

    @property
    def config(self) -> str:
        return self.prefix + "config"

    @property
    def wake(self) -> str:
        return self.prefix + "wake"

    @property
    def workers(self) -> str:
        return self.prefix + "workers"

    @property
    def winfo(self) -> str:
        return self.prefix + "winfo"

    @property
    def sched(self) -> str:
        return self.prefix + "sched"

    @property
    def schedinfo(self) -> str:
        return self.prefix + "schedinfo"

    @property
    def events(self) -> str:
        return self.prefix + "events"

    @property
    def rate(self) -> str:
        return self.prefix + "rate"

    @property
    def keyrun(self) -> str:
        return self.prefix + "keyrun"

    def hub(self, token: str) -> str:
        """A waiting process's poke stream (see :mod:`sluice.wait_hub`)."""
        return f"{self.prefix}hub:{token}"

    def waiter(self, job_id: str) -> str:
        return f"{self.prefix}wt:{job_id}"

    def done(self, job_id: str) -> str:
        return f"{self.prefix}dn:{job_id}"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def payload(self, job_id: str) -> str:
        return f"{self.prefix}p:{job_id}"

    def result(self, job_id: str) -> str:
        return f"{self.prefix}r:{job_id}"

    def script_keys(self, names: Iterable[str] = KEY_NAMES) -> list[str]:
        """KEYS for a script that declares ``names`` (in :data:`KEY_NAMES` order)."""
        keys: list[str] = []
        for name in names:
            if name == "ready":
                keys += [self.ready(p) for p in PRIORITIES]
            else:
                keys.append(getattr(self, name))
        return keys

    def pattern(self) -> str:
        """SCAN pattern matching every key of the queue (the name holds no glob characters)."""
        return self.prefix + "*"
