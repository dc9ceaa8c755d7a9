"""Per-queue job settings, stored in Redis so every client and worker agrees.

The operator (from the JobQueue's ``spec.jobs``) or :meth:`sluice.Queue.configure`
writes them to the queue's config hash; the Lua scripts read the fields they
need on every call, and workers read them with a short cache. An unset field
means the default below, which the scripts also know (the script registry
writes these defaults into every script). A frozen dataclass checked by
:mod:`sluice.settings_fields` rather than a pydantic model: every worker reads
it before its first claim, and importing pydantic would slow each one's start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluice import backoff, limits
from sluice.settings_fields import check, flag, number, rules


@dataclass(frozen=True, kw_only=True)
class JobSettings:
    """Defaults for every job of a queue; an enqueue may override timeout and attempts.

    ``JobSettings(...)`` raises a ValueError naming every field out of its range;
    ``dataclasses.replace(settings, field=...)`` makes a changed copy.
    """

    # Ranges: sluice.limits (the JobQueue spec and the CRD use the same ones).
    # A timed-out attempt is retried or dead-lettered with reason ``timeout``.
    timeout_s: float = number(limits.TIMEOUT_S, 300.0)
    # Attempts including the first; a lease that expires this often dead-letters the job.
    max_attempts: int = number(limits.MAX_ATTEMPTS, 5)
    # Lease renewed by the worker's heartbeat; how long a SIGKILLed worker's jobs wait.
    lease_s: float = number(limits.LEASE_S, 30.0)
    # Retry delay: full jitter over min(cap, base * multiplier ** (attempt - 1)).
    backoff_base_s: float = number(limits.BACKOFF_BASE_S, 1.0)
    backoff_cap_s: float = number(limits.BACKOFF_CAP_S, 300.0)
    backoff_multiplier: float = number(limits.BACKOFF_MULTIPLIER, 2.0)
    # Completed and cancelled jobs (and their results) expire after this; ids may then be reused.
    # ~250 B per finished job plus its result: an hour at 100 jobs/s is ~90 MB of Redis.
    result_ttl_s: int = number(limits.RESULT_TTL_S, 3600)
    # Dead-letter queue bound; the oldest dead letters are dropped (and counted) beyond it.
    dead_max: int = number(limits.DEAD_MAX, 10000)
    # Waiting + delayed jobs beyond which enqueue raises QueueFull; None = unbounded.
    max_length: int | None = number(limits.MAX_LENGTH, None)
    # Rate limit: at most rate_limit jobs start per rate_period_s, across every worker
    # (GCRA in the claim script; a full period's jobs may start at once). None: no limit.
    rate_limit: int | None = number(limits.RATE_LIMIT, None)
    rate_period_s: float = number(limits.RATE_PERIOD_S, 1.0)
    # At most this many jobs with one concurrency_key hold a lease at once. None: no limit.
    key_concurrency: int | None = number(limits.KEY_CONCURRENCY, None)
    # Lifecycle events to the queue's stream q:{name}:events (Queue.events, sluice events).
    # Off by default: they cost ~20 % more Redis CPU per enqueued job (docs: benchmarks).
    events: bool = flag(False)
    # Events kept (XTRIM MAXLEN ~, so a little more); ~150 B each: 10,000 is ~1.5 MB.
    events_max: int = number(limits.EVENTS_MAX, 10000)

    def __post_init__(self) -> None:
        check(self)

    def retry_delay(self, attempt: int, draw: float | None = None) -> float:
        """Backoff before the attempt after ``attempt`` failed (seconds)."""
        return backoff.delay(
            attempt,
            base=self.backoff_base_s,
            multiplier=self.backoff_multiplier,
            cap=self.backoff_cap_s,
            draw=draw,
        )

    def to_config(self) -> dict[str, str]:
        """The config-hash fields (unset optional fields are left out)."""
        values = dataclasses.asdict(self)
        return {k: repr(v) for k, v in values.items() if v is not None}

    @classmethod
    def from_config(cls, fields: Mapping[bytes | str, bytes | str]) -> JobSettings:
        """Parse a config hash like the scripts do: unknown or invalid fields mean the default.

        A hand-edited or newer-version config must not stop workers; the Lua scripts
        already fall back field by field, and Python agrees with them.
        """
        known = rules(cls)
        values: dict[str, Any] = {}
        for key, raw in fields.items():
            name = key.decode(errors="replace") if isinstance(key, bytes) else key
            rule = known.get(name)
            if rule is None:
                continue
            try:
                values[name] = rule.parse(name, raw.decode() if isinstance(raw, bytes) else raw)
            except ValueError:  # UnicodeDecodeError too
                continue  # the default, as the scripts do
        return cls(**values)
