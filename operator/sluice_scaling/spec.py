"""The typed ``JobQueue`` spec that the operator and ``sluice up`` share; the CRD is made from it.

The CRD's OpenAPI schema (``crds/``, the chart's copy) is generated from these
models by ``scripts/gen_crd.py``: each field's docstring is its description
(what ``kubectl explain`` shows), its bounds are the schema's bounds, and the
cross-field rules are written twice, side by side: as CEL
(``x-kubernetes-validations``, for the API server) and as a validator (for
local mode, which has no API server). Field names keep the CRD's camelCase
through aliases; Python code uses snake_case.

Errors are :class:`SpecError` with the field path and the reason, e.g.
``spec.scaling.maxReplicas: must be >= minReplicas (2), got 1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from sluice import limits

from .schedules import check_cron, zone

CEL = "x-kubernetes-validations"  # the CRD's key for CEL rules the API server runs

# Every number has a finite, documented range (the CRD's minimum/maximum, shown in
# the reference). The jobs' and the workers' ranges are sluice.limits' own, the ones
# JobSettings and the worker use, so a spec accepted here is accepted where it lands.
HOUR = limits.HOUR
DAY = limits.DAY
MAX_REPLICAS = 10_000  # per JobQueue; far beyond a Deployment anyone runs
MAX_JOBS = int(limits.MAX_LENGTH.high)  # queue lengths and backlogs


def cel(*rules: tuple[str, str]) -> dict[str, Any]:
    """CEL rules (rule, message) as schema extras; each mirrors a validator next to it."""
    return {CEL: [{"rule": rule, "message": message} for rule, message in rules]}


class _Model(BaseModel):
    # strict: "10" is not 10. The API server's schema refuses it, so local mode
    # (no API server) must too, or the same file means different things.
    # Attribute docstrings are the user-facing descriptions the CRD carries.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        strict=True,
        allow_inf_nan=False,  # .inf and .nan are YAML numbers, never meaningful ones
        use_attribute_docstrings=True,
    )


class SecretKeyRef(_Model):
    """A key in a Secret in the JobQueue's namespace."""

    name: str = Field(min_length=1, max_length=253)
    """Name of the Secret, in the JobQueue's namespace."""
    key: str = Field(min_length=1, max_length=253)
    """Key within the Secret."""


class RedisTLS(_Model):
    """TLS to Redis. A redis:// url is switched to rediss:// when enabled."""

    enabled: bool = False
    """Connect over TLS."""
    ca_secret_ref: SecretKeyRef | None = None
    """A Secret key holding the PEM bundle of the CAs to trust; mounted read-only into the
    workers. Without it the system trust store is used."""
    insecure_skip_verify: bool = False
    """Skip certificate verification. Development only."""


# The scheme and password checks are the validator's; the CRD says the same in a
# pattern and a CEL rule (a schema cannot parse a URL).
_URL_SCHEMA = {
    "pattern": "^(redis|rediss|unix)://",
    **cel(
        (
            "!self.matches('^[a-z]+://[^/@]*:[^/@]+@')",
            "url must not carry a password; use passwordSecretRef or urlSecretRef",
        )
    ),
}


