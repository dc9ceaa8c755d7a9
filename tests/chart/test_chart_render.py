"""The chart renders valid, locked-down objects for every supported Kubernetes.

Each value set is rendered by the real ``helm template``; every object is
validated (strict) for every Kubernetes minor from Chart.yaml's kubeVersion
that kubernetes-validate ships, every pod template is held to the restricted
Pod Security Standard, and the operator's RBAC and command line are compared
with the operator's own code (``sluice_operator.rbac``, ``sluice_operator.main``).
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from chart_tools import (
    CHART,
    NAMESPACE,
    Obj,
    helm_run,
    kube_versions,
    named,
    of_kind,
    one,
    render,
    validate,
)
from tests.pod_security import assert_restricted, pod_specs

from sluice import __version__
from sluice_operator import rbac
from sluice_operator.deployment import render_deployment
from sluice_operator.main import namespaces, parse_args
from sluice_scaling.spec import parse_spec

LONG_RELEASE = "a-release-name-that-is-exactly-fifty-three-characters"
EVERYTHING = {
    "watch": {"namespaces": ["team-a", "team-b"]},
    "redis": {"enabled": True},
    "metrics": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "workerPodMonitor": {"enabled": True},
    },
    "dashboard": {"enabled": True},
    "webDashboard": {
        "enabled": True,
        "allowActions": True,
        "tokenSecret": {"name": "sluice-web-token"},
        "ingress": {"enabled": True, "className": "nginx", "tlsSecretName": "sluice-tls"},
    },
    "imagePullSecrets": [{"name": "regcred"}],
    "podLabels": {"team": "platform"},
}
VALUE_SETS = {
    "defaults": {},
    "namespaced": {"watch": {"namespaces": ["team-a", "team-b"]}},
    "cluster-wide-no-keep": {"watch": {"namespaces": []}, "crds": {"keep": False}},
    "redis": {"redis": {"enabled": True, "persistence": {"storageClassName": "fast"}}},
    "service-monitor": {"metrics": {"serviceMonitor": {"enabled": True}}},
    "worker-pod-monitor": {"metrics": {"workerPodMonitor": {"enabled": True}}},
    "dashboard": {"dashboard": {"enabled": True}},
    "web-dashboard": {"webDashboard": {"enabled": True}},
    "no-crds-text-logs": {"crds": {"install": False}, "logging": {"format": "text"}},
    "everything": EVERYTHING,
}
SETS = [pytest.param(v, id=k) for k, v in VALUE_SETS.items()]

# kubernetes-validate knows only built-in kinds; these are checked by a schema of their own.
CUSTOM_KINDS = {"ServiceMonitor", "PodMonitor"}


@pytest.mark.parametrize("values", SETS)
def test_helm_lint_strict(values: Obj) -> None:
    done = helm_run("lint", "--strict", "--namespace", NAMESPACE, str(CHART), values=values)
    assert done.returncode == 0, done.stdout + done.stderr


def test_kubernetes_versions_cover_the_floor_to_the_newest() -> None:
    versions = kube_versions()
    assert versions[0] == "1.28"
    assert len(versions) >= 8, versions


@pytest.mark.parametrize("version", kube_versions())
@pytest.mark.parametrize("values", SETS)
def test_every_object_is_valid_kubernetes(values: Obj, version: str) -> None:
    objs = render(values)
    assert objs
    for obj in objs:
        if obj["kind"] not in CUSTOM_KINDS:
            validate(obj, version)


@pytest.mark.parametrize("values", SETS)
def test_every_pod_template_is_restricted(values: Obj) -> None:
    workloads = [o for o in render(values) if list(pod_specs(o))]
    assert workloads
    for obj in workloads:
        assert_restricted(obj)


def test_objects_are_labelled_and_named_within_63_characters() -> None:
    objs = render(EVERYTHING, release=LONG_RELEASE)
    for obj in objs:
        meta = obj["metadata"]
        assert len(meta["name"]) <= 63, meta["name"]
        if obj["kind"] == "CustomResourceDefinition":
            continue  # the copy from crds/ keeps its own labels
        labels = meta["labels"]
        assert labels["app.kubernetes.io/instance"] == LONG_RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert all(len(v) <= 63 for v in labels.values()), labels
    names = [(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objs]
    assert len(names) == len(set(names)), "two objects of one kind share a name"


def _rules(role: Obj) -> list[dict[str, Any]]:
    return [{k: rule[k] for k in ("apiGroups", "resources", "verbs")} for rule in role["rules"]]


def _operator_role(objs: list[Obj]) -> Obj:
    """The operator's ClusterRole (the others are the aggregated user roles)."""
    [role] = [r for r in of_kind(objs, "ClusterRole") if not r["metadata"]["name"].endswith(
        ("-jobqueue-edit", "-jobqueue-view"))]  # fmt: skip
    return role


