"""``sluice-operator``: run the Kopf operator for JobQueues.

It runs Kopf embedded (``kopf.operator``) without Kopf's peering. With
``--leader-elect`` (the chart's default, two replicas) a replica first wins a
``coordination.k8s.io`` Lease (:mod:`.leader`), and only then starts Kopf;
until then it is a standby that answers its liveness probe and nothing else.
When the leader loses the Lease it stops Kopf and exits non-zero, so
Kubernetes restarts it as a standby. With ``--shards N`` (N > 1) there is no
single leader: the JobQueues are split into N shards by a hash of
namespace/name, each with a Lease of its own, and every replica runs Kopf and
acts on the JobQueues of the shards it holds (:mod:`.shard_leases`).
Namespaces come from ``--namespace`` (repeatable, globs allowed) or
``SLUICE_WATCH_NAMESPACES`` (comma-separated); ``--all-namespaces`` watches
the whole cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import kopf
from aiohttp import web
from prometheus_client import start_http_server

from sluice_dashboard.decisions import DecisionLog
from sluice_dashboard.settings import DashboardSettings

from . import gc_tuning
from .dashboard import OperatorQueues, OperatorScalingControl
from .handlers import Operator, configure
from .kube.api import KubeApi
from .kube.config import load_configuration
from .leader import LeaderElector, LeaseSettings
from .queue_metrics import OperatorMetrics
from .shard_leases import ShardLeases
from .sharding import MAX_SHARDS

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
    lease = parser.add_argument_group("leader election (one active replica, the rest standby)")
    lease.add_argument("--leader-elect", action="store_true", help="hold a Lease before acting")
    lease.add_argument("--lease-name", default="sluice-operator")
    lease.add_argument(
        "--lease-namespace", default=os.environ.get("POD_NAMESPACE", "default"),
        help="namespace of the Lease (default: $POD_NAMESPACE, else default)",
    )  # fmt: skip
    lease.add_argument(
        "--lease-duration",
        type=float,
        default=8.0,
        metavar="S",
        help="a standby takes over this long after the leader's last renewal",
    )
    lease.add_argument(
        "--renew-deadline",
        type=float,
        default=5.0,
        metavar="S",
        help="the leader stops writing this long after its last renewal",
    )
    lease.add_argument(
        "--retry-period",
        type=float,
        default=1.0,
        metavar="S",
        help="how often the leader renews and a standby checks",
    )
    lease.add_argument(
        "--shards", type=int, default=1, metavar="N",
        help="split the JobQueues into N shards, each with its own Lease "
        "(<lease-name>-shard-<k>); every replica acts on the shards it holds "
        f"(1: one leader for all; at most {MAX_SHARDS}; needs --leader-elect)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        lease_settings(args)
    except ValueError as exc:
        parser.error(f"--retry-period, --renew-deadline, --lease-duration: {exc}")
    if not 1 <= args.shards <= MAX_SHARDS:
        parser.error(f"--shards: {args.shards} is not between 1 and {MAX_SHARDS}")
    if args.shards > 1 and not args.leader_elect:
        parser.error("--shards: more than 1 shard needs --leader-elect (the shards are Leases)")
    return args


def lease_settings(args: argparse.Namespace) -> LeaseSettings:
    return LeaseSettings(
        namespace=args.lease_namespace, name=args.lease_name, duration_s=args.lease_duration,
        renew_deadline_s=args.renew_deadline, retry_s=args.retry_period,
    )  # fmt: skip


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
    privileged = args.allow_privileged_workers
    stop = stop or asyncio.Event()
    if not args.leader_elect:
        await _serve(args, Operator(metrics, allow_privileged_workers=privileged), stop)
        return
    if args.shards > 1:
        await _run_sharded(args, metrics, stop)
        return
    elector = LeaderElector(KubeApi(load_configuration()), lease_settings(args))
    try:
        async with _standby_liveness(args.liveness_port), _signals(stop):
            if not await elector.acquire(stop):
                return
        operator = Operator(metrics, elector.leading, allow_privileged_workers=privileged)
        await _lead(args, operator, elector, stop)
    finally:
        await elector.release()
        await elector.api.close()


async def _run_sharded(
    args: argparse.Namespace, metrics: OperatorMetrics, stop: asyncio.Event
) -> None:
    """Kopf from the start; the shard Leases say which JobQueues this replica acts on.

    On the way out (SIGTERM stops Kopf) every held shard is released, so the
    other replicas take them at their next look instead of after the lease.
    """
    api = KubeApi(load_configuration())
    shards = ShardLeases(api, lease_settings(args), args.shards)
    operator = Operator(
        metrics, allow_privileged_workers=args.allow_privileged_workers, ownership=shards.token
    )
    leases_stop = asyncio.Event()
    keeping = asyncio.create_task(shards.run(leases_stop))
    try:
        await _serve(args, operator, stop)
    finally:
        leases_stop.set()
        await keeping  # releases every shard Lease
        await api.close()


async def _lead(
    args: argparse.Namespace, operator: Operator, elector: LeaderElector, stop: asyncio.Event
) -> None:
    """Run Kopf while the Lease holds; a lost Lease stops it and ends the process (exit 1)."""
    serving = asyncio.create_task(_serve(args, operator, stop))
    holding = asyncio.create_task(elector.hold())
    await asyncio.wait({serving, holding}, return_when=asyncio.FIRST_COMPLETED)
    lost = holding.done()
    holding.cancel()
    stop.set()
    await serving
    if lost:
        raise SystemExit(1)


async def _serve(args: argparse.Namespace, operator: Operator, stop: asyncio.Event) -> None:
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
            await board.stop()
        await operator.close()


@contextlib.asynccontextmanager
async def _standby_liveness(port: int) -> AsyncIterator[None]:
    """/healthz while waiting for the Lease (Kopf serves it once this replica leads)."""
    if not port:
        yield
        return

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"standby": True})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()  # noqa: S104  (probed by the kubelet)
    try:
        yield
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def _signals(stop: asyncio.Event) -> AsyncIterator[None]:
    """SIGTERM/SIGINT end a standby (Kopf handles them itself once it runs)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def start_dashboard(args: argparse.Namespace, operator: Operator) -> Any:
    """The dashboard on Kopf's loop, when ``--dashboard-port`` asks for it."""
    if not args.dashboard_port:
        return None
    from sluice_dashboard.server import DashboardServer  # noqa: PLC0415  (aiohttp, only if on)

    settings = dashboard_settings(args)
    operator.decisions = DecisionLog(per_queue=360)  # 30 min of decisions at a 5 s interval
    server = DashboardServer(
        OperatorQueues(operator), settings, host=args.dashboard_host, port=args.dashboard_port,
        decisions=operator.decisions,
        control=OperatorScalingControl(operator, asyncio.get_running_loop()),
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
    gc_tuning.tune()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
