"""Serving the dashboard: the aiohttp application, on its own or in a thread beside ``sluice up``.

aiohttp is the server because it is maintained, asyncio-native (the queue
library's async client runs on the same loop), streams server-sent events
without extra parts, and already comes with Kopf, so the operator's image
needs nothing new. :class:`DashboardServer` runs on the caller's loop
(``sluice dashboard``); :class:`DashboardThread` gives it a loop of its own
for a caller that is not asyncio (local mode's session).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .api import Api
from .control import ScalingControl
from .decisions import DecisionLog
from .guard import middlewares, security_headers
from .hub import Hub
from .settings import DashboardSettings
from .sources import QueueSource, RedisQueues

SETTINGS_KEY = web.AppKey("settings", DashboardSettings)
HUB_KEY = web.AppKey("hub", Hub)


def make_app(
    hub: Hub, settings: DashboardSettings, bind_host: str = "127.0.0.1"
) -> web.Application:
    app = web.Application(
        middlewares=middlewares(settings, bind_host), client_max_size=settings.max_body_bytes
    )
    app[SETTINGS_KEY], app[HUB_KEY] = settings, hub
    Api(hub, settings).routes(app)
    app.on_response_prepare.append(security_headers)

    async def end_streams(app: web.Application) -> None:
        hub.end_streams()

    app.on_shutdown.append(end_streams)
    return app


@dataclass(frozen=True)
class Where:
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


class DashboardServer:
    """The hub and the HTTP server on the running loop; ``port=0`` picks a free port."""

    def __init__(
        self,
        source: QueueSource,
        settings: DashboardSettings,
        *,
        host: str = "127.0.0.1",
        port: int = 8089,
        decisions: DecisionLog | None = None,
        control: ScalingControl | None = None,
    ) -> None:
        self.source, self.settings, self.host, self.port = source, settings, host, port
        self.hub = Hub(source, settings, decisions, control)
        self.app = make_app(self.hub, settings, host)
        self._runner: web.AppRunner | None = None

    async def start(self) -> Where:
        await self.hub.refresh()  # the first page load has figures
        self.hub.start()
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        addresses = self._runner.addresses
        port = addresses[0][1] if addresses else self.port
        return Where(self.host, int(port))

    async def stop(self) -> None:
        await self.hub.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.source.close()


class DashboardThread:
    """A :class:`DashboardServer` on a loop of its own in a daemon thread (one Redis)."""

    def __init__(
        self,
        redis_url: str,
        settings: DashboardSettings,
        *,
        cluster: bool = False,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._url, self._settings = redis_url, settings
        self._connection = {"cluster": cluster, "password": password}  # never in a repr
        self._kwargs = kwargs
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="dashboard", daemon=True
        )
        self._server: DashboardServer | None = None

    def start(self, timeout_s: float = 30.0) -> Where:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        try:
            return future.result(timeout_s)
        except BaseException:
            self.stop()
            raise

    async def _start(self) -> Where:
        # The client is made on this loop: an asyncio client belongs to the loop that uses it.
        source = RedisQueues.from_url(self._url, self._settings.queues, **self._connection)
        self._server = DashboardServer(source, self._settings, **self._kwargs)
        return await self._server.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.stop(), self._loop).result(timeout_s)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout_s)
        self._loop.close()
