"""Redis clients with production defaults, and URLs safe to show.

Every client Sluice makes comes from :func:`connect`: bounded connect and
socket timeouts (a dead server must not hang a worker), retries with
exponential backoff on connection errors, periodic health checks of idle
pooled connections. Credentials may come in the URL or separately (from a
Kubernetes Secret); either way they never reach a message: errors raised here
carry :func:`redact`-ed URLs only, and the cause chain is cut where it could
hold the URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, overload
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
import redis.cluster
import redis.exceptions
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from sluice.errors import SluiceError

CONNECT_TIMEOUT_S = 5.0
# Above the longest blocking command Sluice sends (wait_for_work's BLPOP of at most 5 s).
SOCKET_TIMEOUT_S = 15.0
HEALTH_CHECK_INTERVAL_S = 30
SCHEMES = ("redis", "rediss", "unix")


def redact(url: str) -> str:
    """``url`` without user, password or query (which may carry a password)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "<unparseable redis url>"
    try:
        port = parts.port
    except ValueError:  # out of range or not a number: the message says which
        port = None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if parts.username or parts.password:
        netloc = "***@" + netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_url(url: str) -> str:
    """``url`` with its scheme in lower case, or :class:`SluiceError` saying what is wrong.

    redis-py's own parser ignores a database that is not a number (``/zz`` became
    db 0) and its errors may quote the whole URL, password included; these
    checks come first and name the part at fault, never the credentials.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise SluiceError(
            f"invalid Redis URL {redact(url)!r}: the scheme must be redis://, rediss:// or unix://"
        )
    url = f"{scheme}://{rest}"
    if scheme == "unix":
        return url
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError: out of range, or not a number
    except ValueError as exc:
        raise SluiceError(f"invalid Redis URL {redact(url)!r}: {exc}") from None
    if not parts.hostname:
        raise SluiceError(f"invalid Redis URL {redact(url)!r}: no host")
    if port == 0:
        raise SluiceError(f"invalid Redis URL {redact(url)!r}: port must be 1-65535")
    db = parts.path.strip("/")
    if db and not (db.isascii() and db.isdigit()):
        raise SluiceError(
            f"invalid Redis URL {redact(url)!r}: the path is the database number "
            f"(/0, /1, ...), got /{db}"
        )
    return url


def _options(
    url: str,
    username: str | None,
    password: str | None,
    tls_ca_file: str | None,
    tls_insecure: bool,
) -> dict[str, Any]:
    scheme = url.split("://", 1)[0]
    options: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_timeout": SOCKET_TIMEOUT_S,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
    }
    if username is not None:
        options["username"] = username
    if password is not None:
        options["password"] = password
    if scheme == "rediss":
        options["connection_class"] = BoundedSSLConnection
        if tls_ca_file:
            options["ssl_ca_certs"] = tls_ca_file
        if tls_insecure:
            options["ssl_cert_reqs"] = "none"
            options["ssl_check_hostname"] = False
    elif tls_ca_file or tls_insecure:
        raise SluiceError(f"TLS options need a rediss:// URL, got {redact(url)!r}")
    return options


class TLSHandshakeTimeout(redis.exceptions.RedisError):
    """No TLS handshake within the connect timeout: most likely a plain (non-TLS) port.

    Not a ConnectionError on purpose: redis-py's retries (and a producer's) would
    otherwise spend a read timeout on each of several handshakes that cannot succeed.
    """


class BoundedSSLConnection(redis.SSLConnection):
    """An ``rediss://`` connection whose TLS handshake is bounded by the connect timeout.

    redis-py runs the handshake under the read timeout; against a server that does
    not speak TLS it then waits that long, and its retries four times over (62 s).
    """

    def _wrap_socket_with_ssl(self, sock: Any) -> Any:
        sock.settimeout(self.socket_connect_timeout)
        wrap: Callable[[Any], Any] = super()._wrap_socket_with_ssl
        try:
            tls = wrap(sock)
        except TimeoutError:
            raise TLSHandshakeTimeout(
                f"no TLS handshake from {self.host}:{self.port} within "
                f"{self.socket_connect_timeout:g}s: is it a TLS port? (rediss:// needs one; "
                "use redis:// for a plain one)"
            ) from None
        tls.settimeout(self.socket_timeout)
        return tls


@overload
def connect(
    url: str,
    *,
    username: str | None = ...,
    password: str | None = ...,
    tls_ca_file: str | None = ...,
    tls_insecure: bool = ...,
    async_: Literal[False] = ...,
    cluster: Literal[False] = ...,
    max_connections: int | None = ...,
) -> redis.Redis: ...


@overload
def connect(
    url: str,
    *,
    username: str | None = ...,
    password: str | None = ...,
    tls_ca_file: str | None = ...,
    tls_insecure: bool = ...,
    async_: Literal[True],
    cluster: Literal[False] = ...,
    max_connections: int | None = ...,
) -> redis.asyncio.Redis: ...


@overload
def connect(
    url: str,
    *,
    username: str | None = ...,
    password: str | None = ...,
    tls_ca_file: str | None = ...,
    tls_insecure: bool = ...,
    async_: bool = ...,
    cluster: bool = ...,
    max_connections: int | None = ...,
) -> Any: ...


def connect(
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    tls_ca_file: str | None = None,
    tls_insecure: bool = False,
    async_: bool = False,
    cluster: bool = False,
    max_connections: int | None = None,
) -> Any:
    """A client for ``url`` (a cluster client with ``cluster=True``); no I/O happens yet.

    ``max_connections`` caps the client's pool (per node for a cluster). For a
    shared asyncio client a caller past the cap waits for a free connection
    (up to the socket timeout) rather than failing: many coroutines share it.
    """
    url = check_url(url)
    options = _options(url, username, password, tls_ca_file, tls_insecure)
    if async_ or cluster:
        options.pop("connection_class", None)  # the asyncio and cluster clients have their own
    if max_connections is not None:
        options["max_connections"] = max_connections
    try:
        return _client(url, options, async_=async_, cluster=cluster)
    except (ValueError, TypeError) as exc:
        # redis-py's parse errors may quote the URL: name the type only, and don't chain.
        raise SluiceError(
            f"invalid Redis URL {redact(url)!r}: {type(exc).__name__} (check the query options)"
        ) from None


def _client(url: str, options: dict[str, Any], *, async_: bool, cluster: bool) -> Any:
    backoff = ExponentialWithJitterBackoff(base=0.05, cap=2.0)
    if cluster:
        options.pop("health_check_interval")
        if async_:
            return redis.asyncio.cluster.RedisCluster.from_url(url, **options)
        return redis.cluster.RedisCluster.from_url(url, **options)
    if async_:
        retry_async = redis.asyncio.retry.Retry(backoff, 3)
        if "max_connections" in options:
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                url, retry=retry_async, timeout=SOCKET_TIMEOUT_S, **options
            )
            return redis.asyncio.Redis.from_pool(pool)
        return redis.asyncio.Redis.from_url(url, retry=retry_async, **options)
    return redis.Redis.from_url(url, retry=Retry(backoff, 3), **options)
