"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

Nothing here is written by hand but the words: each route's operation names its request
model and its responses' models, and pydantic writes their JSON Schemas (OpenAPI 3.1 uses
JSON Schema 2020-12, which is what pydantic emits), gathered under `components.schemas`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

REF_TEMPLATE = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Parameter:
    """A path or header parameter, a string."""

    name: str
    where: Literal["path", "header"]
    description: str
    required: bool = False
    max_length: int | None = None


@dataclass(frozen=True)
class Reply:
    """One documented response: its description, and its body (a model, JSON) or a media
    type for a non-JSON body; `headers` by name -> description."""

    description: str
    model: type[BaseModel] | None = None
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """One route as the document shows it."""

    method: str
    path: str
    operation_id: str
    summary: str
    responses: dict[int, Reply]
    body: type[BaseModel] | None = None
    parameters: tuple[Parameter, ...] = ()
    authenticated: bool = False
    description: str = ""


def _parameter(parameter: Parameter) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    if parameter.max_length is not None:
        schema["maxLength"] = parameter.max_length
    return {
        "name": parameter.name,
        "in": parameter.where,
        "required": parameter.required or parameter.where == "path",
        "description": parameter.description,
        "schema": schema,
    }


def document(
    operations: Iterable[Operation], *, title: str, version: str, description: str
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `operations`."""
    operations = list(operations)
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    for operation in operations:
        if operation.body is not None:
            wanted[(operation.body, "validation")] = None
        for reply in operation.responses.values():
            if reply.model is not None:
                wanted[(reply.model, "serialization")] = None
    refs, schemas = models_json_schema(list(wanted), ref_template=REF_TEMPLATE)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        entry: dict[str, Any] = {
            "operationId": operation.operation_id,
            "summary": operation.summary,
            "responses": {},
        }
        if operation.description:
            entry["description"] = operation.description
        if operation.parameters:
            entry["parameters"] = [_parameter(p) for p in operation.parameters]
        if operation.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(operation.body, "validation")]}},
            }
        if operation.authenticated:
            entry["security"] = [{"bearer": []}]
        for status, reply in sorted(operation.responses.items()):
            response: dict[str, Any] = {"description": reply.description}
            if reply.model is not None:
                schema = refs[(reply.model, "serialization")]
                response["content"] = {reply.media_type: {"schema": schema}}
            elif reply.media_type != "application/json":
                response["content"] = {reply.media_type: {"schema": {"type": "string"}}}
            if reply.headers:
                response["headers"] = {
                    name: {"description": text, "schema": {"type": "integer", "minimum": 1}}
                    for name, text in reply.headers.items()
                }
            entry["responses"][str(status)] = response
        paths.setdefault(operation.path, {})[operation.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A key of SOCIALPOST_API_KEYS.",
                }
            },
        },
    }