def _watch_roles(objs: list[Obj], kind: str) -> list[Obj]:
    """Roles (or bindings) for the watched namespaces, without leader election's."""
    return [o for o in of_kind(objs, kind) if not o["metadata"]["name"].endswith("-election")]


def test_cluster_wide_rbac_is_exactly_the_operators_rules() -> None:
    objs = render()
    assert not _watch_roles(objs, "Role")
    assert not _watch_roles(objs, "RoleBinding")
    assert _rules(_operator_role(objs)) == rbac.as_manifest_rules(cluster=True)
    binding = one(objs, "ClusterRoleBinding")
    account = one(objs, "ServiceAccount")["metadata"]
    assert binding["roleRef"]["name"] == _operator_role(objs)["metadata"]["name"]
    expected = {"kind": "ServiceAccount", "name": account["name"], "namespace": NAMESPACE}
    assert binding["subjects"] == [expected]


def test_namespaced_rbac_is_a_role_per_namespace_and_nothing_cluster_wide() -> None:
    objs = render(VALUE_SETS["namespaced"])
    # Cluster-wide: only the user roles, which grant nothing on secrets or pods.
    user_roles = of_kind(objs, "ClusterRole")
    assert {r["metadata"]["name"] for r in user_roles} == {
        "sluice-jobqueue-edit",
        "sluice-jobqueue-view",
    }
    for role in user_roles:
        assert {res for rule in role["rules"] for res in rule["resources"]} <= {
            "jobqueues",
            "jobqueues/status",
        }
    assert not of_kind(objs, "ClusterRoleBinding")
    roles = _watch_roles(objs, "Role")
    assert [r["metadata"]["namespace"] for r in roles] == ["team-a", "team-b"]
    for role in roles:
        assert _rules(role) == rbac.as_manifest_rules(cluster=False)
    bindings = _watch_roles(objs, "RoleBinding")
    assert [b["metadata"]["namespace"] for b in bindings] == ["team-a", "team-b"]
    account = one(objs, "ServiceAccount")["metadata"]["name"]
    for binding in bindings:
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": roles[0]["metadata"]["name"],
        }
        assert binding["subjects"][0]["name"] == account
        assert binding["subjects"][0]["namespace"] == NAMESPACE


def _operator(values: Obj) -> Obj:
    container: Obj = one(render(values), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return container


@pytest.mark.parametrize(
    ("values", "watched"),
    [
        pytest.param({}, [], id="all-namespaces"),
        pytest.param(VALUE_SETS["namespaced"], ["team-a", "team-b"], id="namespaced"),
    ],
)
def test_operator_command_line_parses_with_the_operators_own_parser(
    values: Obj, watched: list[str]
) -> None:
    container = _operator(values)
    args = parse_args(container["args"])
    assert namespaces(args) == watched
    assert args.all_namespaces == (not watched)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert args.metrics_port == ports["metrics"] == 9090
    assert args.liveness_port == ports["health"]
    probe = container["livenessProbe"]["httpGet"]
    assert probe == {"path": "/healthz", "port": "health"}
    assert (args.log_level, args.log_format) == ("info", "json")


def test_log_settings_and_image_tag_follow_values() -> None:
    values = {"logging": {"level": "debug", "format": "text"}, "image": {"tag": "1.2.3"}}
    container = _operator(values)
    args = parse_args(container["args"])
    assert (args.log_level, args.log_format) == ("debug", "text")
    assert container["image"] == "ghcr.io/sluice-dev/sluice-operator:1.2.3"
    assert _operator({})["image"].endswith(f":{__version__}")  # appVersion


def test_operator_runs_two_replicas_one_leading_through_a_lease() -> None:
    objs = render()
    deployment = one(objs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == one(objs, "ServiceAccount")["metadata"]["name"]
    assert pod["securityContext"]["runAsUser"] == 10001  # the USER of operator/Dockerfile
    args = parse_args(pod["containers"][0]["args"])
    assert args.leader_elect
    assert args.lease_namespace == NAMESPACE
    assert args.retry_period < args.renew_deadline < args.lease_duration
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in pod["containers"][0]["env"]}
    assert env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}


