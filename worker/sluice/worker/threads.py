"""Daemon threads for sync handlers, results delivered to the event loop.

Not :class:`concurrent.futures.ThreadPoolExecutor`: its threads are joined at
interpreter exit, so one sync handler stuck past its timeout would keep a
drained worker from exiting. These threads are daemons, and the pool grows
when every thread is busy: a handler abandoned after a timeout keeps its
thread, and the next job gets a new one instead of waiting behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

_Item = tuple[Callable[[Any], Any], Any, "asyncio.Future[Any]"] | None


class DaemonThreads:
    """``await pool.run(fn, arg)`` runs ``fn(arg)`` in a daemon thread."""

    def __init__(self, name: str = "sluice-job") -> None:
        self._name = name
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._busy = 0  # submitted and not yet finished (queued or running)

    def run(self, fn: Callable[[Any], Any], arg: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._busy += 1
            grow = self._busy > self._threads
            if grow:
                self._threads += 1
        if grow:
            threading.Thread(
                target=self._serve, name=f"{self._name}-{self._threads}", daemon=True
            ).start()
        self._queue.put((fn, arg, future))
        return future

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, arg, future = item
            try:
                _deliver(future, fn(arg), None)
            except BaseException as exc:  # handed to the awaiting coroutine, which decides
                _deliver(future, None, exc)
            finally:
                with self._lock:
                    self._busy -= 1

    def close(self) -> None:
        """Let idle threads end; busy ones end with their job (or the process)."""
        with self._lock:
            count, self._threads = self._threads, 0
        for _ in range(count):
            self._queue.put(None)


def _deliver(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    def settle() -> None:
        if future.done():  # abandoned (timeout, cancel, shutdown): nobody is waiting
            return
        if exc is None:
            future.set_result(result)
        else:
            future.set_exception(exc)

    with contextlib.suppress(RuntimeError):  # the loop is closed: the worker has exited
        future.get_loop().call_soon_threadsafe(settle)
