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
from collections.abc import Sequence

import kopf
from prometheus_client import start_http_server

from .handlers import Operator, configure
from .queue_metrics import OperatorMetrics

LOG_LEVELS = ("debug", "info", "warning", "error")


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
    return parser.parse_args(argv)


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
        operator.pool.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
