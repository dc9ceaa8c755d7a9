"""Sluice: a reliable Redis job queue whose workers an operator autoscales.

This package is what worker images run and what applications import to
enqueue. It never imports Kopf or a Kubernetes client, so the worker image
stays slim; the operator lives in :mod:`sluice_operator`.
"""

from sluice._version import __version__
from sluice.errors import (
    Fail,
    JobNotFound,
    QueueFull,
    RedisRefused,
    RedisUnavailable,
    Retry,
    SluiceError,
)
from sluice.job_settings import JobSettings
from sluice.jobinfo import JobInfo
from sluice.queue import AsyncQueue, Queue
from sluice.stats import Priority, QueueStats
from sluice.tasks import JobContext, Tasks

__all__ = [
    "AsyncQueue",
    "Fail",
    "JobContext",
    "JobInfo",
    "JobNotFound",
    "JobSettings",
    "Priority",
    "Queue",
    "QueueFull",
    "QueueStats",
    "RedisRefused",
    "RedisUnavailable",
    "Retry",
    "SluiceError",
    "Tasks",
    "__version__",
]
