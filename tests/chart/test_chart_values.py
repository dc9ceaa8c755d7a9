"""values.yaml is documented and values.schema.json holds it tight.

Every key the schema declares has a comment in values.yaml, the two list the
same keys, every object level of the schema forbids unknown keys, and
``helm template`` refuses values that break it (a typo, a wrong type).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from chart_tools import CHART, Obj, helm_run

SCHEMA: Obj = json.loads((CHART / "values.schema.json").read_text())
VALUES_TEXT = (CHART / "values.yaml").read_text()
VALUES: Obj = yaml.safe_load(VALUES_TEXT)

# Kubernetes types passed through verbatim; the API server (and kubernetes-validate
# in test_chart_render) checks them.
FREE_FORM = {"affinity", "tolerations[]"}


def _resolve(node: Obj) -> Obj:
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/definitions/")
        return _resolve(SCHEMA["definitions"][name])
    return node


def _objects(node: Obj, path: str = "") -> Iterator[tuple[str, Obj]]:
    node = _resolve(node)
    if node.get("type") == "object":
        yield path, node
    for name, sub in (node.get("properties") or {}).items():
        yield from _objects(sub, f"{path}.{name}".lstrip("."))
    if isinstance(node.get("items"), dict):
        yield from _objects(node["items"], f"{path}[]")


def _declared_keys(node: Obj, path: str = "") -> Iterator[str]:
    node = _resolve(node)
    for name, sub in (node.get("properties") or {}).items():
        yield f"{path}.{name}".lstrip(".")
        yield from _declared_keys(sub, f"{path}.{name}")


def test_every_object_level_of_the_schema_forbids_unknown_keys() -> None:
    seen = 0
    for path, node in _objects(SCHEMA):
        seen += 1
        extra = node.get("additionalProperties", True)
        if path in FREE_FORM:
            continue
        assert extra is False or isinstance(extra, dict), f"{path or 'values'} accepts any key"
        if isinstance(extra, dict):  # a map, e.g. labels: its values are still typed
            assert _resolve(extra).get("type"), path
    assert seen > 15


def test_values_and_schema_declare_the_same_keys() -> None:
    def keys(value: Any, path: str = "") -> Iterator[str]:
        if isinstance(value, dict):
            for name, sub in value.items():
                yield f"{path}.{name}".lstrip(".")
                yield from keys(sub, f"{path}.{name}")

    declared = set(_declared_keys(SCHEMA))
    in_values = set(keys(VALUES))
    # Entries of free-keyed maps (resources.requests, labels) are examples, not keys.
    in_values = {k for k in in_values if k in declared or not _under_map(k, declared)}
    assert declared == in_values


def _under_map(key: str, declared: set[str]) -> bool:
    parent = key.rsplit(".", 1)[0]
    return parent in declared and not any(d.startswith(parent + ".") for d in declared)


def _comment_before(lines: list[str], index: int) -> bool:
    indent = len(lines[index]) - len(lines[index].lstrip())
    previous = lines[index - 1] if index else ""
    return previous.strip().startswith("#") and previous.index("#") == indent


def test_every_declared_key_has_a_comment_in_values_yaml() -> None:
    lines = VALUES_TEXT.splitlines()
    stack: list[tuple[int, str]] = []
    declared = set(_declared_keys(SCHEMA))
    undocumented = []
    for index, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z][\w-]*):", line)
        if not match:
            continue
        indent = len(match[1])
        stack = [(i, k) for i, k in stack if i < indent]
        path = ".".join([k for _, k in stack] + [match[2]])
        stack.append((indent, match[2]))
        if path in declared and not _comment_before(lines, index):
            undocumented.append(path)
    assert undocumented == []


def test_the_comment_check_notices_a_missing_comment() -> None:
    lines = ["# documented", "a: 1", "b: 2"]
    assert _comment_before(lines, 1)
    assert not _comment_before(lines, 2)


REJECTED = [
    pytest.param({"imagee": {"tag": "1.0"}}, "imagee", id="typo-top-level"),
    pytest.param({"metrics": {"serviceMonitor": {"enable": True}}}, "enable", id="typo-nested"),
    pytest.param({"watch": {"namespaces": "team-a"}}, "namespaces", id="string-for-list"),
    pytest.param({"watch": {"namespaces": ["Team_A"]}}, "namespaces", id="bad-namespace"),
    pytest.param({"logging": {"format": "xml"}}, "format", id="format-enum"),
    pytest.param({"logging": {"level": "verbose"}}, "level", id="level-enum"),
    pytest.param({"image": {"tag": "latest"}}, "tag", id="latest-tag"),
    pytest.param({"metrics": {"port": "9090"}}, "port", id="port-as-string"),
    pytest.param({"redis": {"enabled": "yes"}}, "enabled", id="bool-as-string"),
    pytest.param({"resources": {"request": {"cpu": "1"}}}, "request", id="resources-typo"),
    pytest.param({"podLabels": {"team": 1}}, "team", id="label-not-string"),
    pytest.param({"webDashboard": {"allowActions": True}}, "tokenSecret", id="actions-no-token"),
    pytest.param({"webDashboard": {"port": 80}}, "port", id="privileged-port"),
]


@pytest.mark.parametrize(("values", "mentioned"), REJECTED)
def test_helm_template_rejects_values_that_break_the_schema(values: Obj, mentioned: str) -> None:
    done = helm_run("template", "sluice", str(CHART), values=values)
    assert done.returncode != 0, "helm rendered values the schema should refuse"
    assert mentioned in done.stderr, done.stderr
