"""The JobQueue CRD, generated from the spec and status models (see ``scripts/gen_crd.py``)."""

from .definition import custom_resource_definition, root_schema
from .schema import structural_schema

__all__ = ["custom_resource_definition", "root_schema", "structural_schema"]