def test_leader_election_role_is_exactly_the_lease_rules_in_the_release_namespace() -> None:
    objs = render(VALUE_SETS["namespaced"])  # whatever is watched, the Lease is at home
    [role] = [r for r in of_kind(objs, "Role") if r["metadata"]["name"].endswith("-election")]
    assert role["metadata"]["namespace"] == NAMESPACE
    assert _rules(role) == rbac.leader_manifest_rules()
    [binding] = [
        b for b in of_kind(objs, "RoleBinding") if b["metadata"]["name"].endswith("-election")
    ]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"] == one(objs, "ServiceAccount")["metadata"]["name"]


def test_replicas_spread_over_nodes_and_a_drain_keeps_one() -> None:
    objs = render()
    pod = one(objs, "Deployment")["spec"]["template"]
    anti = pod["spec"]["affinity"]["podAntiAffinity"]
    [term] = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= (
        pod["metadata"]["labels"].items()
    )
    pdb = one(objs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    hard = one(render({"podAntiAffinity": "hard"}), "Deployment")["spec"]["template"]["spec"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" in hard["affinity"]["podAntiAffinity"]


def test_one_replica_without_leader_election_is_recreated_and_has_no_lease() -> None:
    values = {"replicaCount": 1, "leaderElection": {"enabled": False}}
    objs = render(values)
    deployment = one(objs, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not of_kind(objs, "PodDisruptionBudget")
    assert not [r for r in of_kind(objs, "Role") if r["metadata"]["name"].endswith("-election")]
    args = parse_args(deployment["spec"]["template"]["spec"]["containers"][0]["args"])
    assert not args.leader_elect


def test_two_replicas_without_leader_election_are_refused() -> None:
    result = helm_run("template", "x", str(CHART), values={"leaderElection": {"enabled": False}})
    assert result.returncode != 0
    assert "needs leaderElection.enabled" in result.stderr


def test_metrics_service_selects_only_the_operator_pod() -> None:
    objs = render(VALUE_SETS["redis"])
    service = named(objs, "Service", "-metrics")
    selector = service["spec"]["selector"].items()
    operator_labels = one(objs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    redis_labels = one(objs, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    assert selector <= operator_labels.items()
    assert not selector <= redis_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"


SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "metadata": {"required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {
                    "type": "object",
                    "properties": {"matchLabels": {"type": "object"}},
                    "additionalProperties": False,
                },
                "namespaceSelector": {
                    "type": "object",
                    "properties": {"matchNames": {"type": "array", "items": {"type": "string"}}},
                    "additionalProperties": False,
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["port"],
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                        },
                    },
                },
            },
        },
    },
}


def test_service_monitor_scrapes_the_metrics_service() -> None:
    objs = render(EVERYTHING)
    monitor = one(objs, "ServiceMonitor")
    jsonschema.validate(monitor, SERVICE_MONITOR_SCHEMA)
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    service = named(objs, "Service", "-metrics")
    selector = monitor["spec"]["selector"]["matchLabels"].items()
    assert selector <= service["metadata"]["labels"].items()
    redis = named(objs, "Service", "-redis")
    assert not selector <= redis["metadata"]["labels"].items()
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert not of_kind(render(), "ServiceMonitor")


def test_kube_version_floor_is_enforced() -> None:
    chart = str(CHART)
    too_old = helm_run("template", "sluice", chart, "--kube-version", "1.27.9")
    assert too_old.returncode != 0
    assert "kubeVersion" in too_old.stderr
    floor = helm_run("template", "sluice", chart, "--kube-version", f"{kube_versions()[0]}.0")
    assert floor.returncode == 0, floor.stderr