class RedisSpec(_Model):
    """Where the queue lives. Set exactly one of url or urlSecretRef; credentials come only
    from Secrets in the JobQueue's namespace."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            ("has(self.url) != has(self.urlSecretRef)", "set exactly one of url or urlSecretRef")
        )
    )

    url: str | None = Field(default=None, max_length=2048, json_schema_extra=_URL_SCHEMA)
    """Redis URL without a password, e.g. redis://redis.queues.svc:6379/0 (rediss:// for TLS).
    Put the password in passwordSecretRef, or the whole URL in urlSecretRef."""
    url_secret_ref: SecretKeyRef | None = None
    """A Secret key holding the whole Redis URL, password included."""
    username_secret_ref: SecretKeyRef | None = None
    """A Secret key holding the Redis ACL user name (Redis 6+)."""
    password_secret_ref: SecretKeyRef | None = None
    """A Secret key holding the Redis password."""
    tls: RedisTLS = RedisTLS()
    cluster: bool = False
    """The url names a node of a Redis Cluster. Workers and the operator use cluster clients;
    every key of a queue shares its hash tag, so a queue lives in one slot and its scripts run
    on the node that owns it."""

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


_CHILD_LIMITS = "maxJobsPerChild and maxChildMemoryMb need isolation: process"

# CEL cannot read what x-kubernetes-preserve-unknown-fields keeps, so the podTemplate
# declares the few PodSpec fields the restricted Pod Security Standard forbids outright,
# and its rules refuse them at admission. Everything else stays free-form; the
# operator checks the whole standard on the rendered pod (sluice_operator.worker_policy),
# and the chart drops these rules when the operator runs with --allow-privileged-workers.
# The list bounds keep the rules' estimated cost far inside the API server's budget.
_KEEP = "x-kubernetes-preserve-unknown-fields"
_PSS = "worker pods run under the restricted Pod Security Standard"
_CONTAINERS: dict[str, Any] = {
    "type": "array",
    "maxItems": 64,
    "description": "Containers (core/v1 Container); one named worker is merged into Sluice's.",
    "items": {
        "type": "object",
        _KEEP: True,
        "properties": {
            "securityContext": {
                "type": "object",
                _KEEP: True,
                "description": "The container's security context (core/v1 SecurityContext).",
                "properties": {
                    "privileged": {"type": "boolean", "description": "Must not be true."}
                },
            }
        },
    },
}
_HOST = "Must not be true: the host's namespaces are not for workers."
_UNPRIVILEGED = (
    "!has(c.securityContext) || !has(c.securityContext.privileged) || !c.securityContext.privileged"
)
_POD_TEMPLATE_SCHEMA: dict[str, Any] = {
    "properties": {
        "spec": {
            "type": "object",
            _KEEP: True,
            "description": "Fields of the worker pods' spec (core/v1 PodSpec).",
            "properties": {
                "hostNetwork": {"type": "boolean", "description": _HOST},
                "hostPID": {"type": "boolean", "description": _HOST},
                "hostIPC": {"type": "boolean", "description": _HOST},
                "volumes": {
                    "type": "array",
                    "maxItems": 256,
                    "description": "Volumes (core/v1 Volume), added to Sluice's; no hostPath.",
                    "items": {
                        "type": "object",
                        _KEEP: True,
                        "properties": {
                            "hostPath": {
                                "type": "object",
                                _KEEP: True,
                                "description": "Not allowed: a host directory in a worker.",
                            }
                        },
                    },
                },
                "containers": _CONTAINERS,
                "initContainers": _CONTAINERS,
            },
        }
    },
    **cel(
        (
            "!has(self.spec) || ((!has(self.spec.hostNetwork) || !self.spec.hostNetwork)"
            " && (!has(self.spec.hostPID) || !self.spec.hostPID)"
            " && (!has(self.spec.hostIPC) || !self.spec.hostIPC))",
            f"podTemplate.spec.hostNetwork, hostPID and hostIPC must not be true: {_PSS}",
        ),
        (
            "!has(self.spec) || !has(self.spec.volumes)"
            " || self.spec.volumes.all(v, !has(v.hostPath))",
            f"podTemplate.spec.volumes must not use hostPath: {_PSS}",
        ),
        (
            "!has(self.spec) || ((!has(self.spec.containers) || self.spec.containers.all(c,"
            f" {_UNPRIVILEGED})) && (!has(self.spec.initContainers)"
            f" || self.spec.initContainers.all(c, {_UNPRIVILEGED})))",
            f"podTemplate.spec containers must not be privileged: {_PSS}",
        ),
    ),
}


class WorkerSpec(_Model):
    """The worker Deployment's pods."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "self.isolation == 'process' || (!has(self.maxJobsPerChild)"
                " && !has(self.maxChildMemoryMb))",
                _CHILD_LIMITS,
            )
        )
    )

    image: str = Field(min_length=1)
    """Worker image: an application image built FROM the Sluice worker image, with the task
    module on its Python path."""
    tasks: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    """The task registry as module:attribute, e.g. thumbnails.tasks:tasks (a sluice.Tasks
    object)."""
    concurrency: int = Field(default=10, ge=1, le=1000)
    """Jobs one replica runs at once."""
    isolation: Literal["thread", "process"] = "thread"
    """How jobs run: thread (async handlers on the event loop, sync ones in threads) or process
    (sync handlers in child processes, killed on timeout)."""
    resources: dict[str, Any] | None = None
    """The worker container's resources (core/v1 ResourceRequirements)."""
    env: list[dict[str, Any]] = []
    """Extra environment variables (core/v1 EnvVar), appended after the SLUICE_* variables the
    operator sets."""
    pod_template: dict[str, Any] = Field(default={}, json_schema_extra=_POD_TEMPLATE_SCHEMA)
    """Pod template fields merged into the worker pods: metadata (labels, annotations) and spec
    (node selector, tolerations, volumes, sidecars; a container named worker is merged into
    Sluice's own). The pods must meet the restricted Pod Security Standard unless the operator
    runs with --allow-privileged-workers; creating a JobQueue is like creating a Deployment."""
    termination_grace_period_seconds: int = Field(default=330, ge=1, le=DAY)
    """Seconds a stopping worker has to finish its running jobs; must exceed
    jobs.timeoutSeconds."""
    metrics_port: int = Field(default=9090, ge=1024, le=65535)
    """Port of the worker's /metrics, /healthz and /readyz endpoints."""
    max_jobs: int | None = limits.MAX_JOBS.field(None)
    """Recycle workers: a worker exits (code 0) once it has run this many jobs, all finished,
    and Kubernetes starts a fresh one. For tasks that leak memory or file handles."""
    max_jobs_per_child: int | None = limits.MAX_JOBS.field(None)
    """With isolation process: replace a job child after this many jobs."""
    max_child_memory_mb: int | None = limits.MAX_CHILD_MEMORY_MB.field(None)
    """With isolation process: replace a job child whose peak resident memory passed this many
    MB after a job."""

    @model_validator(mode="after")
    def _child_limits(self) -> WorkerSpec:
        child = self.max_jobs_per_child is not None or self.max_child_memory_mb is not None
        if child and self.isolation != "process":
            raise ValueError(_CHILD_LIMITS)
        return self

    def recycling_env(self) -> dict[str, str]:
        """The SLUICE_* variables of the recycling limits that are set (pods and sluice up)."""
        limits = {
            "SLUICE_MAX_JOBS": self.max_jobs,
            "SLUICE_MAX_JOBS_PER_CHILD": self.max_jobs_per_child,
            "SLUICE_MAX_CHILD_MEMORY_MB": self.max_child_memory_mb,
        }
        return {name: str(value) for name, value in limits.items() if value is not None}


