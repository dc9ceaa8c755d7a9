"""The dashboard served by the real operator (``sluice-operator --dashboard-port``) against KMock.

Every managed JobQueue shows as ``namespace/name`` with its queue's figures and
the operator's own decisions; pausing from the API patches the JobQueue's
spec, and needs the bearer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kube_harness import NS, Cluster, eventually, jobqueue

from sluice import Queue
from sluice_operator.main import parse_args, run

TOKEN = "operator-dashboard-token-1234"
pytestmark = pytest.mark.timeout(90)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def operator_with_dashboard(port: int) -> AsyncIterator[str]:
    """``sluice-operator -A --dashboard-port PORT --dashboard-allow-actions`` in a thread."""
    args = parse_args([
        "-A", "--metrics-port", "0", "--liveness-port", "0", "--dashboard-port", str(port),
        "--dashboard-host", "127.0.0.1", "--dashboard-allow-actions",
    ])  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=lambda: asyncio.run(run(args, stop)), daemon=True)  # type: ignore[arg-type]
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        await eventually(lambda: _get(base + "/api/config")[0] == 200, what="the dashboard")
        yield base
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 20)
        assert not thread.is_alive()


def _get(url: str) -> tuple[int, Any]:
    return _call(urllib.request.Request(url))  # noqa: S310  (our own loopback URL)


def _post(url: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, b"{}", headers, method="POST")  # noqa: S310
    return _call(request)


def _call(request: urllib.request.Request) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, None


def _queue(base: str, name: str) -> dict[str, Any] | None:
    status, body = _get(base + "/api/queues")
    if status != 200:
        return None
    return next((q for q in body["queues"] if q["name"] == name), None)


async def test_the_operator_serves_each_jobqueue_with_its_decisions(
    cluster: Cluster, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_DASHBOARD_TOKEN", TOKEN)
    with Queue("thumbs-q", redis_url) as queue:
        queue.enqueue_many(("resize", i) for i in range(12))
    spec = jobqueue("thumbs", {"url": redis_url}, queueName="thumbs-q")
    await cluster.create(spec)
    async with operator_with_dashboard(free_port()) as base:
        name = f"{NS}/thumbs"
        row = await eventually(
            lambda: (q := _queue(base, name)) and q["decision"] and q["sample"] and q, what="row"
        )
        assert row["sample"]["backlog"] == 12
        assert row["decision"]["target"] >= 1
        assert row["paused"] is False
        status, history = _get(f"{base}/api/queues/{NS}%2Fthumbs/history")
        assert status == 200
        assert history["decisions"][0]["term"]
        status, jobs = _get(f"{base}/api/queues/{NS}%2Fthumbs/jobs?limit=3")
        assert (status, jobs["total"], len(jobs["jobs"])) == (200, 12, 3)
        config = _get(base + "/api/config")[1]
        assert (config["token_required"], config["scaling_control"]) == (True, True)

        # Pausing needs the token, and patches the JobQueue's spec. (Posted from a thread:
        # KMock answers the operator's patch on this test's loop.)
        pause = f"{base}/api/queues/{NS}%2Fthumbs/scaling/pause"
        assert (await asyncio.to_thread(_post, pause))[0] == 401
        assert (await asyncio.to_thread(_post, pause, "x" * 20))[0] == 403
        status, body = await asyncio.to_thread(_post, pause, TOKEN)
        assert (status, body["paused"]) == (200, True)
        stored = cluster.jobqueue("thumbs") or {}
        assert stored["spec"]["scaling"]["paused"] is True
        await eventually(
            lambda: (q := _queue(base, name)) and q["paused"] is True, what="paused shown"
        )
        assert _get(f"{base}/api/queues/{NS}%2Fnothing")[0] == 404