def test_an_existing_service_account_can_be_used() -> None:
    objs = render({"serviceAccount": {"create": False, "name": "ops-robot"}})
    assert not of_kind(objs, "ServiceAccount")
    assert one(objs, "ClusterRoleBinding")["subjects"][0]["name"] == "ops-robot"
    pod = one(objs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "ops-robot"
    missing = helm_run(
        "template", "sluice", str(CHART), values={"serviceAccount": {"create": False}}
    )
    assert "serviceAccount.name is required" in missing.stderr


POD_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "podMetricsEndpoints"],
            "properties": {
                "selector": SERVICE_MONITOR_SCHEMA["properties"]["spec"]["properties"]["selector"]
                | {"properties": {"matchExpressions": {"type": "array"}}},
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array"}},
                },
                "podMetricsEndpoints": SERVICE_MONITOR_SCHEMA["properties"]["spec"]["properties"][
                    "endpoints"
                ],
            },
        },
    },
}


def _selects(selector: Obj, labels: dict[str, str]) -> bool:
    """A label selector with matchLabels and Exists/DoesNotExist expressions."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        present = expr["key"] in labels
        if present != (expr["operator"] == "Exists"):
            return False
    return True


@pytest.mark.parametrize(
    ("values", "namespaces"),
    [
        pytest.param({}, None, id="all-namespaces"),
        pytest.param(VALUE_SETS["namespaced"], ["team-a", "team-b"], id="namespaced"),
    ],
)
def test_worker_pod_monitor_scrapes_the_pods_the_operator_renders(
    values: Obj, namespaces: list[str] | None
) -> None:
    enabled = {**values, "metrics": {"workerPodMonitor": {"enabled": True}}}
    monitor = one(render(enabled), "PodMonitor")
    jsonschema.validate(monitor, POD_MONITOR_SCHEMA)
    raw = {"redis": {"url": "redis://r:6379"}, "worker": {"image": "i:1", "tasks": "m:t"}}
    worker = render_deployment("thumbnails", "team-a", parse_spec(raw), uid="u", replicas=1)
    pod = worker["spec"]["template"]
    assert _selects(monitor["spec"]["selector"], pod["metadata"]["labels"])
    assert not _selects(monitor["spec"]["selector"], {"app.kubernetes.io/name": "sluice"})
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
    assert endpoint["port"] in ports
    expected = {"matchNames": namespaces} if namespaces else {"any": True}
    assert monitor["spec"]["namespaceSelector"] == expected
    assert not of_kind(render(values), "PodMonitor")


def test_the_web_dashboard_is_off_by_default() -> None:
    objs = render({})
    assert not [o for o in objs if o["metadata"]["name"].endswith("-web")]
    args = parse_args(_operator({})["args"])
    assert args.dashboard_port == 0


def test_the_web_dashboard_runs_in_the_operator_behind_its_service_and_ingress() -> None:
    values = EVERYTHING
    objs = render(values)
    container = _operator(values)
    args = parse_args(container["args"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert args.dashboard_port == ports["web"] == 8089
    assert (args.dashboard_allow_actions, args.dashboard_show_payloads) == (True, False)
    # The token comes from the Secret, never from an argument.
    (env,) = [e for e in container["env"] if e["name"] == "SLUICE_DASHBOARD_TOKEN"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "sluice-web-token", "key": "token"}
    assert not any("token" in a for a in container["args"])

    service = named(objs, "Service", "-web")
    operator_labels = one(objs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= operator_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "web"
    ingress = one(objs, "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": service["metadata"]["name"], "port": {"name": "web"}}
    assert ingress["spec"]["tls"][0]["secretName"] == "sluice-tls"
    assert ingress["spec"]["ingressClassName"] == "nginx"


def test_actions_without_a_token_secret_are_refused() -> None:
    done = helm_run(
        "template", "sluice", str(CHART),
        values={"webDashboard": {"enabled": True, "allowActions": True}},
    )  # fmt: skip
    assert done.returncode != 0
    assert "tokenSecret" in done.stderr
