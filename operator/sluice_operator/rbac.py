"""The exact RBAC the operator needs, as data: the chart renders its Role/ClusterRole from it.

Each rule names the API group, the resource and the verbs, and whether it is
needed only when watching the whole cluster. A test runs the real operator
against the API emulator and checks that every call it makes is covered here
and that every rule here is used (or is one of :data:`CONDITIONAL`).

Why each one:

- ``jobqueues``: Kopf lists and watches them, and patches finalizers and its
  progress annotations; ``get`` serves ``kubectl``-style re-reads.
- ``jobqueues/status``: the scaling loop writes status through the operator's
  own client (``get`` to read it back).
- ``deployments``: watched (``list``/``watch``, with a label selector so only
  the operator's own) into a cache the loops read replicas and readiness from;
  ``get`` when the cache has not seen one yet; created, server-side applied
  and scaled.
- ``pods``: listed and annotated with ``pod-deletion-cost`` before a scale-down,
  so idle workers go first (RBAC cannot narrow it to the workers' label).
- ``secrets``: ``get`` the Redis URL, user, password and CA a JobQueue names
  (RBAC cannot narrow it to those names). Both grants hold in every namespace
  only when watching the whole cluster; with a namespace list the chart puts
  them in a Role per listed namespace and nothing cluster-wide.
- ``events``: Kopf posts the operator's events (ScaledUp, InvalidSpec, ...).
- ``leases`` (:data:`LEADER_RULES`, a Role in the operator's own namespace
  only): leader election reads, creates and renews one Lease; with sharding,
  one per shard plus a member Lease per replica, listed each round, and the
  member Leases of replicas long dead are deleted.
- cluster-wide only: ``namespaces`` list/watch (Kopf resolves namespace globs
  like ``team-*`` with them) and ``customresourcedefinitions`` list/watch (Kopf
  notices CRDs installed or removed while it runs).
"""

from __future__ import annotations

from dataclasses import dataclass

from sluice_scaling.resource import GROUP, PLURAL


@dataclass(frozen=True)
class Rule:
    group: str  # "" is the core API group
    resource: str  # "plural" or "plural/subresource"
    verbs: tuple[str, ...]
    cluster_only: bool = False  # only in the ClusterRole (--all-namespaces or namespace globs)


RULES: tuple[Rule, ...] = (
    Rule(GROUP, PLURAL, ("get", "list", "watch", "patch")),
    Rule(GROUP, f"{PLURAL}/status", ("get", "patch")),
    Rule("apps", "deployments", ("get", "list", "watch", "create", "patch")),
    Rule("", "pods", ("list", "patch")),
    Rule("", "secrets", ("get",)),
    Rule("", "events", ("create",)),
    Rule("", "namespaces", ("list", "watch"), cluster_only=True),
    Rule("apiextensions.k8s.io", "customresourcedefinitions", ("list", "watch"), cluster_only=True),
)

# Leader election: in the operator's own namespace, whatever it watches.
LEADER_RULES: tuple[Rule, ...] = (
    # list and delete only with sharding: who is alive, and dead replicas' member Leases.
    Rule("coordination.k8s.io", "leases", ("get", "list", "create", "patch", "delete")),
)

# Granted but not exercised by the emulator tests, with the reason.
CONDITIONAL: dict[tuple[str, str, str], str] = {
    (GROUP, PLURAL, "get"): "kubectl-style re-reads; Kopf's watch covers the loop",
    (GROUP, f"{PLURAL}/status", "get"): "reading status back; the loop keeps its own copy",
    ("", "namespaces", "list"): "only with namespace globs",
    ("", "namespaces", "watch"): "only with namespace globs",
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"): "Kopf, cluster-wide",
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch"): "Kopf, cluster-wide",
}


def grants() -> set[tuple[str, str, str]]:
    """Every (group, resource, verb) the rules allow (leader election included)."""
    return {(r.group, r.resource, verb) for r in (*RULES, *LEADER_RULES) for verb in r.verbs}


def as_manifest_rules(*, cluster: bool) -> list[dict[str, list[str]]]:
    """The rules as Kubernetes PolicyRules (for a ClusterRole when ``cluster``)."""
    return [
        {"apiGroups": [r.group], "resources": [r.resource], "verbs": list(r.verbs)}
        for r in RULES
        if cluster or not r.cluster_only
    ]


def leader_manifest_rules() -> list[dict[str, list[str]]]:
    """The Role for leader election, in the operator's namespace."""
    return [
        {"apiGroups": [r.group], "resources": [r.resource], "verbs": list(r.verbs)}
        for r in LEADER_RULES
    ]
