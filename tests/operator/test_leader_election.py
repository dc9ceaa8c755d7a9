"""Leader election against the emulated API: one holder, takeover after expiry, races, release.

The electors talk HTTP to KMock (whose Leases get resourceVersion checks from
the harness, as on a real API server); their clocks are fakes, so expiry is
a matter of moving a number, not of sleeping.
"""

from __future__ import annotations

from typing import Any

import pytest
from kube_harness import NS, Clock, Cluster

from sluice_operator.kube.api import KubeApi
from sluice_operator.leader import LeaderElector, LeaseSettings

LEASE = "coordination.k8s.io/v1/leases"


def elector(api: KubeApi, name: str, clock: Clock) -> LeaderElector:
    settings = LeaseSettings(namespace=NS, identity=name, duration_s=8, renew_deadline_s=5)
    return LeaderElector(api, settings, clock=clock)


def holder(cluster: Cluster) -> Any:
    obj = cluster.server.objects[LEASE, NS, "sluice-operator"]
    return obj.raw["spec"].get("holderIdentity")


async def test_one_leads_the_other_waits_until_the_lease_expires(
    cluster: Cluster, api: KubeApi
) -> None:
    clock = Clock(50.0)
    a, b = elector(api, "a", clock), elector(api, "b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert (a.leading(), b.leading()) == (True, False)
    clock.now += 4
    assert await a.try_acquire_or_renew()  # renewed: b's view of the record changes
    assert not await b.try_acquire_or_renew()
    clock.now += 7  # a went quiet 7 s ago: past its renew deadline, within the lease
    assert not a.leading()  # a stops writing first ...
    assert not await b.try_acquire_or_renew()  # ... before b may take over
    clock.now += 2  # 9 s since b last saw the record change: expired
    assert await b.try_acquire_or_renew()
    assert holder(cluster) == "b"
    assert b.transitions == 1


async def test_two_candidates_racing_for_an_expired_lease_get_one_winner(
    cluster: Cluster, api: KubeApi
) -> None:
    clock = Clock(50.0)
    a, b, c = (elector(api, n, clock) for n in "abc")
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert not await c.try_acquire_or_renew()
    clock.now += 20
    # Both read the same expired record, then both write: the second write names a
    # resourceVersion that is no longer current and is refused with 409.
    lease = await api.read_lease(NS, "sluice-operator")
    version = lease["metadata"]["resourceVersion"]
    body = {"metadata": {"resourceVersion": version}, "spec": {"holderIdentity": "b"}}
    await api.patch_lease(NS, "sluice-operator", body)
    assert not await c.try_acquire_or_renew()  # c now sees b's fresh record: held
    stale = {"metadata": {"resourceVersion": version}, "spec": {"holderIdentity": "c"}}
    with pytest.raises(Exception, match="409"):
        await api.patch_lease(NS, "sluice-operator", stale)
    assert holder(cluster) == "b"


async def test_a_released_lease_is_taken_at_once(cluster: Cluster, api: KubeApi) -> None:
    clock = Clock(50.0)
    a, b = elector(api, "a", clock), elector(api, "b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    await a.release()
    assert not a.leading()
    assert await b.try_acquire_or_renew()  # no waiting out the lease duration
    assert holder(cluster) == "b"


def test_lease_timings_must_nest() -> None:
    with pytest.raises(ValueError, match="renew deadline"):
        LeaseSettings(namespace="x", duration_s=5, renew_deadline_s=5)
