"""The operator's edges that need a real Redis or a second kubeconfig: client pooling, re-login."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sluice_operator.handlers import Operator
from sluice_operator.kube.api import authorization
from sluice_scaling.stats_reader import AsyncRedisPool, Endpoint, RedisPool


def test_pool_shares_one_client_per_endpoint(redis_url: str) -> None:
    pool = RedisPool()
    a = pool.client(Endpoint(redis_url))
    assert pool.client(Endpoint(redis_url)) is a
    assert pool.client(Endpoint(redis_url, password="other")) is not a
    assert len(pool) == 2
    assert a.ping()
    pool.close()
    assert len(pool) == 0


async def test_the_async_pool_shares_one_capped_client_per_endpoint(redis_url: str) -> None:
    pool = AsyncRedisPool(max_connections=2)
    a = pool.client(Endpoint(redis_url))
    assert pool.client(Endpoint(redis_url)) is a
    assert pool.client(Endpoint(redis_url, password="other")) is not a
    # More concurrent commands than connections: they wait their turn, none fails.
    assert await asyncio.gather(*(a.ping() for _ in range(20))) == [True] * 20
    assert a.connection_pool.max_connections == 2
    await pool.close()
    assert len(pool) == 0


async def test_a_re_login_swaps_the_credentials_every_scaler_holds(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: first}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    op = Operator()
    await op.login()
    held = op.api  # what a QueueScaler keeps
    assert authorization(held.config) == {"Authorization": "Bearer first"}
    kubeconfig.write_text(kubeconfig.read_text().replace("token: first", "token: second"))
    await op.login()
    assert op.api is held
    assert authorization(held.config) == {"Authorization": "Bearer second"}
    assert held.host == "https://127.0.0.1:1"
