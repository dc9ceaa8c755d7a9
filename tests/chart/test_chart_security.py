"""What the chart grants to whom: the users' aggregated roles and the privileged-workers opt-in.

A JobQueue makes the operator create a Deployment with its own rights, so the
chart ships roles that give JobQueues to whoever may already edit (or view) a
namespace, and keeps the restricted Pod Security Standard for worker pods
unless ``workers.allowPrivileged`` is set: then the operator gets the flag and
the CRD drops the podTemplate rules that would refuse such JobQueues first.
"""

from __future__ import annotations

from typing import Any

import pytest
from chart_tools import Obj, of_kind, one, render

from sluice_operator.main import parse_args
from sluice_scaling import resource

AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"


def _role(objs: list[Obj], suffix: str) -> Obj:
    [role] = [r for r in of_kind(objs, "ClusterRole") if r["metadata"]["name"].endswith(suffix)]
    return role


def _grants(role: Obj) -> set[tuple[str, str, str]]:
    return {
        (group, res, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for res in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize("values", [{}, {"watch": {"namespaces": ["team-a"]}}],
                         ids=["cluster-wide", "namespaced"])  # fmt: skip
def test_user_roles_aggregate_into_the_built_in_roles(values: dict[str, Any]) -> None:
    objs = render(values)
    edit, view = _role(objs, "-jobqueue-edit"), _role(objs, "-jobqueue-view")
    assert (edit["metadata"]["name"], view["metadata"]["name"]) == (
        "sluice-jobqueue-edit",
        "sluice-jobqueue-view",
    )
    edit_labels, view_labels = edit["metadata"]["labels"], view["metadata"]["labels"]
    assert edit_labels[f"{AGGREGATE}edit"] == edit_labels[f"{AGGREGATE}admin"] == "true"
    assert view_labels[f"{AGGREGATE}view"] == "true"
    assert f"{AGGREGATE}view" not in edit_labels
    group, plural = resource.GROUP, resource.PLURAL
    writes = {"create", "delete", "deletecollection", "patch", "update"}
    assert {(group, plural, v) for v in writes | {"get", "list", "watch"}} <= _grants(edit)
    assert _grants(view) == {(group, r, v) for r in (plural, f"{plural}/status")
                             for v in ("get", "list", "watch")}  # fmt: skip
    # Status is the operator's to write; users never get secrets, pods or Deployments here.
    assert not {(g, r, v) for g, r, v in _grants(edit) if r.endswith("/status") and v in writes}
    assert {g for g, _, _ in _grants(edit) | _grants(view)} == {group}


def test_user_roles_can_be_left_out() -> None:
    names = [r["metadata"]["name"] for r in of_kind(render({"userRoles": {"create": False}}),
                                                        "ClusterRole")]  # fmt: skip
    assert names == ["sluice"]


def _pod_template_rules(objs: list[Obj]) -> list[dict[str, str]]:
    crd = one(objs, "CustomResourceDefinition")
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    worker = schema["properties"]["spec"]["properties"]["worker"]["properties"]
    rules: list[dict[str, str]] = worker["podTemplate"].get("x-kubernetes-validations", [])
    return rules


def _operator_args(objs: list[Obj]) -> list[str]:
    args: list[str] = one(objs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


def test_privileged_workers_are_off_by_default_in_the_operator_and_the_crd() -> None:
    objs = render()
    assert not parse_args(_operator_args(objs)).allow_privileged_workers
    messages = " ".join(r["message"] for r in _pod_template_rules(objs))
    for refused in ("hostNetwork", "hostPath", "privileged"):
        assert refused in messages


def test_the_opt_in_reaches_the_operator_and_lifts_the_crd_rules() -> None:
    objs = render({"workers": {"allowPrivileged": True}})
    assert parse_args(_operator_args(objs)).allow_privileged_workers
    assert _pod_template_rules(objs) == []
    # Only the podTemplate's rules go: the spec's other rules stay.
    crd = one(objs, "CustomResourceDefinition")
    assert "x-kubernetes-validations" in crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
        "properties"]["spec"]  # fmt: skip
