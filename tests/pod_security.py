"""The restricted Pod Security Standard, for tests of rendered manifests.

The checker itself is the operator's (:mod:`sluice_operator.pod_security`),
which refuses worker pods that break it; here it is applied, with the rule
Sluice adds for its own pods (read-only root filesystem), to every pod
template a manifest holds: the chart's and the operator's worker Deployments
(``from tests.pod_security import assert_restricted``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sluice_operator.pod_security import violations

Spec = Mapping[str, Any]
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def pod_specs(obj: Spec) -> Iterator[Spec]:
    """The pod spec(s) an object would run: pods, workloads' templates, CronJobs'."""
    kind = obj.get("kind")
    if kind == "Pod":
        yield obj["spec"]
    elif kind in WORKLOADS:
        yield obj["spec"]["template"]["spec"]
    elif kind == "CronJob":
        yield obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def restricted_violations(pod: Spec) -> list[str]:
    """Every way this pod spec breaks the restricted standard or Sluice's read-only root."""
    return [str(v) for v in violations(pod, read_only_root=True)]


def assert_restricted(obj: Spec) -> None:
    """Fail with every violation found in the object's pod templates."""
    specs = list(pod_specs(obj))
    assert specs, f"{obj.get('kind')} has no pod template"
    for pod in specs:
        problems = restricted_violations(pod)
        assert not problems, f"{obj.get('kind')}/{obj['metadata'].get('name')}: {problems}"
