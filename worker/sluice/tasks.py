"""Task registry and the context a handler receives.

A handler is a plain function, sync or async, of one argument: the
:class:`JobContext`. The registry only maps names to handlers; how a handler
runs (inline on the event loop, in a thread, in a child process) is the
worker's business, so the same module serves producers (which never import the
worker) and workers.

:meth:`JobContext.progress` never blocks and never raises: it hands the value
to the worker, which sends it to Redis off the handler's path, so a handler may
report progress from a thread, a coroutine or a child process alike.
"""

from __future__ import annotations

import importlib
import inspect
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, overload

Handler = Callable[["JobContext"], Any]
H = TypeVar("H", bound=Handler)
ProgressSink = Callable[["JobContext", float, str], None]


def _drop_progress(ctx: JobContext, pct: float, message: str) -> None:
    """Default sink (a context made outside a worker, e.g. in a unit test)."""


class JobContext:
    """What a handler knows about the job it runs; its only handle on the worker."""

    __slots__ = (
        "_cancelled",
        "_sink",
        "attempt",
        "deadline",
        "enqueued_at",
        "id",
        "max_attempts",
        "payload",
        "task",
    )

    def __init__(
        self,
        id: str,
        task: str,
        payload: Any,
        *,
        attempt: int = 1,
        max_attempts: int = 1,
        deadline: float = float("inf"),
        enqueued_at: float = 0.0,
        sink: ProgressSink = _drop_progress,
    ) -> None:
        self.id = id
        self.task = task
        self.payload = payload  # decoded JSON
        self.attempt = attempt  # 1 for the first run
        self.max_attempts = max_attempts
        self.deadline = deadline  # wall clock (time.time()) when the attempt times out
        self.enqueued_at = enqueued_at  # Redis time, seconds since the epoch
        self._cancelled = False
        self._sink = sink

    @property
    def cancelled(self) -> bool:
        """True once the job was cancelled, timed out, or its lease was lost: stop early."""
        return self._cancelled

    @property
    def remaining(self) -> float:
        """Seconds left before the timeout (negative once it passed)."""
        return self.deadline - time.time()

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    def progress(self, pct: float, message: str = "") -> None:
        """Report how far the job got (0-100), shown by ``sluice job``; cheap and non-blocking.

        Clamped to 0-100; a NaN is dropped (the handler's bug must not fail its job).
        """
        value = float(pct)
        if not math.isnan(value):
            self._sink(self, min(100.0, max(0.0, value)), message)

    def cancel(self) -> None:
        """Set by the worker; a handler only reads :attr:`cancelled`."""
        self._cancelled = True

    def __repr__(self) -> str:
        return f"JobContext(id={self.id!r}, task={self.task!r}, attempt={self.attempt})"


# on_success(ctx, result) and on_failure(ctx, reason, error): plain or async functions,
# run by the worker once Redis has recorded the outcome (see sluice.worker.hooks).
SuccessHook = Callable[[JobContext, Any], Any]
FailureHook = Callable[[JobContext, str, str | None], Any]


@dataclass(frozen=True, slots=True)
class Task:
    """A registered handler, and its hooks."""

    name: str
    fn: Handler
    is_async: bool
    on_success: SuccessHook | None = None
    on_failure: FailureHook | None = None


class Tasks:
    """Name -> handler registry: ``tasks = Tasks()``, then ``@tasks.task("resize")``."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    @overload
    def task(self, name: H, /) -> H: ...

    @overload
    def task(
        self,
        name: str | None = None,
        /,
        *,
        on_success: SuccessHook | None = None,
        on_failure: FailureHook | None = None,
    ) -> Callable[[H], H]: ...

    def task(
        self,
        name: str | H | None = None,
        /,
        *,
        on_success: SuccessHook | None = None,
        on_failure: FailureHook | None = None,
    ) -> H | Callable[[H], H]:
        """Register a handler under ``name`` (default: the function's name).

        ``on_success(ctx, result)`` runs in the worker once the job is recorded as
        completed; ``on_failure(ctx, reason, error)`` once it is dead-lettered.
        """
        if callable(name):
            return self._register(name.__name__, name)
        explicit = name

        def decorate(fn: H) -> H:
            return self._register(explicit or fn.__name__, fn, on_success, on_failure)

        return decorate

    def add(
        self,
        name: str,
        fn: Handler,
        *,
        on_success: SuccessHook | None = None,
        on_failure: FailureHook | None = None,
    ) -> None:
        """Register without a decorator."""
        self._register(name, fn, on_success, on_failure)

    def _register(
        self,
        name: str,
        fn: H,
        on_success: SuccessHook | None = None,
        on_failure: FailureHook | None = None,
    ) -> H:
        if not name:
            raise ValueError("a task needs a non-empty name")
        if name in self._tasks:
            raise ValueError(f"task {name!r} is registered twice")
        for hook in (on_success, on_failure):
            if hook is not None and not callable(hook):
                raise TypeError(f"task {name!r}: hook {hook!r} is not callable")
        is_async = inspect.iscoroutinefunction(fn)
        self._tasks[name] = Task(name, fn, is_async, on_success, on_failure)
        return fn

    def get(self, name: str) -> Task | None:
        return self._tasks.get(name)

    def names(self) -> list[str]:
        return sorted(self._tasks)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)


class TasksNotFound(ValueError):
    """``pkg.module:attr`` does not name a :class:`Tasks`."""


def load_tasks(ref: str) -> Tasks:
    """Import the registry named by ``pkg.module:attr`` (``SLUICE_TASKS``)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise TasksNotFound(f"tasks must look like 'pkg.module:attr', got {ref!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a broken module is a configuration error, whatever it raised
        raise TasksNotFound(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
    found = getattr(module, attr, None)
    if not isinstance(found, Tasks):
        raise TasksNotFound(f"{ref!r} is {type(found).__name__}, not a sluice.Tasks")
    return found
