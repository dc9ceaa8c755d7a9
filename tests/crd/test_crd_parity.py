"""The CRD schema generated from the pydantic model describes the same spec as the model.

The CRD is made from the model (scripts/gen_crd.py), so this checks the
generator's rewrite rather than two hand-kept copies. It walks
``JobQueueSpec.model_fields`` recursively by alias (camelCase) next to the
CRD's ``spec`` schema: same fields both ways, same types, same required set,
same defaults (a nested model's default is ``{}`` in the CRD, filled by its
children's defaults), same bounds, enums and patterns.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types as at
import pytest
from crd_tools import apply_defaults, spec_schema
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from sluice_scaling.spec import JobQueueSpec

# Constraints the CRD adds where the model checks in a validator: the url's
# scheme is checked by RedisSpec's validator.
CRD_ONLY = {".redis.url": {"pattern"}}

_SCALAR = {str: "string", int: "integer", float: "number", bool: "boolean"}
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength", "maxItems",
           "pattern")  # fmt: skip


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        assert len(args) == 1, annotation
        return args[0]
    return annotation


def _item_model(annotation: Any) -> type[BaseModel] | None:
    """``list[SomeModel]`` -> ``SomeModel`` (spec.schedules), else None."""
    kind = _unwrap(annotation)
    if get_origin(kind) is list:
        (item,) = get_args(kind)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None


def _fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {info.alias or name: info for name, info in model.model_fields.items()}


def _pairs(
    model: type[BaseModel], schema: dict[str, Any], path: str = ""
) -> list[tuple[str, FieldInfo, dict[str, Any]]]:
    out = []
    for alias, info in _fields(model).items():
        sub = schema["properties"].get(alias, {})
        out.append((f"{path}.{alias}", info, sub))
        kind = _unwrap(info.annotation)
        if isinstance(kind, type) and issubclass(kind, BaseModel) and sub:
            out += _pairs(kind, sub, f"{path}.{alias}")
        elif (item := _item_model(info.annotation)) and sub:
            out += _pairs(item, sub["items"], f"{path}.{alias}[]")
    return out


PAIRS = _pairs(JobQueueSpec, spec_schema())
IDS = [path for path, _, _ in PAIRS]


def _models(model: type[BaseModel], schema: dict[str, Any], path: str = "") -> list[Any]:
    out = [pytest.param(model, schema, id=path or "spec")]
    for alias, info in _fields(model).items():
        kind = _unwrap(info.annotation)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out += _models(kind, schema["properties"][alias], f"{path}.{alias}")
        elif item := _item_model(info.annotation):
            out += _models(item, schema["properties"][alias]["items"], f"{path}.{alias}[]")
    return out


@pytest.mark.parametrize(("model", "schema"), _models(JobQueueSpec, spec_schema()))
def test_same_fields_and_required_set(model: type[BaseModel], schema: dict[str, Any]) -> None:
    fields = _fields(model)
    assert set(fields) == set(schema["properties"])
    required = {alias for alias, info in fields.items() if info.is_required()}
    assert required == set(schema.get("required", []))


def _expected_type(annotation: Any) -> dict[str, Any]:
    kind = _unwrap(annotation)
    if kind is Any:  # any JSON value (a schedule's payload)
        return {"type": None, "x-kubernetes-preserve-unknown-fields": True}
    if kind in _SCALAR:
        return {"type": _SCALAR[kind]}
    if get_origin(kind) is Literal:
        return {"type": "string", "enum": list(get_args(kind))}
    if get_origin(kind) is dict:
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if get_origin(kind) is list:
        return {"type": "array"}
    assert issubclass(kind, BaseModel), annotation
    return {"type": "object"}


@pytest.mark.parametrize(("path", "info", "schema"), PAIRS, ids=IDS)
def test_same_type(path: str, info: FieldInfo, schema: dict[str, Any]) -> None:
    expected = _expected_type(info.annotation)
    assert {k: schema.get(k) for k in expected} == expected, path
    if _item_model(info.annotation):
        assert schema["items"]["type"] == "object", path
    elif get_origin(_unwrap(info.annotation)) is list:  # list[dict[str, Any]]: EnvVar objects
        items = schema["items"]
        assert items == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _model_bounds(info: FieldInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for meta in info.metadata:
        if isinstance(meta, at.Ge):
            out["minimum"] = meta.ge
        elif isinstance(meta, at.Gt):
            out |= {"minimum": meta.gt, "exclusiveMinimum": True}
        elif isinstance(meta, at.Le):
            out["maximum"] = meta.le
        elif isinstance(meta, at.MinLen):
            out["minLength"] = meta.min_length
        elif isinstance(meta, at.MaxLen) and get_origin(_unwrap(info.annotation)) is list:
            out["maxItems"] = meta.max_length
        elif isinstance(meta, at.MaxLen):
            out["maxLength"] = meta.max_length
        elif getattr(meta, "pattern", None) is not None:
            out["pattern"] = meta.pattern
        elif getattr(meta, "allow_inf_nan", None) is False:
            continue  # the model's config refuses NaN and infinities anyway; JSON has neither
        else:
            raise AssertionError(f"unmapped constraint {meta!r}: teach this test")
    return out


@pytest.mark.parametrize(("path", "info", "schema"), PAIRS, ids=IDS)
def test_same_bounds_and_pattern(path: str, info: FieldInfo, schema: dict[str, Any]) -> None:
    crd = {k: schema[k] for k in _BOUNDS if k in schema}
    for key in CRD_ONLY.get(path, set()):
        crd.pop(key)
    assert crd == _model_bounds(info), path


@pytest.mark.parametrize(("path", "info", "schema"), PAIRS, ids=IDS)
def test_same_default(path: str, info: FieldInfo, schema: dict[str, Any]) -> None:
    if info.is_required() or info.default is None:
        assert "default" not in schema, f"{path}: the model has no default"
        return
    if isinstance(info.default, BaseModel):
        assert schema["default"] == {}, path
        filled = apply_defaults(schema, {})
        assert filled == info.default.model_dump(by_alias=True, exclude_none=True), path
        return
    assert schema["default"] == info.default, path
    assert type(schema["default"]) in (type(info.default), int), path


def test_defaults_of_a_minimal_spec_agree_end_to_end() -> None:
    raw = {"redis": {"url": "redis://r:6379"}, "worker": {"image": "i", "tasks": "m:t"}}
    model = JobQueueSpec.model_validate(raw).model_dump(by_alias=True, exclude_none=True)
    assert apply_defaults(spec_schema(), raw) == model


def test_the_walk_sees_every_leaf() -> None:
    assert len(PAIRS) >= 45  # a broken walk that stops early would pass everything above
    assert ".scaling.scaleDown.stabilizationWindowSeconds" in IDS
    assert ".redis.tls.caSecretRef.name" in IDS
    assert ".schedules[].timeZone" in IDS
