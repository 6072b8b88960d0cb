"""The OpenAPI document: valid OpenAPI 3.1, generated from the models, covering every route."""

from __future__ import annotations

import asyncio
import json

import jsonschema
from aiohttp import web
from schemathesis.specs.openapi.definitions import OPENAPI_31

from handlers.api.models import ApiError, GenerateRequest, PostView
from handlers.api.routes import openapi_document
from services.metrics import Metrics
from tests.unit.handlers.api import schema_run
from tests.unit.handlers.api.support import AUTH, MemoryPosts, api_app, listening


def served_routes(application: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route the aiohttp application serves."""
    return {
        (route.method, route.resource.canonical)
        for route in application.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


def documented_routes(document: dict[str, object]) -> set[tuple[str, str]]:
    """(method, path) of every operation in the document."""
    paths: dict[str, dict[str, object]] = document["paths"]  # type: ignore[assignment]
    return {(method.upper(), path) for path, item in paths.items() for method in item}


def test_document_is_valid_openapi_31() -> None:
    """The document validates against the OpenAPI 3.1 schema, and every schema in it is
    valid JSON Schema 2020-12."""
    document = openapi_document()
    jsonschema.Draft202012Validator(OPENAPI_31).validate(document)
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    assert document["openapi"] == "3.1.0"


def test_every_served_route_is_documented_and_every_documented_one_served() -> None:
    """The routes the API app serves and the document's operations are the same set."""
    application = api_app(MemoryPosts())
    assert served_routes(application) == documented_routes(openapi_document())
    assert ("POST", "/posts/generate") in served_routes(application)


def test_schemas_are_the_models_own() -> None:
    """The request and response schemas are what pydantic makes of the models."""
    schemas = openapi_document()["components"]["schemas"]
    request = schemas["GenerateRequest"]
    assert set(request["properties"]) == set(GenerateRequest.model_fields)
    assert request["required"] == ["query"] and request["additionalProperties"] is False
    assert set(schemas["PostView"]["properties"]) == set(PostView.model_fields)
    assert set(schemas["ApiError"]["properties"]) == set(ApiError.model_fields)


def test_every_refusal_is_documented_with_the_error_body() -> None:
    """generatePosts documents 200, 202 and each SPEC error status with ApiError."""
    operation = openapi_document()["paths"]["/posts/generate"]["post"]
    assert set(operation["responses"]) == {
        "200", "202", "400", "401", "402", "413", "422", "429"
    }  # fmt: skip
    for status in ("400", "401", "402", "413", "422", "429"):
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ApiError"}
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    json.dumps(openapi_document())  # plain JSON


async def test_schemathesis_finds_nothing_against_the_routes() -> None:
    """Cases generated from /openapi.json (valid and invalid) get documented answers:
    no 5xx, documented statuses, bodies and headers; invalid data is refused."""
    application = api_app(MemoryPosts(), metrics=Metrics())
    async with listening(application) as base_url:
        checked = await asyncio.to_thread(schema_run.run, base_url, AUTH, examples=25)
    documented = {f"{m} {p}" for m, p in documented_routes(openapi_document())}
    assert set(checked) == documented - {"GET /openapi.json"}  # schemathesis skips its source
