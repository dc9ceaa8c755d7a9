"""Typed ``JobQueue`` spec: the one model the operator and ``sluice up`` share.

The CRD's OpenAPI schema (``crds/``) and these models describe the same
fields; the CRD rejects what it can at admission, and these models re-check
everything (plus what a schema cannot say) so local mode gives the same
answers without an API server. Field names keep the CRD's camelCase through
aliases; Python code uses snake_case.

Errors are :class:`SpecError` with the field path and the reason, e.g.
``spec.scaling.maxReplicas: must be >= minReplicas (2), got 1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel


class _Model(BaseModel):
    # strict: "10" is not 10. The API server's schema refuses it, so local mode
    # (no API server) must too, or the same file means different things.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, strict=True
    )


class SecretKeyRef(_Model):
    """A key in a Secret in the JobQueue's namespace."""

    name: str = Field(min_length=1, max_length=253)
    key: str = Field(min_length=1, max_length=253)


class RedisTLS(_Model):
    enabled: bool = False
    ca_secret_ref: SecretKeyRef | None = None  # PEM bundle to trust
    insecure_skip_verify: bool = False  # development only: no certificate check


class RedisSpec(_Model):
    """Where the queue lives. Credentials come only from Secrets."""

    url: str | None = Field(default=None, max_length=2048)  # redis://host:6379/0, no password
    url_secret_ref: SecretKeyRef | None = None  # the whole URL, password included
    username_secret_ref: SecretKeyRef | None = None  # Redis 6 ACL user
    password_secret_ref: SecretKeyRef | None = None
    tls: RedisTLS = RedisTLS()
    cluster: bool = False  # a Redis Cluster: the url names any node

    @model_validator(mode="after")
    def _one_source(self) -> RedisSpec:
        if (self.url is None) == (self.url_secret_ref is None):
            raise ValueError("set exactly one of url or urlSecretRef")
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in ("redis", "rediss", "unix"):
                raise ValueError(f"url scheme must be redis, rediss or unix, got {parts.scheme!r}")
            if parts.password:
                raise ValueError(
                    "url must not carry a password; use passwordSecretRef or urlSecretRef"
                )
        return self


class WorkerSpec(_Model):
    """The worker Deployment's pods."""

    image: str = Field(min_length=1)
    tasks: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")  # module:attribute
    concurrency: int = Field(default=10, ge=1, le=1000)  # jobs at once per replica
    isolation: Literal["thread", "process"] = "thread"  # process: timed-out sync jobs are killed
    resources: dict[str, Any] | None = None  # core/v1 ResourceRequirements
    env: list[dict[str, Any]] = []  # core/v1 EnvVar, appended after Sluice's own
    pod_template: dict[str, Any] = {}  # metadata + spec fields merged into the pod template
    termination_grace_period_seconds: int = Field(default=330, ge=1, le=86400)
    metrics_port: int = Field(default=9090, ge=1024, le=65535)


class BackoffSpec(_Model):
    """Retry delay: full jitter over min(cap, base * multiplier ** (attempt - 1))."""

    base_seconds: float = Field(default=1.0, gt=0)
    cap_seconds: float = Field(default=300.0, gt=0)
    multiplier: float = Field(default=2.0, ge=1)


class JobsSpec(_Model):
    """Defaults for every job of the queue; an enqueue may override some."""

    timeout_seconds: float = Field(default=300.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=1000)
    lease_seconds: float = Field(default=30.0, ge=1)  # heartbeat-renewed; SIGKILL recovery time
    backoff: BackoffSpec = BackoffSpec()
    result_ttl_seconds: int = Field(default=3600, ge=1)  # finished jobs then expire
    dead_letter_max_length: int = Field(default=10000, ge=1)  # oldest trimmed beyond
    max_queue_length: int | None = Field(default=None, ge=1)  # enqueue raises QueueFull beyond


class FallbackSpec(_Model):
    """What to do while metrics cannot be read."""

    failure_threshold: int = Field(default=3, ge=1)  # consecutive failed polls
    replicas: int | None = Field(default=None, ge=0)  # held after the threshold; None: keep


class ScaleUpSpec(_Model):
    max_step: int = Field(default=10, ge=1)  # replicas added per decision at most


class ScaleDownSpec(_Model):
    # Shorter than the HPA's 300 s: scale-down removes idle pods first and busy
    # ones drain, so giving capacity back early costs no work. In the simulator,
    # 30 s / 4 cut replica-seconds 10-20 % against 60 s / 2 at the same latency.
    stabilization_window_seconds: float = Field(default=30.0, ge=0)
    max_step: int = Field(default=4, ge=1)  # replicas removed per decision at most


class ScalingSpec(_Model):
    """How replicas follow the queue."""

    min_replicas: int = Field(default=0, ge=0)
    max_replicas: int = Field(default=10, ge=0)
    polling_interval_seconds: float = Field(default=5.0, ge=1, le=300)
    latency_target_seconds: float = Field(default=30.0, gt=0)  # how long a job may wait
    target_utilization: float = Field(default=0.8, gt=0, le=1)  # busy share of capacity
    activation_backlog: int = Field(default=1, ge=1)  # jobs that wake a queue at zero
    cold_start_backlog_per_replica: int = Field(default=10, ge=1)  # before service time is known
    scale_up: ScaleUpSpec = ScaleUpSpec()
    scale_down: ScaleDownSpec = ScaleDownSpec()
    idle_seconds_before_zero: float = Field(default=120.0, ge=0)
    fallback: FallbackSpec = FallbackSpec()
    paused: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> ScalingSpec:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"maxReplicas ({self.max_replicas}) must be >= minReplicas ({self.min_replicas})"
            )
        fb = self.fallback.replicas
        if fb is not None and not self.min_replicas <= fb <= self.max_replicas:
            raise ValueError(f"fallback.replicas ({fb}) must lie within [minReplicas, maxReplicas]")
        return self


class JobQueueSpec(_Model):
    """``JobQueue.spec``."""

    queue_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
    redis: RedisSpec
    worker: WorkerSpec
    jobs: JobsSpec = JobsSpec()
    scaling: ScalingSpec = ScalingSpec()
    delete_policy: Literal["Retain", "Purge"] = "Retain"  # Redis data on JobQueue delete

    @model_validator(mode="after")
    def _grace_covers_timeout(self) -> JobQueueSpec:
        grace = self.worker.termination_grace_period_seconds
        if self.jobs.timeout_seconds >= grace:
            raise ValueError(
                f"jobs.timeoutSeconds ({self.jobs.timeout_seconds:g}) must be below "
                f"worker.terminationGracePeriodSeconds ({grace}) so a draining worker can finish"
            )
        return self


class SpecError(ValueError):
    """An invalid JobQueue spec; each problem names its field and reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def _path(loc: tuple[int | str, ...]) -> str:
    out = "spec"
    for item in loc:
        out += f"[{item}]" if isinstance(item, int) else f".{item}"
    return out


def _plain(value: Any) -> Any:
    """Kopf hands out read-only Mapping views; strict models take plain dicts."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def parse_spec(raw: Mapping[str, Any]) -> JobQueueSpec:
    """Validate a JobQueue ``spec`` mapping, raising :class:`SpecError`."""
    try:
        return JobQueueSpec.model_validate(_plain(raw))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{_path(tuple(err['loc']))}: {msg}")
        raise SpecError(problems) from exc