class BackoffSpec(_Model):
    """Delay before a retry: a uniform random time up to min(capSeconds, baseSeconds *
    multiplier^(attempt - 1))."""

    base_seconds: float = limits.BACKOFF_BASE_S.field(1.0)
    """Delay bound of the first retry, in seconds."""
    cap_seconds: float = limits.BACKOFF_CAP_S.field(300.0)
    """Largest retry delay, in seconds."""
    multiplier: float = limits.BACKOFF_MULTIPLIER.field(2.0)
    """Growth of the delay bound per attempt."""


class RateLimitSpec(_Model):
    """At most `jobs` jobs start per `periodSeconds`, across every worker of the queue (the claim
    enforces it, GCRA: a period's worth may start at once, then evenly). The autoscaler adds no
    replicas the limit would leave idle."""

    jobs: int = Field(ge=limits.RATE_LIMIT.low, le=limits.RATE_LIMIT.high)
    """Jobs started per period."""
    period_seconds: float = limits.RATE_PERIOD_S.field(1.0)
    """The period, in seconds."""

    @property
    def per_second(self) -> float:
        return self.jobs / self.period_seconds


class JobsSpec(_Model):
    """Defaults for every job of the queue; an enqueue may override some."""

    timeout_seconds: float = limits.TIMEOUT_S.field(300.0)
    """Seconds a job may run before it is cancelled and counted as failed."""
    max_attempts: int = limits.MAX_ATTEMPTS.field(5)
    """Attempts before a job goes to the dead-letter queue."""
    lease_seconds: float = limits.LEASE_S.field(30.0)
    """Lease a worker renews while a job runs; a job whose worker died is retried after at most
    this long."""
    backoff: BackoffSpec = BackoffSpec()
    result_ttl_seconds: int = limits.RESULT_TTL_S.field(3600)
    """Seconds a finished job and its result are kept; an enqueue with the same id is a no-op
    meanwhile. Each costs about 250 bytes of Redis plus its result, so an hour at 100 jobs/s is
    about 90 MB."""
    dead_letter_max_length: int = limits.DEAD_MAX.field(10000)
    """Dead letters kept; the oldest are dropped beyond it."""
    max_queue_length: int | None = limits.MAX_LENGTH.field(None)
    """Jobs the queue may hold before an enqueue is refused (QueueFull). Unbounded when
    unset."""
    events: bool = False
    """Record every job's lifecycle events (enqueued, started, progress, retried, completed,
    dead-lettered, cancelled, ...) in the queue's bounded Redis stream, for `sluice events`,
    dashboards and applications (Queue.events). Off by default: it costs about 20 % more Redis
    CPU per enqueued job and 15 % per completed one. Waiting for a job's result works either
    way."""
    rate_limit: RateLimitSpec | None = None
    """Jobs started per period across every worker; unlimited when unset."""
    concurrency_per_key: int | None = limits.KEY_CONCURRENCY.field(None)
    """At most this many jobs with one concurrency key (enqueue concurrency_key) run at once,
    across every worker; unlimited when unset."""
    events_max_length: int = limits.EVENTS_MAX.field(10000)
    """Events the stream keeps (trimmed in blocks, so a few more); about 150 bytes of Redis
    each, so 10,000 is about 1.5 MB."""


