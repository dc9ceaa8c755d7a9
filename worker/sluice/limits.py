"""The documented range of every number a user can give Sluice, in one place.

Every number that reaches Sluice (an ``enqueue`` argument, a ``sluice`` flag,
a JSON line, a ``SLUICE_*`` variable, a :class:`~sluice.JobSettings` field,
the JobQueue spec and its CRD) is checked against one :class:`Range` defined
here, so the Python API, the CLI, the settings models and the CRD's schema
agree on the same numbers. NaN and infinities are never in range, nor is a
string that looks like a number: ``"5"`` in a JSON line is refused, not read.

The upper bounds are generous for real use and keep the arithmetic sane: a
delay of 1e300 s overflows the millisecond scores Redis keeps, and a TTL of
1e20 s overflows ``PEXPIRE``. :meth:`Range.check` is hand-written rather than
a pydantic ``TypeAdapter`` because it runs once per enqueued job (a few
hundred nanoseconds against several microseconds). The worker's and the
queue's settings (plain dataclasses, :mod:`sluice.settings_fields`) check
their fields with the same ranges; the operator's JobQueue spec, a pydantic
model, takes them through :meth:`Range.field`. pydantic is imported only
there, so a worker's start-up does not pay for it.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

MINUTE = 60
HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class Range:
    """Finite numbers from ``low`` to ``high`` (both included unless ``low_open``)."""

    low: float
    high: float
    unit: str = ""
    low_open: bool = False  # True: ``low`` itself is refused (timeouts must be > 0)
    integer: bool = False

    def describe(self) -> str:
        """``"a number of seconds > 0 and <= 86400"``: what the error messages say."""
        kind = "a whole number" if self.integer else "a number"
        unit = f" of {self.unit}" if self.unit else ""
        low = f"> {_g(self.low)}" if self.low_open else f">= {_g(self.low)}"
        return f"{kind}{unit} {low} and <= {_g(self.high)}"

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def check(self, name: str, value: Any) -> Any:
        """``value`` if it lies in the range; else ValueError naming ``name`` and the reason.

        Any real number is taken (NumPy's too: they register as ``numbers.Real``), as a
        plain int or float; booleans and strings are not numbers here.
        """
        if type(value) not in (int, float):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{name}: must be {self.describe()}, got {value!r}")
            value = int(value) if isinstance(value, numbers.Integral) else float(value)
        if self.integer and not isinstance(value, int):
            if not (math.isfinite(value) and value.is_integer()):
                raise ValueError(f"{name}: must be {self.describe()}, got {value!r}")
            value = int(value)
        if not self.contains(value):
            raise ValueError(f"{name}: must be {self.describe()}, got {value!r}")
        return value

    def field(self, default: Any, **kwargs: Any) -> Any:
        """A pydantic ``Field`` with these bounds (for the operator's spec models)."""
        from pydantic import Field  # noqa: PLC0415  (not on the worker's start path)

        bounds: dict[str, Any] = {"gt" if self.low_open else "ge": self.low, "le": self.high}
        if not self.integer:
            bounds["allow_inf_nan"] = False
        return Field(default=default, **bounds, **kwargs)


def _g(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --- jobs: enqueue arguments and the queue's JobSettings ---------------------------
# A scheduled or retried job may wait up to a year.
DELAY_S = Range(0, 365 * DAY, "seconds")
# One attempt may run up to a day (the JobQueue also needs it below the pod's grace period).
TIMEOUT_S = Range(0, DAY, "seconds", low_open=True)
MAX_ATTEMPTS = Range(1, 1000, "attempts", integer=True)
# A SIGKILLed worker's jobs wait this long; the heartbeat renews it every third of it.
LEASE_S = Range(1, HOUR, "seconds")
BACKOFF_BASE_S = Range(0, DAY, "seconds", low_open=True)
BACKOFF_CAP_S = Range(0, DAY, "seconds", low_open=True)
BACKOFF_MULTIPLIER = Range(1, 100)
# Finished jobs and their results are kept this long (Redis memory grows with it).
RESULT_TTL_S = Range(1, 30 * DAY, "seconds", integer=True)
# A queue's rate limit: jobs started per period, across every worker (the claim enforces it).
RATE_LIMIT = Range(1, 1_000_000_000, "jobs", integer=True)
RATE_PERIOD_S = Range(0, DAY, "seconds", low_open=True)
# Jobs of one concurrency key running at once, across every worker.
KEY_CONCURRENCY = Range(1, 1_000_000, "jobs", integer=True)
MAX_CONCURRENCY_KEY_BYTES = 256
# Parents one job may wait for (enqueue ``after=``).
MAX_PARENTS = 100
DEAD_MAX = Range(1, 10_000_000, "dead letters", integer=True)
MAX_LENGTH = Range(1, 1_000_000_000, "jobs", integer=True)
# The lifecycle event stream's bound (XTRIM MAXLEN ~): ~150 bytes of Redis per event.
EVENTS_MAX = Range(100, 10_000_000, "events", integer=True)
# Queue.wait and `sluice job --wait --timeout` (None / no flag: as long as it takes).
WAIT_S = Range(0, 365 * DAY, "seconds")
# How long a producer retries an enqueue while Redis is unreachable.
ENQUEUE_RETRY_S = Range(0, 10 * MINUTE, "seconds")

# --- the worker process (WorkerSettings, `sluice worker` flags, SLUICE_* variables) ---
CONCURRENCY = Range(1, 10_000, "jobs", integer=True)
SHUTDOWN_GRACE_S = Range(0, DAY, "seconds")
METRICS_PORT = Range(0, 65535, integer=True)
# Recycling: a worker exits after this many jobs (its supervisor starts a fresh one), a
# process-isolation child is replaced after this many, or once its peak RSS passed this.
MAX_JOBS = Range(1, 1_000_000_000, "jobs", integer=True)
MAX_CHILD_MEMORY_MB = Range(1, 1_048_576, "MB", integer=True)

# --- tools: `sluice load`, `sluice dlq list`, `sluice up` ---------------------------
LOAD_RATE = Range(0, 1_000_000, "jobs per second")
LOAD_SECONDS = Range(0, 7 * DAY, "seconds")
LIST_LIMIT = Range(1, 10_000, "entries", integer=True)
LIST_OFFSET = Range(0, 1_000_000_000, "entries", integer=True)
RUN_SECONDS = Range(0, 365 * DAY, "seconds", low_open=True)
