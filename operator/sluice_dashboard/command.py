"""``sluice dashboard``: the command's flags, found by the ``sluice`` CLI through an entry point.

Like ``sluice up``, this module imports nothing heavier than argparse: aiohttp
(the ``dashboard`` extra) loads only when the command runs, and its absence
gets a clear message. Its own ``--queue`` may repeat and has no default: no
``--queue`` means every queue found in Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sluice.cli.common import DEFAULT_REDIS_URL, EXIT_FAILED, EXIT_USAGE, fail, redis_options
from sluice.connection import redact

from .settings import LOOPBACK_HOSTS, DashboardSettings
from .sources import RedisQueues

EXTRAS_HINT = "pip install 'sluice-queue[dashboard]'"
TOKEN_ENV = "SLUICE_DASHBOARD_TOKEN"  # noqa: S105  (the variable's name, not a token)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "dashboard", help="serve a web dashboard and JSON API of the queues",
        description="Serve the dashboard and its JSON API (schema at /api/openapi.json) for "
        "the queues of one Redis. Read-only unless --allow-actions; payloads hidden unless "
        "--show-payloads.",
    )  # fmt: skip
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis-url", default=argparse.SUPPRESS,
        help="Redis URL (env SLUICE_REDIS_URL); credentials may come from "
        "SLUICE_REDIS_USERNAME / SLUICE_REDIS_PASSWORD",
    )  # fmt: skip
    parser.add_argument(
        "--queue", dest="dashboard_queues", action="append", default=[], metavar="NAME",
        help="show only this queue (repeat for more; default: every queue in Redis)",
    )  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8089, help="port (0: any free one)")
    parser.add_argument(
        "--allow-actions", action="store_true",
        help="allow requeue, cancel, purge and pause/resume (read-only without it)",
    )  # fmt: skip
    parser.add_argument(
        "--token-file", type=Path,
        help=f"actions need this bearer token (env {TOKEN_ENV}); required for actions "
        "on a non-loopback address",
    )  # fmt: skip
    parser.add_argument(
        "--show-payloads", action="store_true",
        help="show job payloads and results (they may hold personal data)",
    )  # fmt: skip
    parser.add_argument(
        "--poll-interval", type=float, default=1.0, metavar="SECONDS",
        help="how often the queues are read and pages updated",
    )  # fmt: skip


def read_token(path: Path | None, environ: Any = os.environ) -> str | None:
    if path is not None:
        return path.read_text().strip() or None
    return environ.get(TOKEN_ENV) or None


def settings_from(args: argparse.Namespace, url: str) -> DashboardSettings:
    token = read_token(args.token_file)
    if args.allow_actions and token is None and args.host not in LOOPBACK_HOSTS:
        raise ValueError(
            f"--allow-actions on {args.host} needs a token: --token-file or {TOKEN_ENV}"
        )
    return DashboardSettings(
        redis_label=redact(url),
        allow_actions=args.allow_actions,
        token=token,
        show_payloads=args.show_payloads,
        queues=tuple(dict.fromkeys(args.dashboard_queues)),
        poll_interval_s=args.poll_interval,
    )


def run(args: argparse.Namespace) -> int:
    url = (
        getattr(args, "redis_url", None) or os.environ.get("SLUICE_REDIS_URL") or DEFAULT_REDIS_URL
    )
    args.redis_url = url  # the CLI's error message names it (redacted)
    if not 0 <= args.port <= 65535:
        return fail(f"--port: {args.port} is not a port number", EXIT_USAGE)
    try:
        settings = settings_from(args, url)
    except (ValueError, OSError) as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        from .server import DashboardServer  # noqa: PLC0415  (aiohttp loads only here)
    except ImportError as exc:
        return fail(f"'sluice dashboard' needs aiohttp ({exc}): {EXTRAS_HINT}", EXIT_FAILED)
    return asyncio.run(_serve(DashboardServer, url, settings, args.host, args.port))


async def _serve(
    server_class: Any, url: str, settings: DashboardSettings, host: str, port: int
) -> int:
    source = RedisQueues.from_url(url, settings.queues, **redis_options())
    try:
        await source.client.ping()  # unreachable: the CLI says so and exits 3
    except BaseException:
        await source.close()
        raise
    server = server_class(source, settings, host=host, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        where = await server.start()
        mode = "actions allowed" if settings.allow_actions else "read-only"
        print(f"sluice dashboard on {where.url} ({settings.redis_label}, {mode})", file=sys.stderr)
        await stop.wait()
    finally:
        await server.stop()
    return 0
