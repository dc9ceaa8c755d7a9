"""The "restricted" Pod Security Standard, as a checker for rendered manifests.

``restricted_violations(pod_spec)`` lists what the API server's Pod Security
admission (level ``restricted``, latest version) would refuse, plus the one
rule Sluice adds on top: every container runs with a read-only root
filesystem. Used by the chart tests and by the operator's worker Deployment
tests (``from tests.pod_security import assert_restricted``).

Rules, from kubernetes.io/docs/concepts/security/pod-security-standards:
baseline (no host namespaces, ports or paths, no privileged containers, only
the default capabilities, no unsafe sysctls, default /proc mount, no custom
SELinux user/role, no Unconfined seccomp or AppArmor) and restricted (allowed
volume types, no privilege escalation, non-root, RuntimeDefault/Localhost
seccomp, capabilities dropped to ALL with at most NET_BIND_SERVICE added).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Spec = Mapping[str, Any]

RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SECCOMP_OK = {"RuntimeDefault", "Localhost"}
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


def _containers(pod: Spec) -> Iterator[Spec]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from pod.get(key) or []


def _baseline_pod(pod: Spec) -> Iterator[str]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            yield f"pod: {key} is true"
    psc = pod.get("securityContext") or {}
    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"pod: unsafe sysctl {sysctl.get('name')}"
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            yield f"volume {volume.get('name')}: type {sorted(kinds)} not allowed"


def _seccomp(ctx: Spec) -> str | None:
    return ((ctx.get("seccompProfile") or {}).get("type")) if ctx else None


def _restricted_pod(pod: Spec) -> Iterator[str]:
    psc = pod.get("securityContext") or {}
    containers = list(_containers(pod))
    contexts = [c.get("securityContext") or {} for c in containers]
    if not psc.get("runAsNonRoot") and not all(c.get("runAsNonRoot") for c in contexts):
        yield "runAsNonRoot must be true on the pod or on every container"
    if psc.get("runAsUser") == 0:
        yield "pod: runAsUser 0"
    pod_seccomp = _seccomp(psc)
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_OK:
        yield f"pod: seccompProfile {pod_seccomp}"
    if pod_seccomp is None and not all(_seccomp(c) in SECCOMP_OK for c in contexts):
        yield "seccompProfile RuntimeDefault/Localhost must be set on the pod or every container"


def _container(container: Spec) -> Iterator[str]:
    name = container.get("name")
    ctx = container.get("securityContext") or {}
    caps = ctx.get("capabilities") or {}
    checks = {
        "privileged": bool(ctx.get("privileged")),
        "hostPort": any(p.get("hostPort") for p in container.get("ports") or []),
        "allowPrivilegeEscalation must be false": ctx.get("allowPrivilegeEscalation") is not False,
        "runAsNonRoot false": ctx.get("runAsNonRoot") is False,
        "runAsUser 0": ctx.get("runAsUser") == 0,
        "capabilities must drop ALL": "ALL" not in (caps.get("drop") or []),
        "only NET_BIND_SERVICE may be added": bool(
            set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        ),
        "procMount must be Default": ctx.get("procMount", "Default") != "Default",
        "seccompProfile": _seccomp(ctx) not in (None, *SECCOMP_OK),
        "SELinux user/role may not be set": bool(
            {"user", "role"} & set(ctx.get("seLinuxOptions") or {})
        ),
        "readOnlyRootFilesystem must be true": ctx.get("readOnlyRootFilesystem") is not True,
    }
    for rule, broken in checks.items():
        if broken:
            yield f"container {name}: {rule}"


def restricted_violations(pod: Spec) -> list[str]:
    """Every way this pod spec breaks the restricted standard (empty: it complies)."""
    problems = [*_baseline_pod(pod), *_restricted_pod(pod)]
    for container in _containers(pod):
        problems += _container(container)
    return problems


def assert_restricted(obj: Spec) -> None:
    """Fail with every violation found in the object's pod templates."""
    specs = list(pod_specs(obj))
    assert specs, f"{obj.get('kind')} has no pod template"
    for pod in specs:
        problems = restricted_violations(pod)
        assert not problems, f"{obj.get('kind')}/{obj['metadata'].get('name')}: {problems}"
