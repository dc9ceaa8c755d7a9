"""The worker runtime: :class:`Worker` runs one queue's jobs; :func:`serve` is ``sluice worker``."""

from sluice.worker.runner import Worker
from sluice.worker.serve import serve
from sluice.worker.settings import WorkerSettings

__all__ = ["Worker", "WorkerSettings", "serve"]
