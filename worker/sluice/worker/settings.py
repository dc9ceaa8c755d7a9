"""How a worker process runs: from CLI flags over ``SLUICE_*`` environment variables.

The operator configures workers through the environment (one variable per
field, ``SLUICE_`` + the upper-cased name); flags win for humans at a
terminal. Job settings (timeouts, attempts, backoff, lease) are not here: they
belong to the queue and come from its config in Redis, so every worker of a
queue agrees and the operator can change them without a restart.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from sluice import limits
from sluice.protocol.keys import check_queue_name

ENV_PREFIX = "SLUICE_"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def default_worker_id() -> str:
    """``hostname:pid``: unique on one machine; the operator sets the pod name instead."""
    return f"{socket.gethostname()}:{os.getpid()}"


class WorkerSettings(BaseModel):
    """One worker process's settings; each field is also ``SLUICE_<FIELD>``."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    queue: str = "default"
    # The task registry, ``pkg.module:attr``.
    tasks: str | None = None
    # Jobs at once. Also the claim batch bound: a round trip claims at most the free slots.
    concurrency: int = limits.CONCURRENCY.field(10)
    redis_url: str = DEFAULT_REDIS_URL
    redis_username: str | None = None
    redis_password: SecretStr | None = None
    redis_tls_ca_file: str | None = None
    redis_tls_insecure: bool = False
    # A Redis Cluster: the URL names any node; each queue lives in its hash tag's slot.
    redis_cluster: bool = False
    # Heartbeats carry it (the autoscaler protects busy pods by it): the pod name in Kubernetes.
    worker_id: str = Field(default_factory=default_worker_id, min_length=1)
    # thread: sync handlers in threads (a timed-out one is abandoned, not stopped);
    # process: sync handlers in child processes that are killed on timeout.
    isolation: Literal["thread", "process"] = "thread"
    # Recycling (a leak-prone task's remedy, as rq's --max-jobs and Celery's
    # max_tasks_per_child): exit 0 after this many jobs, all finished; Kubernetes (or
    # `sluice up`) starts a fresh worker. None: never.
    max_jobs: int | None = limits.MAX_JOBS.field(None)
    # With process isolation: replace a child after this many jobs, or after a job that
    # left its peak RSS above this many MB. None: never.
    max_jobs_per_child: int | None = limits.MAX_JOBS.field(None)
    max_child_memory_mb: int | None = limits.MAX_CHILD_MEMORY_MB.field(None)
    # On SIGTERM: how long in-flight jobs may finish before they are handed back.
    shutdown_grace_seconds: float = limits.SHUTDOWN_GRACE_S.field(25.0)
    # /metrics, /healthz, /readyz; 0 = off.
    metrics_port: int = limits.METRICS_PORT.field(0)
    # Where they listen: every interface in a pod (the kubelet probes the pod's IP);
    # `sluice up` sets 127.0.0.1, so a laptop does not publish its queue's metrics.
    metrics_host: str = "0.0.0.0"  # noqa: S104  (a pod's probes come from outside it)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("queue")
    @classmethod
    def _queue_name(cls, value: str) -> str:
        return check_queue_name(value)

    @model_validator(mode="after")
    def _child_limits(self) -> WorkerSettings:
        child = self.max_jobs_per_child is not None or self.max_child_memory_mb is not None
        if child and self.isolation != "process":
            raise ValueError(
                "max_jobs_per_child and max_child_memory_mb need isolation 'process' "
                "(threads cannot be replaced)"
            )
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def load(
        cls, flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> WorkerSettings:
        """Environment first, then every flag that was given (not None) on top."""
        values: dict[str, Any] = from_env(os.environ if environ is None else environ)
        values.update({k: v for k, v in (flags or {}).items() if v is not None})
        return cls.model_validate(values)

    def redis_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`sluice.connection.connect`."""
        password = self.redis_password.get_secret_value() if self.redis_password else None
        return {
            "username": self.redis_username,
            "password": password,
            "tls_ca_file": self.redis_tls_ca_file,
            "tls_insecure": self.redis_tls_insecure,
            "cluster": self.redis_cluster,
        }


def from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The fields set in ``environ`` (empty values count as unset)."""
    values = {}
    for name in WorkerSettings.model_fields:
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw:
            values[name] = raw
    return values
