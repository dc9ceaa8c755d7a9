"""``/metrics``, ``/healthz`` and ``/readyz`` on one port, served from a daemon thread.

A thread, not the event loop, answers: a liveness probe must still get an
answer ("not alive") when the loop is stuck, and that is exactly what
``/healthz`` checks, through a timestamp the loop refreshes every second.
``/readyz`` pings Redis with a short timeout (a worker that cannot reach its
queue should not count as ready) and fails while the worker drains.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

Check = Callable[[], tuple[bool, str]]


@dataclass(frozen=True)
class Probes:
    metrics: Callable[[], bytes]
    alive: Check
    ready: Check


def _handler(probes: Probes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, probes.metrics(), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/readyz"):
                ok, why = (probes.alive if path == "/healthz" else probes.ready)()
                self._reply(200 if ok else 503, (why + "\n").encode(), "text/plain")
            else:
                self._reply(404, b"not found\n", "text/plain")

        def _reply(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Probes every few seconds would drown the job logs."""

    return Handler


class HealthServer:
    """Serves :class:`Probes` on ``host:port`` until :meth:`close`."""

    def __init__(self, probes: Probes, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104
        # Every interface by default: the kubelet probes the pod's IP.
        self._server = ThreadingHTTPServer((host, port), _handler(probes))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sluice-health", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown()
            self._server.server_close()
