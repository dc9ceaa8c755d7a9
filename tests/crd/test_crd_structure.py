"""The JobQueue CRD is one the API server accepts and ``kubectl`` can explain.

Structural schema (every node typed, unknown fields kept only where embedded
Kubernetes types live), descriptions everywhere, CEL rules that compile,
printer columns that point at declared fields, and a status that declares
every field the operator writes (the API server prunes the rest).
"""

from __future__ import annotations

import re
from typing import Any

import celpy
import kubernetes_validate
import pytest
from crd_tools import cel_rules, load_crd, root_schema, walk

import sluice_operator.jobqueue_status as written

# Fields whose subtree is an embedded Kubernetes type (or Kopf's own storage).
PRESERVED = {
    ".spec.worker.resources",
    ".spec.worker.env[]",
    ".spec.worker.podTemplate",
    # The PodSpec fields the restricted-standard CEL rules read are declared; the rest is kept.
    ".spec.worker.podTemplate.spec",
    ".spec.worker.podTemplate.spec.volumes[]",
    ".spec.worker.podTemplate.spec.volumes[].hostPath",
    ".spec.worker.podTemplate.spec.containers[]",
    ".spec.worker.podTemplate.spec.containers[].securityContext",
    ".spec.worker.podTemplate.spec.initContainers[]",
    ".spec.worker.podTemplate.spec.initContainers[].securityContext",
    ".status.kopf",
    ".spec.schedules[].payload",  # any JSON value, untyped: structural only when preserved
}

# The status the product promises (what `kubectl get` and dashboards rely on);
# the operator may write more, never less.
REQUIRED_STATUS_FIELDS = (
    "observedGeneration",
    "replicas",
    "readyReplicas",
    "desiredReplicas",
    "backlog",
    "inFlight",
    "delayed",
    "dead",
    "oldestAgeSeconds",
    "arrivalRate",
    "serviceTimeSeconds",
    "workers",
    "lastScaleTime",
    "lastScaleReason",
    "lastDecision",
    "conditions",
)
STANDARD_CONDITION_FIELDS = {
    "type",
    "status",
    "reason",
    "message",
    "lastTransitionTime",
    "observedGeneration",
}


def test_names_scope_and_subresources() -> None:
    crd = load_crd()
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "jobqueues.sluice.dev"
    assert (spec["group"], spec["scope"]) == ("sluice.dev", "Namespaced")
    assert spec["names"]["kind"] == "JobQueue"
    assert spec["names"]["plural"] == "jobqueues"
    assert spec["names"]["shortNames"] == ["jobq"]
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_the_crd_object_is_valid_for_every_supported_kubernetes() -> None:
    for minor in range(28, 38):
        if f"1.{minor}.0" in kubernetes_validate.utils.all_versions():
            kubernetes_validate.validate(load_crd(), f"1.{minor}", strict=True)


NODES = [pytest.param(path, node, id=path or "root") for path, node in walk(root_schema())]


@pytest.mark.parametrize(("path", "node"), NODES)
def test_schema_is_structural_and_described(path: str, node: dict[str, Any]) -> None:
    preserved = node.get("x-kubernetes-preserve-unknown-fields", False)
    # The two exceptions the structural-schema rules allow to an untyped node.
    untyped_ok = node.get("x-kubernetes-int-or-string") or preserved
    assert "type" in node or untyped_ok, f"{path}: no type"
    assert preserved == (path in PRESERVED), f"{path}: preserve-unknown-fields {preserved}"
    if path not in {".metadata"}:
        assert node.get("description", "").strip() or path.endswith("[]"), f"{path}: undescribed"
    if node.get("type") == "object" and not preserved and path != ".metadata":
        assert node.get("properties"), f"{path}: an object without properties"
    for name in node.get("required", []):
        assert name in node["properties"], f"{path}: requires undeclared {name}"


def test_every_spec_number_has_a_finite_range() -> None:
    """The API server refuses what the model refuses: .inf cannot be sent, 1e20 is above max."""
    numbers = [(p, n) for p, n in walk(root_schema()["properties"]["spec"])
               if n.get("type") in ("integer", "number")]  # fmt: skip
    assert len(numbers) >= 25
    for path, node in numbers:
        assert "minimum" in node, f"spec{path}: no minimum"
        assert "maximum" in node, f"spec{path}: no maximum"


def test_every_default_validates_against_its_own_node() -> None:
    for path, node in walk(root_schema()):
        if "default" not in node:
            continue
        kind = {"integer": int, "number": (int, float), "string": str, "boolean": bool}
        kind |= {"object": dict, "array": list}
        assert isinstance(node["default"], kind[node["type"]]), path
        if "enum" in node:
            assert node["default"] in node["enum"], path


@pytest.mark.parametrize("rule", cel_rules(root_schema()), ids=lambda r: r.message[:40])
def test_cel_rules_compile_and_say_why(rule: Any) -> None:
    celpy.Environment().compile(rule.rule)
    assert len(rule.message) > 20


def _resolve(path: str) -> dict[str, Any] | None:
    """The schema node a printer column's JSONPath selects (filters step into items)."""
    node: dict[str, Any] | None = root_schema()
    for part in re.findall(r"\.(\w+)|\[\?\(@\.(\w+)==[^]]*\)\]", path):
        field, filtered = part
        assert node is not None
        if filtered:
            node = node.get("items")
            if node is None or filtered not in node.get("properties", {}):
                return None
            continue
        if node.get("type") == "object" and field in ("creationTimestamp",):
            return {"type": "string", "format": "date-time"}  # ObjectMeta, not in our schema
        node = node.get("properties", {}).get(field)
        if node is None:
            return None
    return node


def test_printer_columns_point_at_declared_fields() -> None:
    columns = load_crd()["spec"]["versions"][0]["additionalPrinterColumns"]
    names = [c["name"] for c in columns]
    assert names[:6] == ["Backlog", "In-Flight", "Oldest", "Replicas", "Desired", "Ready"]
    assert names[-1] == "Age"
    for column in columns:
        node = _resolve(column["jsonPath"])
        assert node is not None, column
        expected = {"date": "string", "integer": "integer", "string": "string"}[column["type"]]
        assert node["type"] == expected, column


def test_a_column_path_that_does_not_exist_is_caught() -> None:
    assert _resolve(".status.backlogs") is None
    assert _resolve('.status.conditions[?(@.kind=="Ready")].status') is None


def test_every_status_field_the_operator_writes_is_declared() -> None:
    status = root_schema()["properties"]["status"]["properties"]
    assert set(REQUIRED_STATUS_FIELDS) <= set(written.STATUS_FIELDS)
    for name in written.STATUS_FIELDS:
        assert name in status, f"status.{name} would be pruned by the API server"
    assert set(status["lastDecision"]["properties"]) == set(written.DECISION_FIELDS)
    condition = status["conditions"]
    declared = set(condition["items"]["properties"])
    assert declared == set(written.CONDITION_FIELDS) == STANDARD_CONDITION_FIELDS
    assert condition["x-kubernetes-list-type"] == "map"
    assert condition["x-kubernetes-list-map-keys"] == ["type"]
    assert set(condition["items"]["required"]) == {"type", "status"}
