"""The server's gatekeeping: JSON errors, body limits, hosts, origins, tokens and headers.

Read-only by default. An action (requeue, cancel, purge, pause) passes only
when the server allows actions, the bearer token matches (when one is set;
compared in constant time), and the request did not come from another site's
page: browsers send ``Origin`` on every cross-site POST, and one that names
another host is refused. On loopback the ``Host`` header must be a loopback
name too, so a page on another domain that re-resolves to 127.0.0.1 (DNS
rebinding) cannot read the API either.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from .settings import LOOPBACK_HOSTS, DashboardSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# No inline script or style, nothing from elsewhere: the page needs only its own files.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


class ApiError(Exception):
    """An error the API answers with ``{"error": {"status", "message"}}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"status": status, "message": message}}
    return web.json_response(body, status=status, headers=headers)


def host_allowed(host_header: str | None, bind_host: str) -> bool:
    """On loopback, only loopback names reach the server (DNS rebinding)."""
    if bind_host not in LOOPBACK_HOSTS:
        return True
    if not host_header:
        return False
    try:
        name = urlsplit(f"//{host_header}").hostname
    except ValueError:
        return False
    return name in LOOPBACK_HOSTS


def same_origin(origin: str | None, host_header: str | None) -> bool:
    if origin is None:  # not a browser's cross-site request (curl, scripts)
        return True
    try:
        return urlsplit(origin).netloc == (host_header or "")
    except ValueError:
        return False


def middlewares(settings: DashboardSettings, bind_host: str) -> list[Any]:
    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        api = request.path.startswith("/api/")
        try:
            if not host_allowed(request.headers.get("Host"), bind_host):
                raise ApiError(403, "this server answers only to loopback host names")
            length = request.content_length
            if length is not None and length > settings.max_body_bytes:
                raise ApiError(413, f"request body over {settings.max_body_bytes} bytes")
            return await handler(request)
        except ApiError as exc:
            return json_error(exc.status, exc.message, exc.headers)
        except web.HTTPException as exc:
            if not api or exc.status < 400:
                raise
            return json_error(exc.status, exc.reason)

    return [gate]


async def check_action(request: web.Request, settings: DashboardSettings) -> None:
    """Raise :class:`ApiError` unless this action request may proceed."""
    if not settings.allow_actions:
        raise ApiError(403, "actions are disabled: start the dashboard with --allow-actions")
    if settings.token is not None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise ApiError(
                401,
                "this action needs the bearer token: Authorization: Bearer <token>",
                {"WWW-Authenticate": 'Bearer realm="sluice"'},
            )
        if not hmac.compare_digest(auth[7:].strip().encode(), settings.token.encode()):
            raise ApiError(403, "the bearer token is not valid")
    if not same_origin(request.headers.get("Origin"), request.headers.get("Host")):
        raise ApiError(403, "cross-site request refused")
    await request.read()  # past client_max_size aiohttp refuses it with 413


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Added to every response before it is sent (the event streams too)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