class FallbackSpec(_Model):
    """What to do while the queue's stats cannot be read."""

    failure_threshold: int = Field(default=3, ge=1, le=1000)
    """Consecutive failed reads before the fallback applies."""
    replicas: int | None = Field(default=None, ge=0, le=MAX_REPLICAS)
    """Replicas to hold after the threshold. Unset keeps the current count (never scales down
    on missing data)."""


class ScaleUpSpec(_Model):
    """How fast replicas are added: the larger of a pod count and a percentage of the current
    replicas per decision, as the HPA's scale-up policies. The demand model already says how
    many replicas the queue needs; the bound only stops one wild reading from asking for all
    of them."""

    max_step: int = Field(default=10, ge=1, le=MAX_REPLICAS)
    """Replicas one decision may add, at least (before any job finished, at most)."""
    percent: int = Field(default=900, ge=0, le=10000)
    """Percent of the current replicas one decision may add, when more than maxStep: 900 lets
    a flood reach its target within two polls of the service time being known."""


class ScaleDownSpec(_Model):
    """Scale-down follows the highest sustained recommendation of a window, by the larger of a
    pod count and a percentage per decision; idle workers are removed first."""

    # Shorter than the HPA's 300 s: scale-down removes idle pods first and busy
    # ones drain, so giving capacity back early costs no work. In the simulator,
    # 30 s / 4 cut replica-seconds 10-20 % against 60 s / 2 at the same latency.
    stabilization_window_seconds: float = Field(default=30.0, ge=0, le=HOUR)
    """Seconds of arrival-based recommendations whose highest is used to scale down (catch-up
    on a backlog is held only until its replicas could start). Short by default because idle
    pods go first and busy ones drain."""
    max_step: int = Field(default=4, ge=1, le=MAX_REPLICAS)
    """Replicas one decision may remove, at least."""
    percent: int = Field(default=50, ge=0, le=100)
    """Percent of the current replicas one decision may remove, when more than maxStep. Idle
    pods of a queue that may go to zero leave at once."""


class SaturationSpec(_Model):
    """The saturation guard: when more ready replicas did not raise the completion rate (a
    shared dependency is the bottleneck), hold the replicas near the count that gave that rate,
    say so in the decision and the Saturated condition, and try again later."""

    enabled: bool = True
    """Watch for replicas that add no throughput."""
    retry_seconds: float = Field(default=300.0, ge=30, le=DAY)
    """Seconds before a step above the held count is tried again."""


