"""Run one worker process until SIGTERM/SIGINT: what ``sluice worker`` calls."""

from __future__ import annotations

import asyncio

from sluice.worker import logs
from sluice.worker.runner import Worker
from sluice.worker.settings import WorkerSettings


async def _main(worker: Worker) -> None:
    worker.install_signal_handlers()
    await worker.run()


def serve(settings: WorkerSettings) -> None:
    """Log setup, load the tasks, work until a signal, drain, return."""
    logs.setup(settings.log_level, settings.log_format)
    worker = Worker(settings)
    asyncio.run(_main(worker))
