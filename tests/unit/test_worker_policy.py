"""The operator refuses worker pods beyond the restricted Pod Security Standard, naming the field.

A JobQueue's ``worker.podTemplate`` is merged into pods the operator creates
with its own rights; these are the requests the issue found it would grant
(hostPath, host namespaces, a privileged root sidecar) and the ones it must
keep granting (labels, tolerations, a restricted sidecar, a service account).
"""

from __future__ import annotations

from typing import Any

import pytest

from sluice_operator.deployment import render_deployment
from sluice_operator.worker_policy import (
    REASON,
    ForbiddenPodTemplate,
    check_pod_template,
    pod_template_problems,
)
from sluice_scaling.spec import JobQueueSpec, SpecError, parse_spec

BASE: dict[str, Any] = {
    "redis": {"url": "redis://redis:6379/0"},
    "worker": {"image": "registry.example/app:1.0", "tasks": "app.tasks:tasks"},
}
SAFE_SIDECAR = {
    "name": "proxy",
    "image": "proxy:1",
    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
}
ROOT_SIDECAR = {
    "name": "debug",
    "image": "busybox",
    "securityContext": {"privileged": True, "runAsUser": 0},
}


def with_template(pod_spec: dict[str, Any], **meta: Any) -> JobQueueSpec:
    template = {"spec": pod_spec, **({"metadata": meta} if meta else {})}
    return parse_spec({**BASE, "worker": {**BASE["worker"], "podTemplate": template}})


def _pod(spec: JobQueueSpec) -> dict[str, Any]:
    pod: dict[str, Any] = render_deployment("q", "ns", spec, uid="u")["spec"]["template"]["spec"]
    return pod


P = "spec.worker.podTemplate.spec"
REFUSED = [
    pytest.param({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
                 f"{P}.volumes[root].hostPath", id="host-path"),
    pytest.param({"hostPID": True}, f"{P}.hostPID", id="host-pid"),
    pytest.param({"hostNetwork": True}, f"{P}.hostNetwork", id="host-network"),
    pytest.param({"hostIPC": True}, f"{P}.hostIPC", id="host-ipc"),
    pytest.param({"containers": [ROOT_SIDECAR]},
                 f"{P}.containers[debug].securityContext.privileged", id="privileged-sidecar"),
    pytest.param({"containers": [ROOT_SIDECAR]},
                 f"{P}.containers[debug].securityContext.runAsUser", id="root-sidecar"),
    pytest.param({"containers": [{"name": "bare", "image": "b"}]},
                 f"{P}.containers[bare].securityContext.allowPrivilegeEscalation",
                 id="sidecar-may-escalate"),
    pytest.param({"initContainers": [{**SAFE_SIDECAR, "securityContext": {
                     **SAFE_SIDECAR["securityContext"],
                     "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}}]},
                 f"{P}.initContainers[proxy].securityContext.capabilities.add", id="cap-add"),
    pytest.param({"securityContext": {"runAsUser": 0}}, f"{P}.securityContext.runAsUser",
                 id="pod-as-root"),
    pytest.param({"securityContext": {"seccompProfile": {"type": "Unconfined"}}},
                 f"{P}.securityContext.seccompProfile.type", id="unconfined"),
]  # fmt: skip


@pytest.mark.parametrize(("pod_spec", "field"), REFUSED)
def test_a_pod_template_beyond_restricted_is_refused_naming_the_field(
    pod_spec: dict[str, Any], field: str
) -> None:
    spec = with_template(pod_spec)
    problems = pod_template_problems(spec)
    assert any(p.startswith(f"{field}: ") for p in problems), problems
    assert all("restricted Pod Security Standard" in p for p in problems)
    with pytest.raises(ForbiddenPodTemplate) as caught:
        check_pod_template(spec)
    assert isinstance(caught.value, SpecError)  # handled like any invalid spec
    assert caught.value.reason == REASON


ALLOWED = [
    pytest.param({}, {}, id="nothing"),
    pytest.param({"nodeSelector": {"pool": "queues"}, "tolerations": [{"key": "q"}],
                  "priorityClassName": "batch"}, {"labels": {"team": "a"}}, id="scheduling"),
    pytest.param({"containers": [SAFE_SIDECAR]}, {}, id="restricted-sidecar"),
    pytest.param({"volumes": [{"name": "cache", "emptyDir": {}}],
                  "containers": [{"name": "worker",
                                  "volumeMounts": [{"name": "cache", "mountPath": "/c"}]}]},
                 {}, id="emptydir-mounted-into-the-worker"),
    pytest.param({"serviceAccountName": "thumbnails"}, {}, id="service-account"),
    # A user's worker container cannot loosen Sluice's own security context.
    pytest.param({"containers": [{"name": "worker", "securityContext": {"privileged": True}}]},
                 {}, id="worker-context-is-sluices"),
]  # fmt: skip


@pytest.mark.parametrize(("pod_spec", "meta"), ALLOWED)
def test_a_restricted_pod_template_is_allowed(
    pod_spec: dict[str, Any], meta: dict[str, Any]
) -> None:
    spec = with_template(pod_spec, **meta)
    assert pod_template_problems(spec) == []
    assert check_pod_template(spec) is spec


def test_no_service_account_token_unless_asked() -> None:
    assert _pod(parse_spec(BASE))["automountServiceAccountToken"] is False
    named = with_template({"serviceAccountName": "thumbnails"})
    assert _pod(named)["automountServiceAccountToken"] is False
    asked = with_template(
        {"serviceAccountName": "thumbnails", "automountServiceAccountToken": True}
    )
    assert _pod(asked)["automountServiceAccountToken"] is True
    assert _pod(asked)["serviceAccountName"] == "thumbnails"
