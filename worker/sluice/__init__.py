"""Sluice: a reliable Redis job queue whose workers an operator autoscales.

This package is what worker images run and what applications import to
enqueue. It never imports Kopf or a Kubernetes client, so the worker image
stays slim; the operator lives in :mod:`sluice_operator`.

The producer API (Queue, JobHandle, JobInfo, ...) is imported on first use
(PEP 562): ``sluice worker`` imports this package too, and every module it
does not need delays each scaled-up pod's first claim.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sluice._version import __version__
from sluice.errors import (
    EventsMissed,
    Fail,
    JobCancelled,
    JobDeadLettered,
    JobFailed,
    JobNotFound,
    QueueFull,
    RedisRefused,
    RedisUnavailable,
    ResultExpired,
    Retry,
    SluiceError,
    WaitTimeout,
)

if TYPE_CHECKING:
    from sluice.handle import AsyncJobHandle, JobHandle
    from sluice.job_settings import JobSettings
    from sluice.jobinfo import JobInfo
    from sluice.queue import AsyncQueue, Queue
    from sluice.stats import Priority, QueueStats
    from sluice.tasks import JobContext, Tasks

_LAZY = {
    "AsyncJobHandle": "sluice.handle",
    "JobHandle": "sluice.handle",
    "JobSettings": "sluice.job_settings",
    "JobInfo": "sluice.jobinfo",
    "AsyncQueue": "sluice.queue",
    "Queue": "sluice.queue",
    "Priority": "sluice.stats",
    "QueueStats": "sluice.stats",
    "JobContext": "sluice.tasks",
    "Tasks": "sluice.tasks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sluice' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AsyncJobHandle",
    "AsyncQueue",
    "EventsMissed",
    "Fail",
    "JobCancelled",
    "JobContext",
    "JobDeadLettered",
    "JobFailed",
    "JobHandle",
    "JobInfo",
    "JobNotFound",
    "JobSettings",
    "Priority",
    "Queue",
    "QueueFull",
    "QueueStats",
    "RedisRefused",
    "RedisUnavailable",
    "ResultExpired",
    "Retry",
    "SluiceError",
    "Tasks",
    "WaitTimeout",
    "__version__",
]
