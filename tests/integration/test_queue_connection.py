"""connect() and redact(): ACL credentials work and never reach a message; TLS options."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sluice import Queue, SluiceError
from sluice.connection import connect, redact
from sluice_local.redis_server import RedisServer, RedisServerError, free_port

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        (f"redis://app:{SECRET}@redis.example:6380/2", "redis://***@redis.example:6380/2"),
        (f"rediss://:{SECRET}@[::1]:6379", "rediss://***@[::1]:6379"),
        (f"redis://h:1/0?password={SECRET}", "redis://h:1/0"),
        (f"redis://app:{SECRET}@h:notaport/0", "redis://***@h/0"),
    ],
)
def test_redact_strips_credentials(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert SECRET not in redact(url)


@pytest.mark.parametrize(
    "url",
    [
        f"http://app:{SECRET}@h:1/0",
        f"redis://app:{SECRET}@h:notaport/0",
    ],
)
def test_bad_urls_fail_without_leaking(url: str) -> None:
    with pytest.raises(SluiceError) as err:
        connect(url)
    assert SECRET not in str(err.value)
    assert err.value.__cause__ is None


def test_tls_options_need_rediss(redis_url: str) -> None:
    with pytest.raises(SluiceError, match="rediss://"):
        connect(redis_url, tls_insecure=True)


def test_tls_options_reach_the_connection() -> None:
    client = connect("rediss://127.0.0.1:1/0", tls_ca_file="/ca.pem")
    kwargs = client.connection_pool.connection_kwargs
    # A subclass that bounds the TLS handshake by the connect timeout.
    assert issubclass(client.connection_pool.connection_class, redis.SSLConnection)
    assert kwargs["ssl_ca_certs"] == "/ca.pem"
    insecure = connect("rediss://127.0.0.1:1/0", tls_insecure=True)
    assert insecure.connection_pool.connection_kwargs["ssl_cert_reqs"] == "none"


@pytest.fixture
def acl_url(redis_client: redis.Redis, redis_url: str) -> Iterator[str]:
    """The session server with an ACL user limited to Sluice's keys."""
    redis_client.acl_setuser(
        "sluice",
        enabled=True,
        passwords=[f"+{SECRET}"],
        keys=["q:*"],
        commands=["+@all"],
    )
    yield redis_url
    redis_client.acl_deluser("sluice")


def test_acl_user_can_run_the_queue(acl_url: str) -> None:
    client = connect(acl_url, username="sluice", password=SECRET)
    with Queue("acl", client) as queue:
        queue.enqueue("t", 1)
        assert [j.task for j in queue.protocol.claim("w", 1, 30)] == ["t"]
        assert queue.stats().in_flight == 1
    client.close()


def test_wrong_password_error_does_not_leak(acl_url: str) -> None:
    wrong = SECRET + "x"
    url = acl_url.replace("redis://", f"redis://sluice:{wrong}@")
    for client in (connect(acl_url, username="sluice", password=wrong), connect(url)):
        with pytest.raises(redis.AuthenticationError) as err:
            Queue("acl", client).stats()
        assert wrong not in str(err.value)
        assert wrong not in repr(err.value)
        client.close()


def test_unreachable_server_error_does_not_leak() -> None:
    client = connect(f"redis://app:{SECRET}@127.0.0.1:{free_port()}/0")
    with pytest.raises(redis.ConnectionError) as err:
        client.ping()
    assert SECRET not in str(err.value)
    client.close()


def _tls_server(tmp_path: Path) -> RedisServer:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    tls = ("--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file", str(key))
    server = RedisServer(tmp_path / "redis", extra_args=(*tls, "--tls-auth-clients", "no"))
    try:
        server.start()
    except RedisServerError:  # a build without TLS refuses the options
        pytest.skip("this redis-server is built without TLS")
    server.tls_port = port  # type: ignore[attr-defined]
    return server


def test_rediss_with_a_ca_file(tmp_path: Path) -> None:
    server = _tls_server(tmp_path)
    try:
        url = f"rediss://127.0.0.1:{server.tls_port}/0"  # type: ignore[attr-defined]
        client = connect(url, tls_ca_file=str(tmp_path / "cert.pem"))
        with Queue("tls", client) as queue:
            queue.enqueue("t")
            assert queue.stats().backlog == 1
        client.close()
    finally:
        server.stop()
