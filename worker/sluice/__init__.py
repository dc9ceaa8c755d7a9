"""Sluice: a reliable Redis job queue whose workers an operator autoscales.

This package is what worker images run and what applications import to
enqueue. It never imports Kopf or a Kubernetes client, so the worker image
stays slim; the operator lives in :mod:`sluice_operator`.
"""

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
from sluice.handle import AsyncJobHandle, JobHandle
from sluice.job_settings import JobSettings
from sluice.jobinfo import JobInfo
from sluice.queue import AsyncQueue, Queue
from sluice.stats import Priority, QueueStats
from sluice.tasks import JobContext, Tasks

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
