"""Per-queue job settings, stored in Redis so every client and worker agrees.

The operator (from the JobQueue's ``spec.jobs``) or :meth:`sluice.Queue.configure`
writes them to the queue's config hash; the Lua scripts read the fields they
need on every call, and workers read them with a short cache. An unset field
means the default below, which the scripts also know (the script registry
writes these defaults into every script).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, ValidationError

from sluice import backoff, limits


class JobSettings(BaseModel):
    """Defaults for every job of a queue; an enqueue may override timeout and attempts."""

    # Ranges: sluice.limits (the JobQueue spec and the CRD use the same ones).
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    # A timed-out attempt is retried or dead-lettered with reason ``timeout``.
    timeout_s: float = limits.TIMEOUT_S.field(300.0)
    # Attempts including the first; a lease that expires this often dead-letters the job.
    max_attempts: int = limits.MAX_ATTEMPTS.field(5)
    # Lease renewed by the worker's heartbeat; how long a SIGKILLed worker's jobs wait.
    lease_s: float = limits.LEASE_S.field(30.0)
    # Retry delay: full jitter over min(cap, base * multiplier ** (attempt - 1)).
    backoff_base_s: float = limits.BACKOFF_BASE_S.field(1.0)
    backoff_cap_s: float = limits.BACKOFF_CAP_S.field(300.0)
    backoff_multiplier: float = limits.BACKOFF_MULTIPLIER.field(2.0)
    # Completed and cancelled jobs (and their results) expire after this; ids may then be reused.
    # ~250 B per finished job plus its result: an hour at 100 jobs/s is ~90 MB of Redis.
    result_ttl_s: int = limits.RESULT_TTL_S.field(3600)
    # Dead-letter queue bound; the oldest dead letters are dropped (and counted) beyond it.
    dead_max: int = limits.DEAD_MAX.field(10000)
    # Waiting + delayed jobs beyond which enqueue raises QueueFull; None = unbounded.
    max_length: int | None = limits.MAX_LENGTH.field(None)
    # Rate limit: at most rate_limit jobs start per rate_period_s, across every worker
    # (GCRA in the claim script; a full period's jobs may start at once). None: no limit.
    rate_limit: int | None = limits.RATE_LIMIT.field(None)
    rate_period_s: float = limits.RATE_PERIOD_S.field(1.0)
    # At most this many jobs with one concurrency_key hold a lease at once. None: no limit.
    key_concurrency: int | None = limits.KEY_CONCURRENCY.field(None)
    # Lifecycle events to the queue's stream q:{name}:events (Queue.events, sluice events).
    # Off by default: they cost ~20 % more Redis CPU per enqueued job (docs: benchmarks).
    events: bool = False
    # Events kept (XTRIM MAXLEN ~, so a little more); ~150 B each: 10,000 is ~1.5 MB.
    events_max: int = limits.EVENTS_MAX.field(10000)

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
        return {k: repr(v) for k, v in self.model_dump().items() if v is not None}

    @classmethod
    def from_config(cls, fields: Mapping[bytes | str, bytes | str]) -> JobSettings:
        """Parse a config hash like the scripts do: unknown or invalid fields mean the default.

        A hand-edited or newer-version config must not stop workers; the Lua scripts
        already fall back field by field, and Python agrees with them.
        """
        known = cls.model_fields
        values = {}
        for key, value in fields.items():
            name = key.decode() if isinstance(key, bytes) else key
            if name in known:
                values[name] = value.decode() if isinstance(value, bytes) else value
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
            return cls.model_validate({k: v for k, v in values.items() if k not in bad})
