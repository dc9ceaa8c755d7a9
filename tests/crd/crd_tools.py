"""What the API server does with a JobQueue, re-enacted for tests without one.

No API server runs here, so these helpers play its admission steps in order:
defaulting from the schema, OpenAPI validation (jsonschema, with unknown
fields rejected as kubectl's default strict field validation does), then the
CEL rules (``x-kubernetes-validations``) evaluated with cel-python on values
typed from the schema, the way the API server types them (``number`` fields
are doubles even when written as ``300``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import yaml
from celpy import celtypes

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "crds" / "jobqueues.sluice.dev.yaml"
EXAMPLES = ROOT / "manifests" / "examples"

Schema = dict[str, Any]


def load_crd() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text())
    return data


def root_schema() -> Schema:
    version: dict[str, Any] = load_crd()["spec"]["versions"][0]
    schema: Schema = version["schema"]["openAPIV3Schema"]
    return schema


def spec_schema() -> Schema:
    schema: Schema = root_schema()["properties"]["spec"]
    return schema


def walk(schema: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Every schema node with its dotted path (``[]`` marks array items)."""
    yield path, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from walk(sub, f"{path}.{name}")
    if "items" in schema:
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}{{}}")


# --- defaulting ---------------------------------------------------------------


def apply_defaults(schema: Schema, value: Any) -> Any:
    """The value with the schema's defaults filled in, top-down like the API server."""
    if isinstance(value, dict) and "properties" in schema:
        out = dict(value)
        for name, sub in schema["properties"].items():
            if name not in out and "default" in sub:
                out[name] = copy.deepcopy(sub["default"])
            if name in out:
                out[name] = apply_defaults(sub, out[name])
        return out
    if isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], item) for item in value]
    return value


# --- OpenAPI validation -------------------------------------------------------


def to_jsonschema(schema: Schema) -> Schema:
    """OpenAPI v3.0 (as Kubernetes reads it) -> a JSON Schema draft 4 document.

    Draft 4 keeps the boolean ``exclusiveMinimum`` of OpenAPI 3.0. Objects
    that do not preserve unknown fields get ``additionalProperties: false``:
    kubectl's default (strict) field validation rejects unknown fields there.
    """
    out = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    out.pop("default", None)
    if "properties" in out:
        out["properties"] = {k: to_jsonschema(v) for k, v in out["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if "items" in out:
        out["items"] = to_jsonschema(out["items"])
    if out.pop("nullable", False):
        out["type"] = [out["type"], "null"]
    return out


def schema_errors(schema: Schema, value: Any) -> list[str]:
    validator = jsonschema.Draft4Validator(to_jsonschema(schema))
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)
    ]


# --- CEL ----------------------------------------------------------------------

_SCALARS = {
    "integer": celtypes.IntType,
    "number": celtypes.DoubleType,
    "string": celtypes.StringType,
    "boolean": celtypes.BoolType,
}


def cel_value(schema: Schema, value: Any) -> Any:
    """A JSON value as the CEL type the schema gives it."""
    kind = schema.get("type")
    if kind in _SCALARS:
        return _SCALARS[kind](value)
    if isinstance(value, list):
        items = schema.get("items", {})
        return celtypes.ListType([cel_value(items, v) for v in value])
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return celtypes.MapType(
            {celtypes.StringType(k): cel_value(props.get(k, {}), v) for k, v in value.items()}
        )
    return _untyped(value)


def _untyped(value: Any) -> Any:
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        return celtypes.IntType(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    return value


@dataclass(frozen=True)
class Rule:
    path: str
    rule: str
    message: str


def cel_rules(schema: Schema) -> list[Rule]:
    return [
        Rule(path, item["rule"], item["message"])
        for path, node in walk(schema)
        for item in node.get("x-kubernetes-validations", [])
    ]


_ENV = celpy.Environment()
_PROGRAMS: dict[str, Any] = {}


def _program(rule: str) -> Any:
    if rule not in _PROGRAMS:
        _PROGRAMS[rule] = _ENV.program(_ENV.compile(rule))
    return _PROGRAMS[rule]


def cel_failures(schema: Schema, value: Any) -> list[str]:
    """Messages of the CEL rules the (defaulted) value breaks, at every level."""
    failures: list[str] = []
    if value is None:
        return failures
    for item in schema.get("x-kubernetes-validations", []):
        result = _program(item["rule"]).evaluate({"self": cel_value(schema, value)})
        if result is not True and result != celtypes.BoolType(True):
            failures.append(item["message"])
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            failures += cel_failures(sub, value.get(name))
    if isinstance(value, list) and "items" in schema:
        for item_value in value:
            failures += cel_failures(schema["items"], item_value)
    return failures


def admit_spec(spec: Mapping[str, Any]) -> list[str]:
    """Every reason the API server would refuse this JobQueue spec (empty: admitted)."""
    schema = spec_schema()
    defaulted = apply_defaults(schema, dict(spec))
    errors = schema_errors(schema, defaulted)
    if errors:  # the API server stops at schema errors before running CEL
        return errors
    return cel_failures(schema, defaulted)


def example_documents() -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) for every document of every example manifest."""
    return [
        (path.name, doc)
        for path in sorted(EXAMPLES.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
