"""``sluice-operator``: run the Kopf operator for JobQueues.

It runs Kopf embedded (``kopf.operator``) with standalone semantics: one
replica, no peering objects, so the RBAC stays small; a Deployment with
``replicas: 1`` and the ``Recreate`` strategy keeps it single. Namespaces come
from ``--namespace`` (repeatable, globs allowed) or ``SLUICE_WATCH_NAMESPACES``
(comma-separated); ``--all-namespaces`` watches the whole cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import kopf
from prometheus_client import start_http_server

from sluice_dashboard.decisions import DecisionLog
from sluice_dashboard.settings import DashboardSettings

from .dashboard import OperatorQueues, OperatorScalingControl
from .handlers import Operator, configure
from .queue_metrics import OperatorMetrics

LOG_LEVELS = ("debug", "info", "warning", "error")
TOKEN_ENV = "SLUICE_DASHBOARD_TOKEN"  # noqa: S105  (the variable's name; the chart fills it from a Secret)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sluice-operator", description="Autoscale Sluice worker Deployments from JobQueues."
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace")
    scope.add_argument(
        "-n", "--namespace", action="append", default=[], metavar="NS",
        help="watch this namespace (repeatable; globs like team-* allowed)",
    )  # fmt: skip
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument("--metrics-port", type=int, default=9090, help="/metrics (0: off)")
    parser.add_argument("--liveness-port", type=int, default=8080, help="/healthz (0: off)")
    parser.add_argument(
        "--allow-privileged-workers", action="store_true",
        help="create worker pods beyond the restricted Pod Security Standard when a JobQueue's "
        "podTemplate asks (hostPath, host namespaces, privileged or root containers); "
        "off: such a JobQueue is refused",
    )  # fmt: skip
    parser.add_argument(
        "--dashboard-port", type=int, default=0,
        help="serve the web dashboard of every managed JobQueue on this port (0: off)",
    )  # fmt: skip
    parser.add_argument("--dashboard-host", default="0.0.0.0", help="address it listens on")  # noqa: S104
    parser.add_argument(
        "--dashboard-allow-actions", action="store_true",
        help=f"allow requeue, cancel, purge and pause/resume; needs {TOKEN_ENV}",
    )  # fmt: skip
    parser.add_argument(
        "--dashboard-show-payloads", action="store_true", help="show job payloads and results"
    )
    return parser.parse_args(argv)


def dashboard_settings(args: argparse.Namespace, environ: Any = os.environ) -> DashboardSettings:
    """The dashboard's settings; actions need the bearer token (a ValueError says so)."""
    token = environ.get(TOKEN_ENV) or None
    if args.dashboard_allow_actions and token is None:
        raise ValueError(f"--dashboard-allow-actions needs a bearer token in {TOKEN_ENV}")
    return DashboardSettings(
        redis_label="each JobQueue's Redis",
        allow_actions=args.dashboard_allow_actions,
        token=token,
        show_payloads=args.dashboard_show_payloads,
        poll_interval_s=1.0,
    )


def namespaces(args: argparse.Namespace) -> list[str]:
    """The namespaces to watch; empty means the whole cluster."""
    if args.all_namespaces:
        return []
    if args.namespace:
        return list(args.namespace)
    env = os.environ.get("SLUICE_WATCH_NAMESPACES", "")
    return [ns.strip() for ns in env.split(",") if ns.strip()]


def setup_logging(level: str, fmt: str) -> None:
    log_format = kopf.LogFormat.JSON if fmt == "json" else kopf.LogFormat.FULL
    kopf.configure(
        debug=level == "debug", quiet=level in ("warning", "error"), log_format=log_format
    )
    logging.getLogger().setLevel(level.upper())


def operator_settings(watched: list[str]) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    configure(settings)
    # Exact namespace names need no cluster-wide scans (namespaces, CRDs): a Role suffices.
    settings.scanning.disabled = bool(watched) and not any(set(ns) & set("*?[!") for ns in watched)
    return settings


async def run(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    metrics = OperatorMetrics()
    if args.metrics_port:
        start_http_server(args.metrics_port, registry=metrics.registry)
    if args.allow_privileged_workers:
        logging.getLogger(__name__).warning(
            "--allow-privileged-workers: JobQueues may ask for privileged worker pods"
        )
    operator = Operator(metrics, allow_privileged_workers=args.allow_privileged_workers)
    watched = namespaces(args)
    settings = operator_settings(watched)
    liveness = f"http://0.0.0.0:{args.liveness_port}/healthz" if args.liveness_port else None
    board = await start_dashboard(args, operator)
    try:
        await kopf.operator(
            registry=operator.registry(),
            settings=settings,
            standalone=True,
            clusterwide=not watched,
            namespaces=watched,
            liveness_endpoint=liveness,
            stop_flag=stop,
        )
    finally:
        if board is not None:
            await board.stop()  # closes the pool's asyncio clients too
        operator.pool.close()


async def start_dashboard(args: argparse.Namespace, operator: Operator) -> Any:
    """The dashboard on Kopf's loop, when ``--dashboard-port`` asks for it."""
    if not args.dashboard_port:
        return None
    from sluice_dashboard.server import DashboardServer  # noqa: PLC0415  (aiohttp, only if on)

    settings = dashboard_settings(args)
    operator.decisions = DecisionLog(per_queue=360)  # 30 min of decisions at a 5 s interval
    server = DashboardServer(
        OperatorQueues(operator), settings, host=args.dashboard_host, port=args.dashboard_port,
        decisions=operator.decisions, control=OperatorScalingControl(operator),
    )  # fmt: skip
    where = await server.start()
    logging.getLogger(__name__).info("dashboard on %s", where.url)
    return server


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.dashboard_port:
        try:
            dashboard_settings(args)
        except ValueError as exc:
            print(f"sluice-operator: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    setup_logging(args.log_level, args.log_format)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
