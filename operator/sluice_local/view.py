"""How ``sluice up`` shows a queue: a live terminal panel, plain lines, or JSON lines.

Every view takes the same :class:`~sluice_local.status.Status` per
poll. The live panel (rich) redraws in place: queue figures, replicas against
the desired count with the decision's reason, and sparklines of the backlog
and the replicas over the last polls. Without a terminal the view falls back
to one plain line per poll; ``--json`` prints one JSON object per line, for
scripts.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict
from typing import Protocol, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .processes import WorkerExit
from .status import Status, Summary

BARS = "▁▂▃▄▅▆▇█"
HISTORY = 120  # polls kept for the sparklines
EVENTS = 4  # worker exits listed under the panel


def sparkline(values: Sequence[float], width: int) -> str:
    """The last ``width`` values as bars scaled to their maximum; zero is the lowest bar."""
    shown = list(values)[-width:] if width > 0 else []
    top = max(shown, default=0)
    if top <= 0:
        return BARS[0] * len(shown)
    steps = len(BARS) - 1
    return "".join(BARS[0] if v <= 0 else BARS[max(1, round(v / top * steps))] for v in shown)


def rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}/s"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def count(value: int | None) -> str:
    return "-" if value is None else str(value)


def exit_line(ex: WorkerExit) -> str:
    if ex.expected:
        how = "stopped"
    elif ex.code == 0:
        how = "finished its jobs (max jobs), replacing it"
    else:
        how = "died, replacing it"
    tail = f": {ex.last_line}" if ex.last_line and not ex.expected and ex.code else ""
    return f"worker {ex.id} exited with code {ex.code} ({how}){tail}"


class View(Protocol):
    def show(self, status: Status, exits: Sequence[WorkerExit]) -> None: ...

    def message(self, text: str) -> None: ...

    def summary(self, summary: Summary) -> None: ...

    def close(self) -> None: ...


class History:
    """Backlog and replicas of the last polls, for the sparklines."""

    def __init__(self, size: int = HISTORY) -> None:
        self.backlog: deque[float] = deque(maxlen=size)
        self.replicas: deque[float] = deque(maxlen=size)

    def add(self, status: Status) -> None:
        self.backlog.append(status.backlog or 0)
        self.replicas.append(status.replicas.running)


def render(
    status: Status, history: History, events: Sequence[str], redis_label: str, width: int = 60
) -> RenderableType:
    """The live panel for one poll."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    r = status.replicas
    grid.add_row(
        "queue",
        f"backlog {count(status.backlog)}   in flight {count(status.in_flight)}   "
        f"delayed {count(status.delayed)}   dead {count(status.dead)}   "
        f"oldest wait {seconds(status.oldest_wait_s)}",
    )
    grid.add_row(
        "rates",
        f"arrival {rate(status.arrival_rate)}   completion {rate(status.completion_rate)}   "
        f"done {count(status.completed)}",
    )
    grid.add_row(
        "replicas",
        f"{r.running} running / {r.desired} desired   ready {r.ready}   stopping {r.stopping}",
    )
    grid.add_row("decision", Text(f"[{status.term}] {status.reason}"))
    if status.error:
        grid.add_row("error", Text(status.error, style="red"))
    grid.add_row("backlog", _spark(history.backlog, width, "cyan"))
    grid.add_row("replicas", _spark(history.replicas, width, "green"))
    parts: list[RenderableType] = [grid]
    parts.extend(Text(e, style="yellow") for e in events[-EVENTS:])
    title = f"sluice up: {status.queue}  ({redis_label})"
    return Panel(Group(*parts), title=title, subtitle="Ctrl-C stops; queued jobs stay in Redis")


def _spark(values: Sequence[float], width: int, style: str) -> Text:
    top = max(values, default=0)
    return Text(f"{sparkline(values, width)}  max {top:g}", style=style)


class LiveView:
    """The rich panel, redrawn in place at every poll."""

    def __init__(self, redis_label: str, console: Console | None = None) -> None:
        self._console = console or Console()
        self._redis_label = redis_label
        self._history = History()
        self._events: list[str] = []
        self._live = Live(console=self._console, auto_refresh=False, transient=False)
        self._live.start()

    def show(self, status: Status, exits: Sequence[WorkerExit]) -> None:
        self._history.add(status)
        self._events.extend(exit_line(e) for e in exits if not e.expected)
        width = max(10, min(HISTORY, self._console.width - 30))
        panel = render(status, self._history, self._events, self._redis_label, width)
        self._live.update(panel, refresh=True)

    def message(self, text: str) -> None:
        self._live.console.print(text)

    def summary(self, summary: Summary) -> None:
        self.close()
        self._console.print(f"[bold]summary[/bold] {summary.text()}")

    def close(self) -> None:
        self._live.stop()


class PlainView:
    """One line per poll, for logs and pipes."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def show(self, status: Status, exits: Sequence[WorkerExit]) -> None:
        for ex in exits:
            if not ex.expected:
                self.message(exit_line(ex))
        r = status.replicas
        self.message(
            f"backlog={count(status.backlog)} in_flight={count(status.in_flight)} "
            f"oldest={seconds(status.oldest_wait_s)} arrival={rate(status.arrival_rate)} "
            f"done={count(status.completed)} replicas={r.running}/{r.desired}: {status.reason}"
            + (f" (error: {status.error})" if status.error else "")
        )

    def message(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def summary(self, summary: Summary) -> None:
        self.message(f"summary: {summary.text()}")

    def close(self) -> None:
        pass


class JsonView:
    """One JSON object per line: ``status`` per poll, ``worker_exit``, ``message``, ``summary``."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def _line(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def show(self, status: Status, exits: Sequence[WorkerExit]) -> None:
        for ex in exits:
            self._line(json.dumps({"type": "worker_exit", **asdict(ex)}))
        self._line(status.to_json())

    def message(self, text: str) -> None:
        self._line(json.dumps({"type": "message", "text": text}))

    def summary(self, summary: Summary) -> None:
        self._line(summary.to_json())

    def close(self) -> None:
        pass
