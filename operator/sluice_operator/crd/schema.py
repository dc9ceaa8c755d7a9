"""Pydantic's JSON Schema for a model, rewritten as a Kubernetes structural schema.

Pydantic already knows every field, alias, bound, default and docstring, and
writes them as JSON Schema 2020-12; so the CRD is made from its output rather
than by a second walker over the models. The API server wants the OpenAPI
v3.0 subset a CRD may hold, and *structural*: every node typed and inlined
(no ``$ref``, no ``anyOf`` around ``null``), ``exclusiveMinimum`` as a
boolean beside ``minimum``, and an object either pruned to its declared
fields or explicitly kept whole with ``x-kubernetes-preserve-unknown-fields``.
This module does that rewrite and nothing else, and refuses any keyword it
does not know rather than pass on one the API server would reject.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]

PRESERVE = "x-kubernetes-preserve-unknown-fields"
# The keywords a node may carry, in the order the CRD file lists them.
ORDER = (
    "type",
    "format",
    "default",
    "enum",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "maxItems",
    "pattern",
    "maxItems",
    "description",
    PRESERVE,
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-validations",
    "required",
    "properties",
    "items",
)
_DROPPED = ("title", "additionalProperties")


def structural_schema(model: type[BaseModel]) -> Schema:
    """The model's validation schema (camelCase names) as a structural CRD schema."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Schema] = raw.pop("$defs", {})
    return _node(raw, defs)


def _inline(node: Schema, defs: dict[str, Schema]) -> Schema:
    """``$ref`` replaced by its target and ``X | None`` by ``X``; the field's own keys win.

    The field's keys (its description, default) override the target's (the
    model's docstring), so one model can be described per use.
    """
    rest = {k: v for k, v in node.items() if k not in ("$ref", "anyOf", "allOf")}
    if "$ref" in node:
        return {**_inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs), **rest}
    branches = node.get("anyOf") or node.get("allOf")
    if branches is None:
        return node
    kept = [b for b in branches if b != {"type": "null"}]
    if len(kept) != 1:
        raise ValueError(f"no structural schema for a union of {len(kept)} types: {node}")
    return {**_inline(kept[0], defs), **rest}


def _node(node: Schema, defs: dict[str, Schema]) -> Schema:
    node = _inline(node, defs)
    out: Schema = {k: v for k, v in node.items() if k not in _DROPPED}
    if "properties" in node:
        out["properties"] = {k: _node(v, defs) for k, v in node["properties"].items()}
    if node.get("type") == "object" and node.get("additionalProperties") is True:
        # dict[str, Any]: an embedded Kubernetes type, kept as written (a few of its
        # fields may still be declared, so CEL rules can read them).
        out[PRESERVE] = True
    if "items" in node:
        out["items"] = _node(node["items"], defs)
    _exclusive(out, "exclusiveMinimum", "minimum")
    _exclusive(out, "exclusiveMaximum", "maximum")
    _default(out)
    if "description" in out:
        out["description"] = " ".join(str(out["description"]).split())
    unknown = set(out) - set(ORDER)
    if unknown:
        raise ValueError(f"keywords a CRD schema cannot hold here: {sorted(unknown)}")
    return {k: out[k] for k in ORDER if k in out}


def _exclusive(out: Schema, exclusive: str, inclusive: str) -> None:
    """JSON Schema's numeric ``exclusiveMinimum: 0`` is OpenAPI 3.0's ``minimum: 0`` + ``true``."""
    bound = out.get(exclusive)
    if bound is not None and not isinstance(bound, bool):
        out[inclusive], out[exclusive] = bound, True


def _default(out: Schema) -> None:
    """No ``default: null``; a nested model's default is ``{}``, its fields' defaults fill it.

    The API server applies defaults top-down, so ``{}`` plus the children's
    defaults gives what the model's default holds, and the file says each
    default once. A whole float is written ``300``, not ``300.0``: the same
    JSON number to the API server, and the way a user writes it.
    """
    if "default" not in out:
        return
    value = out["default"]
    if value is None:
        del out["default"]
    elif "properties" in out and isinstance(value, dict):
        out["default"] = {}
    elif isinstance(value, float) and value.is_integer():
        out["default"] = int(value)
