"""``sluice load``: put jobs on a queue at a steady rate, in steps, as a spike or from a trace.

The shapes and the pacing are :mod:`sluice.loadgen`; this module only turns flags
into a shape and shows progress: a line redrawn in place on a terminal, one
JSON object per second with ``--json``. Jobs default to the demo task shipped
with Sluice (``sluice.demo_tasks:tasks``), so a demo needs no code of its own.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from sluice import limits, loadgen
from sluice.cli.common import EXIT_OK, open_queue, read_text

EPILOG = """Shapes: --rate R for --duration S (steady, the default); --steps R:S,R:S,...
(each rate held for its seconds); --spike PEAK --at T --width W (on top of --rate, within
--duration); --trace FILE (CSV t,rate or JSON lines {"t":..,"rate":..}, linear between
points). Jobs: --task and --payload (JSON); the default is the demo task 'sleep'
({"seconds": 0.05}; add "fail": 0.1 to fail a tenth of attempts)."""


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "load", parents=[common], help="generate load on a queue", epilog=EPILOG,
        description="Enqueue jobs following a rate shape; prints progress.",
    )  # fmt: skip
    p.add_argument("--task", default="sleep", help="task name (default: sleep, the demo task)")
    p.add_argument("--payload", default='{"seconds": 0.05}', help="payload as JSON")
    p.add_argument("--priority", default="normal", help="critical, high, normal, low")
    p.add_argument("--rate", type=float, default=10.0, help="jobs/s (default 10)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--steps", help="R:S,R:S,...: rate R for S seconds, in turn")
    shape.add_argument("--spike", type=float, metavar="PEAK", help="peak jobs/s")
    shape.add_argument("--trace", type=Path, help="CSV or JSON lines of t,rate")
    p.add_argument("--at", type=float, default=10.0, help="spike start (s, default 10)")
    p.add_argument("--width", type=float, default=10.0, help="spike length (s, default 10)")
    p.add_argument("--json", action="store_true", help="JSON lines: progress and a summary")
    p.set_defaults(func=run)


def shape_from(args: argparse.Namespace) -> loadgen.Shape:
    """The shape the flags describe (ValueError, exit 2, when they make no sense)."""
    for flag in ("rate", "spike"):
        if getattr(args, flag) is not None:
            limits.LOAD_RATE.check(f"--{flag}", getattr(args, flag))
    for flag in ("duration", "at", "width"):
        limits.LOAD_SECONDS.check(f"--{flag}", getattr(args, flag))
    if args.steps:
        return loadgen.steps([_step(part) for part in args.steps.split(",") if part.strip()])
    if args.spike is not None:
        return loadgen.spike(args.rate, args.spike, args.at, args.width, args.duration)
    if args.trace is not None:
        text = read_text(args.trace, "--trace")
        try:
            return loadgen.parse_trace(text)
        except ValueError as exc:
            raise ValueError(f"--trace {str(args.trace)!r}: {exc}") from None
    return loadgen.steady(args.rate, args.duration)


def _step(text: str) -> tuple[float, float]:
    rate, sep, seconds = text.partition(":")
    try:
        if not sep:
            raise ValueError("no ':'")
        value = float(rate), float(seconds)
    except ValueError:
        raise ValueError(f"--steps: a step is RATE:SECONDS (numbers), got {text!r}") from None
    limits.LOAD_RATE.check("--steps rate", value[0])
    limits.LOAD_SECONDS.check("--steps seconds", value[1])
    return value


class _Progress:
    """Shows progress at most once a second (and always at the end)."""

    def __init__(self, out: TextIO, json_lines: bool) -> None:
        self._out, self._json, self._last = out, json_lines, -1.0
        self._tty = out.isatty()

    def __call__(self, p: loadgen.Progress) -> None:
        if p.elapsed - self._last < 1.0 and p.elapsed < p.duration:
            return
        self._last = p.elapsed
        if self._json:
            print(p.to_json(), file=self._out, flush=True)
        elif self._tty:
            line = f"\r{p.elapsed:6.1f}/{p.duration:g} s  {p.rate:7.1f} jobs/s  sent {p.sent}"
            print(line, end="", file=self._out, flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        payload = json.loads(args.payload)
    except ValueError as exc:
        raise ValueError(f"payload is not valid JSON: {exc}") from None
    shape = shape_from(args)
    job = loadgen.payload_job(args.task, payload, priority=args.priority)
    out = sys.stdout
    if not args.json:
        print(f"sluice load: {loadgen.describe(shape)} to queue {args.queue!r}", file=out)
    with open_queue(args) as queue:
        sent = loadgen.run_load(
            queue, shape, job, stop=threading.Event(), on_progress=_Progress(out, args.json)
        )
    if args.json:
        print(json.dumps({"type": "summary", "sent": sent, "seconds": shape.duration}), file=out)
    else:
        print(f"\nsent {sent} jobs", file=out)
    return EXIT_OK
