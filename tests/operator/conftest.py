"""Fixtures: KMock with the resources declared, and the real operator running against it.

KMock serves from the test's event loop; the operator runs in its own thread
and loop (see :func:`kube_harness.running`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kube_harness import TEST_CALLS, Cluster, Emulator, declare, kubeconfig, running

from sluice_operator import rbac
from sluice_operator.handlers import Operator
from sluice_operator.kube.api import KubeApi
from sluice_operator.kube.config import load_configuration


@pytest.fixture
def kmock_options(kmock_options: dict[str, Any]) -> dict[str, Any]:
    return {**kmock_options, "cls": Emulator}


@pytest.fixture
async def cluster(
    kmock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Cluster]:
    declare(kmock)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "kubeconfig", str(kmock.url))))
    harness = Cluster(kmock)
    yield harness
    extra = harness.calls() - rbac.grants() - TEST_CALLS
    assert not extra, f"API calls not covered by rbac.RULES: {sorted(extra)}"


@pytest.fixture
async def operator(cluster: Cluster) -> AsyncIterator[Operator]:
    """Cluster-wide, as ``sluice-operator --all-namespaces``."""
    async with running([]) as op:
        yield op


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[KubeApi]:
    """The operator's own API client, talking HTTP to the emulator."""
    client = KubeApi(load_configuration())
    yield client
    await client.close()
