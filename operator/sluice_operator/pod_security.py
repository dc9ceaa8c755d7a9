"""The "restricted" Pod Security Standard as a checker of pod specs, naming each field.

The operator runs it on every worker pod it renders: a JobQueue's
``worker.podTemplate`` is merged into the pod, and without this check anyone
allowed to create a JobQueue could have the operator create pods with a
``hostPath: /`` volume, the host's PID or network namespace, or a privileged
root sidecar (a confused deputy). The chart's tests hold the chart's own pods
to it too.

:func:`violations` lists what the API server's Pod Security admission (level
``restricted``, latest version) would refuse; ``read_only_root=True`` adds the
rule Sluice holds its own pods to (every container's root filesystem is
read-only), which a user's sidecar need not follow. Each
:class:`Violation` names the field inside the pod spec, containers and volumes
by name (``containers[sidecar].securityContext.privileged``), so a message
points at what to remove from the JobQueue.

Rules, from kubernetes.io/docs/concepts/security/pod-security-standards:
baseline (no host namespaces, ports or paths, no privileged containers, only
the default capabilities, no unsafe sysctls, default /proc mount, no custom
SELinux user/role, no Unconfined seccomp or AppArmor) and restricted (allowed
volume types, no privilege escalation, non-root, RuntimeDefault/Localhost
seccomp, capabilities dropped to ALL with at most NET_BIND_SERVICE added).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Spec = Mapping[str, Any]

RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
SAFE_SYSCTLS = frozenset(
    {
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
)
SECCOMP_OK = frozenset({"RuntimeDefault", "Localhost"})
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class Violation:
    """One field of a pod spec that the restricted standard refuses, and why."""

    path: str  # inside the pod spec, e.g. "volumes[host].hostPath"
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def violations(pod: Spec, *, read_only_root: bool = False) -> list[Violation]:
    """Every way this pod spec breaks the restricted standard (empty: it complies)."""
    found = [*_host(pod), *_pod_context(pod), *_volumes(pod)]
    for key in CONTAINER_LISTS:
        for container in pod.get(key) or []:
            where = f"{key}[{container.get('name')}]"
            found += _container(where, container)
            ctx: Spec = container.get("securityContext") or {}
            if read_only_root and ctx.get("readOnlyRootFilesystem") is not True:
                found.append(
                    Violation(f"{where}.securityContext.readOnlyRootFilesystem", "must be true")
                )
    return found


def _host(pod: Spec) -> Iterator[Violation]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            yield Violation(key, "host namespaces are not allowed")


def _seccomp(ctx: Spec) -> str | None:
    return (ctx.get("seccompProfile") or {}).get("type") if ctx else None


def _pod_context(pod: Spec) -> Iterator[Violation]:
    psc: Spec = pod.get("securityContext") or {}
    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            reason = f"unsafe sysctl {sysctl.get('name')} is not allowed"
            yield Violation("securityContext.sysctls", reason)
    containers = [c for key in CONTAINER_LISTS for c in pod.get(key) or []]
    contexts = [c.get("securityContext") or {} for c in containers]
    if not psc.get("runAsNonRoot") and not all(c.get("runAsNonRoot") for c in contexts):
        reason = "must be true on the pod or on every container"
        yield Violation("securityContext.runAsNonRoot", reason)
    if psc.get("runAsUser") == 0:
        yield Violation("securityContext.runAsUser", "0 (root) is not allowed")
    pod_seccomp = _seccomp(psc)
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_OK:
        yield Violation("securityContext.seccompProfile.type", f"{pod_seccomp} is not allowed")
    if pod_seccomp is None and not all(_seccomp(c) in SECCOMP_OK for c in contexts):
        reason = "RuntimeDefault or Localhost must be set on the pod or every container"
        yield Violation("securityContext.seccompProfile", reason)


def _volumes(pod: Spec) -> Iterator[Violation]:
    for volume in pod.get("volumes") or []:
        for kind in sorted(set(volume) - {"name"} - RESTRICTED_VOLUMES):
            path = f"volumes[{volume.get('name')}].{kind}"
            yield Violation(path, f"{kind} volumes are not allowed")


def _container(where: str, container: Spec) -> Iterator[Violation]:
    ctx: Spec = container.get("securityContext") or {}
    caps: Spec = ctx.get("capabilities") or {}
    sc = f"{where}.securityContext"
    checks = {
        f"{sc}.privileged": ("must not be true", bool(ctx.get("privileged"))),
        f"{where}.ports": (
            "hostPort is not allowed",
            any(p.get("hostPort") for p in container.get("ports") or []),
        ),
        f"{sc}.allowPrivilegeEscalation": (
            "must be false",
            ctx.get("allowPrivilegeEscalation") is not False,
        ),
        f"{sc}.runAsNonRoot": ("must not be false", ctx.get("runAsNonRoot") is False),
        f"{sc}.runAsUser": ("0 (root) is not allowed", ctx.get("runAsUser") == 0),
        f"{sc}.capabilities.drop": ("must include ALL", "ALL" not in (caps.get("drop") or [])),
        f"{sc}.capabilities.add": (
            "only NET_BIND_SERVICE may be added",
            bool(set(caps.get("add") or []) - {"NET_BIND_SERVICE"}),
        ),
        f"{sc}.procMount": ("must be Default", ctx.get("procMount", "Default") != "Default"),
        f"{sc}.seccompProfile.type": (
            "must be RuntimeDefault or Localhost",
            _seccomp(ctx) not in (None, *SECCOMP_OK),
        ),
        f"{sc}.seLinuxOptions": (
            "user and role may not be set",
            bool({"user", "role"} & set(ctx.get("seLinuxOptions") or {})),
        ),
    }
    for path, (reason, broken) in checks.items():
        if broken:
            yield Violation(path, reason)