class ScalingSpec(_Model):
    """How the worker replicas follow the queue."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            ("self.minReplicas <= self.maxReplicas", "maxReplicas must be >= minReplicas"),
            (
                "!has(self.fallback.replicas) || (self.minReplicas <= self.fallback.replicas"
                " && self.fallback.replicas <= self.maxReplicas)",
                "fallback.replicas must lie within [minReplicas, maxReplicas]",
            ),
        )
    )

    min_replicas: int = Field(default=0, ge=0, le=MAX_REPLICAS)
    """Fewest replicas; 0 lets an idle queue scale to zero."""
    max_replicas: int = Field(default=10, ge=0, le=MAX_REPLICAS)
    """Most replicas. Applied at once, even while paused or while the queue's stats cannot be
    read."""
    polling_interval_seconds: float = Field(default=5.0, ge=1, le=300)
    """Seconds between two reads of the queue's stats and decisions."""
    latency_target_seconds: float = Field(default=30.0, gt=0, le=DAY)
    """How long a job may wait before it starts. Replicas are added to drain the backlog within
    it, and when the oldest job has waited longer."""
    target_utilization: float = Field(default=0.9, gt=0, le=1)
    """Highest share of the workers' slots that the arrival rate may keep busy; the rest is
    room for the rate's estimation error. A queueing model (Erlang C) asks for more room where
    waits would exceed latencyTargetSeconds (few slots, long jobs)."""
    activation_backlog: int = Field(default=1, ge=1, le=MAX_JOBS)
    """Waiting jobs that wake a queue scaled to zero. Fewer wake it too once the oldest has
    waited longer than latencyTargetSeconds."""
    cold_start_backlog_per_replica: int = Field(default=10, ge=1, le=MAX_JOBS)
    """Waiting jobs per replica to assume while no service time has been measured yet."""
    scale_up: ScaleUpSpec = ScaleUpSpec()
    scale_down: ScaleDownSpec = ScaleDownSpec()
    worker_startup_seconds: float = Field(default=30.0, ge=0, le=3600)
    """Seconds from asking for a replica to its worker taking jobs (scheduling, image pull,
    start), until the policy has timed a scale-up itself. Delayed jobs and cron fires due within
    this plus pollingIntervalSeconds count as demand, so a worker is ready when they fall due."""
    idle_seconds_before_zero: float | None = Field(default=None, ge=0, le=DAY)
    """Seconds with nothing waiting and nothing in flight before scaling to zero (when
    minReplicas is 0), whatever a cold start costs the next job. Unset: zero as soon as the
    queue is idle, if arrivals are sparser than one per start-up and a cold start (the measured
    start-up plus half a polling interval) keeps the next job within latencyTargetSeconds;
    otherwise after 120 s idle."""
    saturation: SaturationSpec = SaturationSpec()
    fallback: FallbackSpec = FallbackSpec()
    paused: bool = False
    """Stop scaling and leave the replica count as it is (hand edits included), held within
    minReplicas and maxReplicas."""

    @property
    def prescale_horizon_seconds(self) -> float:
        """How far ahead work is seen: a replica asked for now is ready by then, at the latest
        one poll late."""
        return self.worker_startup_seconds + self.polling_interval_seconds

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


# A schema cannot evaluate cron or look a zone up; these patterns refuse the malformed at
# `kubectl apply`, and the validators (run by the operator and local mode) the rest.
_CRON_PATTERN = r"^\s*([0-9A-Za-z*?/,#-]+\s+){4,5}[0-9A-Za-z*?/,#-]+\s*$"
_ZONE_PATTERN = r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$"


class ScheduleSpec(_Model):
    """A recurring job: enqueued at every time its cron expression matches, by the operator
    (or sluice up), exactly once per fire however many operators run."""

    name: str = Field(max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    """Name of the schedule, unique in the queue; part of each fire's job id
    (sched:NAME:20260102T030405Z)."""
    cron: str = Field(max_length=256, pattern=_CRON_PATTERN)
    """Cron expression: five fields (minute hour day-of-month month day-of-week), or six with
    seconds first. Names (MON, JAN), ranges, steps, L and # as in Debian cron."""
    time_zone: str = Field(default="UTC", max_length=64, pattern=_ZONE_PATTERN)
    """IANA time zone the expression is read in, e.g. Europe/Berlin; daylight saving time
    as cron handles it."""
    task: str = Field(min_length=1, max_length=200)
    """Task each fire enqueues."""
    payload: Any = Field(
        default=None, json_schema_extra={"x-kubernetes-preserve-unknown-fields": True}
    )
    """Payload of each fire's job (any JSON value)."""
    catch_up: Literal["Skip", "RunLast"] = "Skip"
    """Fires missed while no operator ran (older than two polling intervals, at least 10
    s): Skip drops them, RunLast runs the latest of them once."""

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value


class JobQueueSpec(_Model):
    """The queue, its workers, its jobs' defaults and how replicas follow the queue."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "self.jobs.timeoutSeconds < double(self.worker.terminationGracePeriodSeconds)",
                "jobs.timeoutSeconds must be below worker.terminationGracePeriodSeconds so a"
                " draining worker can finish its jobs",
            )
        )
    )

    queue_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
    """Name of the queue in Redis (its keys are q:{queueName}:*). Defaults to the JobQueue's
    own name; set it to share a queue with producers that use another name."""
    redis: RedisSpec
    worker: WorkerSpec
    jobs: JobsSpec = JobsSpec()
    scaling: ScalingSpec = ScalingSpec()
    schedules: list[ScheduleSpec] = Field(
        default=[],
        max_length=100,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Recurring jobs (cron) the operator enqueues into the queue."""
    delete_policy: Literal["Retain", "Purge"] = "Retain"
    """What happens to the queue's data in Redis when the JobQueue is deleted: Retain keeps
    it, Purge deletes every key of the queue."""

    @field_validator("schedules")
    @classmethod
    def _unique_names(cls, value: list[ScheduleSpec]) -> list[ScheduleSpec]:
        names = [s.name for s in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"schedule names must be unique; repeated: {', '.join(twice)}")
        return value

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
