"""The restricted Pod Security checker catches what it must, and the worker pods pass it.

The worker Deployment is rendered by the operator (``render_deployment``)
from every example JobQueue, then validated as Kubernetes (strict) and held
to the restricted standard, as the chart's own pods are.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from chart_tools import ROOT, kube_versions, validate
from tests.pod_security import assert_restricted, restricted_violations

from sluice_operator.deployment import render_deployment
from sluice_operator.pod_security import violations
from sluice_scaling.spec import parse_spec

GOOD: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "app",
            "image": "app:1",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    ],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}


def _broken(path: str, value: Any) -> dict[str, Any]:
    pod = copy.deepcopy(GOOD)
    node: Any = pod
    *parents, leaf = path.split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    if value is None:
        del node[leaf]
    else:
        node[leaf] = value
    return pod


C = "containers.0.securityContext"
A = "containers[app].securityContext"  # how a violation names the field
BROKEN = [
    pytest.param("hostNetwork", True, "hostNetwork", id="host-network"),
    pytest.param("hostPID", True, "hostPID", id="host-pid"),
    pytest.param("volumes", [{"name": "h", "hostPath": {"path": "/"}}], "volumes[h].hostPath",
                 id="host-path"),
    pytest.param("securityContext.runAsNonRoot", None, "securityContext.runAsNonRoot",
                 id="may-run-as-root"),
    pytest.param("securityContext.runAsUser", 0, "securityContext.runAsUser", id="root-uid"),
    pytest.param("securityContext.seccompProfile", None, "securityContext.seccompProfile",
                 id="no-seccomp"),
    pytest.param("securityContext.seccompProfile", {"type": "Unconfined"},
                 "securityContext.seccompProfile.type", id="unconfined"),
    pytest.param("securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}],
                 "securityContext.sysctls", id="sysctl"),
    pytest.param(f"{C}.privileged", True, f"{A}.privileged", id="privileged"),
    pytest.param(f"{C}.allowPrivilegeEscalation", None, f"{A}.allowPrivilegeEscalation",
                 id="escalation-unset"),
    pytest.param(f"{C}.capabilities", {"drop": ["NET_RAW"]}, f"{A}.capabilities.drop",
                 id="caps-not-all-dropped"),
    pytest.param(f"{C}.capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]},
                 f"{A}.capabilities.add", id="cap-added"),
    pytest.param(f"{C}.runAsNonRoot", False, f"{A}.runAsNonRoot", id="container-as-root"),
    pytest.param(f"{C}.readOnlyRootFilesystem", False, f"{A}.readOnlyRootFilesystem",
                 id="writable-root"),
    pytest.param("containers.0.ports", [{"containerPort": 80, "hostPort": 80}],
                 "containers[app].ports", id="host-port"),
]  # fmt: skip


def test_a_compliant_pod_passes() -> None:
    assert restricted_violations(GOOD) == []


@pytest.mark.parametrize(("path", "value", "field"), BROKEN)
def test_each_violation_is_caught_and_names_the_field(path: str, value: Any, field: str) -> None:
    found = restricted_violations(_broken(path, value))
    assert found
    assert any(p.startswith(f"{field}: ") for p in found), found


def test_a_writable_root_is_sluices_rule_not_the_standards() -> None:
    pod = _broken(f"{C}.readOnlyRootFilesystem", False)
    assert violations(pod) == []  # what the operator holds a user's sidecar to
    assert violations(pod, read_only_root=True)


def test_init_containers_are_checked_too() -> None:
    pod = copy.deepcopy(GOOD)
    pod["initContainers"] = [{"name": "init", "image": "i:1"}]
    assert any(p.startswith("initContainers[init].") for p in restricted_violations(pod))


def test_net_bind_service_is_the_one_capability_allowed() -> None:
    pod = _broken(f"{C}.capabilities", {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})
    assert restricted_violations(pod) == []


def _example_specs() -> list[Any]:
    out = []
    for path in sorted((ROOT / "manifests" / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "JobQueue":
                out.append(pytest.param(doc, id=path.stem))
    return out


@pytest.mark.parametrize("doc", _example_specs())
def test_worker_deployment_of_every_example_is_valid_and_restricted(doc: dict[str, Any]) -> None:
    spec = parse_spec(doc["spec"])
    uid = "0b6f9e55-0000-4000-8000-000000000001"
    deployment = render_deployment(doc["metadata"]["name"], "apps", spec, uid=uid, replicas=1)
    assert_restricted(deployment)
    for version in kube_versions():
        validate(deployment, version)
