"""How a worker process runs: from CLI flags over ``SLUICE_*`` environment variables.

The operator configures workers through the environment (one variable per
field, ``SLUICE_`` + the upper-cased name); flags win for humans at a
terminal. Job settings (timeouts, attempts, backoff, lease) are not here: they
belong to the queue and come from its config in Redis, so every worker of a
queue agrees and the operator can change them without a restart.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sluice import limits
from sluice.protocol.keys import check_queue_name
from sluice.settings_fields import SettingsError, build, check, flag, number, text

ENV_PREFIX = "SLUICE_"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def default_worker_id() -> str:
    """``hostname:pid``: unique on one machine; the operator sets the pod name instead."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, kw_only=True)
class WorkerSettings:
    """One worker process's settings; each field is also ``SLUICE_<FIELD>``.

    A plain dataclass checked by :mod:`sluice.settings_fields` (not pydantic: a
    worker's start-up does not pay for importing it).
    """

    queue: str = text("default", also=check_queue_name)
    # The task registry, ``pkg.module:attr``.
    tasks: str | None = text(None)
    # Jobs at once. Also the claim batch bound: a round trip claims at most the free slots.
    concurrency: int = number(limits.CONCURRENCY, 10)
    redis_url: str = text(DEFAULT_REDIS_URL)
    redis_username: str | None = text(None)
    redis_password: str | None = text(None, secret=True)
    redis_tls_ca_file: str | None = text(None)
    redis_tls_insecure: bool = flag(False)
    # A Redis Cluster: the URL names any node; each queue lives in its hash tag's slot.
    redis_cluster: bool = flag(False)
    # Heartbeats carry it (the autoscaler protects busy pods by it): the pod name in Kubernetes.
    worker_id: str = text(factory=default_worker_id, non_empty=True)
    # thread: sync handlers in threads (a timed-out one is abandoned, not stopped);
    # process: sync handlers in child processes that are killed on timeout.
    isolation: Literal["thread", "process"] = text("thread", choices=("thread", "process"))
    # Recycling (a leak-prone task's remedy, as rq's --max-jobs and Celery's
    # max_tasks_per_child): exit 0 after this many jobs, all finished; Kubernetes (or
    # `sluice up`) starts a fresh worker. None: never.
    max_jobs: int | None = number(limits.MAX_JOBS, None)
    # With process isolation: replace a child after this many jobs, or after a job that
    # left its peak RSS above this many MB. None: never.
    max_jobs_per_child: int | None = number(limits.MAX_JOBS, None)
    max_child_memory_mb: int | None = number(limits.MAX_CHILD_MEMORY_MB, None)
    # On SIGTERM: how long in-flight jobs may finish before they are handed back.
    shutdown_grace_seconds: float = number(limits.SHUTDOWN_GRACE_S, 25.0)
    # /metrics, /healthz, /readyz; 0 = off.
    metrics_port: int = number(limits.METRICS_PORT, 0)
    # Where they listen: every interface in a pod (the kubelet probes the pod's IP);
    # `sluice up` sets 127.0.0.1, so a laptop does not publish its queue's metrics.
    metrics_host: str = text("0.0.0.0")  # noqa: S104  (a pod's probes come from outside it)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = text(
        "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"), upper=True
    )
    log_format: Literal["text", "json"] = text("text", choices=("text", "json"))

    def __post_init__(self) -> None:
        check(self)
        child = [
            name
            for name in ("max_jobs_per_child", "max_child_memory_mb")
            if getattr(self, name) is not None
        ]
        if child and self.isolation != "process":
            why = "child limits need isolation 'process' (threads cannot be replaced)"
            raise SettingsError([f"{name}: {why}" for name in child])

    @classmethod
    def load(
        cls, flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> WorkerSettings:
        """Environment first, then every flag that was given (not None) on top.

        Raises SettingsError (a ValueError) naming every bad or unknown field and why.
        """
        texts = from_env(os.environ if environ is None else environ)
        given = {k: v for k, v in (flags or {}).items() if v is not None}
        return build(cls, given, texts)

    def redis_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`sluice.connection.connect`."""
        return {
            "username": self.redis_username,
            "password": self.redis_password,
            "tls_ca_file": self.redis_tls_ca_file,
            "tls_insecure": self.redis_tls_insecure,
            "cluster": self.redis_cluster,
        }


def from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The fields set in ``environ`` (empty values count as unset)."""
    values = {}
    for field in dataclasses.fields(WorkerSettings):
        name = field.name
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw:
            values[name] = raw
    return values
