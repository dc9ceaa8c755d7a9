"""``sluice job ID``: one job's state, attempts, times, progress, result or error."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from sluice.cli.common import EXIT_OK, add_json_flag, open_queue, print_json
from sluice.errors import JobNotFound
from sluice.jobinfo import JobInfo


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "job",
        parents=[common],
        help="show one job",
        description="Show one job (exit 1 if there is no such job).",
    )
    p.add_argument("id", help="job id")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_queue(args) as queue:
        info = queue.get(args.id)
    if info is None:
        raise JobNotFound(args.queue, args.id)
    if args.json:
        print_json(as_dict(info))
    else:
        print(render(info))
    return EXIT_OK


def as_dict(info: JobInfo) -> dict[str, Any]:
    values = dataclasses.asdict(info)
    values["priority"] = info.priority.name.lower()
    return values


def render(info: JobInfo) -> str:
    lines = []
    for key, value in as_dict(info).items():
        if value is None or value is False:
            continue
        text = str(value)
        if "\n" in text:  # tracebacks: indented below the key
            text = "\n" + "\n".join("    " + line for line in text.splitlines())
        lines.append(f"{key:<16} {text}")
    return "\n".join(lines)
