"""The API's routes: every answer and every refusal as SPEC 7.3 shapes them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from handlers.api.routes import BODY_LIMIT
from handlers.api.throttle import AddressLimiter
from services.metrics import Metrics
from tests.unit.handlers.api.support import AUTH, MemoryPosts, api_app

BODY = {"query": "Announce the spring release", "social_platform": "x"}


@pytest.fixture
def service() -> MemoryPosts:
    """An empty in-memory service."""
    return MemoryPosts()


@pytest.fixture
async def client(service: MemoryPosts) -> AsyncIterator[TestClient[aiohttp.web.Request, object]]:
    """A client of the API over the in-memory service."""
    async with TestClient(TestServer(api_app(service))) as started:
        yield started


async def error_of(response: aiohttp.ClientResponse) -> dict[str, object]:
    """The JSON error body (and that it is JSON)."""
    assert response.content_type == "application/json"
    body: dict[str, object] = await response.json()
    return body


async def test_generate_answers_202_with_one_post_per_platform(
    client: TestClient[aiohttp.web.Request, object], service: MemoryPosts
) -> None:
    """A valid request is 202 {"posts": [{"id", "platform", "status": "generating"}]}."""
    body = {**BODY, "social_platforms": ["linkedin", "x"], "requested_by": "CMS"}
    response = await client.post("/posts/generate", json=body, headers=AUTH)
    assert response.status == 202
    posts = (await response.json())["posts"]
    assert [(p["platform"], p["status"]) for p in posts] == [
        ("x", "generating"),
        ("linkedin", "generating"),
    ]
    (request, caller, key) = service.calls[0]
    assert (caller, key, request.requested_by) == ("ci", None, "CMS")


async def test_replayed_idempotency_key_answers_200_with_the_same_posts(
    client: TestClient[aiohttp.web.Request, object],
) -> None:
    """The same Idempotency-Key again: 200 with the posts of the first answer."""
    headers = {**AUTH, "Idempotency-Key": "order-17"}
    first = await client.post("/posts/generate", json=BODY, headers=headers)
    again = await client.post("/posts/generate", json=BODY, headers=headers)
    assert (first.status, again.status) == (202, 200)
    assert await first.json() == await again.json()


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "naïve", "tab\there"])
async def test_malformed_idempotency_key_is_422(
    client: TestClient[aiohttp.web.Request, object], service: MemoryPosts, key: str
) -> None:
    """An empty, over-long or non-ASCII Idempotency-Key is refused before anything runs."""
    headers = {**AUTH, "Idempotency-Key": key}
    response = await client.post("/posts/generate", json=BODY, headers=headers)
    body = await error_of(response)
    assert response.status == 422 and body["error"] == "invalid_request"
    assert "Idempotency-Key" in body["fields"]  # type: ignore[operator]
    assert service.calls == []


async def test_get_post(client: TestClient[aiohttp.web.Request, object]) -> None:
    """GET /posts/{id} shows the post with every field SPEC lists; an unknown id is 404."""
    created = await client.post("/posts/generate", json=BODY, headers=AUTH)
    post_id = (await created.json())["posts"][0]["id"]
    response = await client.get(f"/posts/{post_id}", headers=AUTH)
    assert response.status == 200
    assert set(await response.json()) == {
        "id", "platform", "status", "message", "url", "external_id", "requested_by",
        "approved_by", "scheduled_for", "created_at", "updated_at",
    }  # fmt: skip
    missing = await client.get("/posts/nope", headers=AUTH)
    assert missing.status == 404
    assert await error_of(missing) == {"error": "not_found", "message": "No post has that id."}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic k_test_0123456789"}],
)
async def test_missing_or_wrong_key_is_401_for_every_authenticated_route(
    client: TestClient[aiohttp.web.Request, object],
    service: MemoryPosts,
    headers: dict[str, str],
) -> None:
    """No key, a wrong key, another scheme: 401 unauthorized, with WWW-Authenticate."""
    for response in [
        await client.post("/posts/generate", json=BODY, headers=headers),
        await client.get("/posts/anything", headers=headers),
    ]:
        assert response.status == 401
        assert (await error_of(response))["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert service.calls == []


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b'{"query": "a",}', b"\xff\xfe"])
async def test_unparsable_body_is_400_invalid_json(
    client: TestClient[aiohttp.web.Request, object], service: MemoryPosts, raw: bytes
) -> None:
    """A body that isn't JSON: 400 invalid_json, and the service never sees it."""
    response = await client.post(
        "/posts/generate", data=raw, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await error_of(response))["error"] == "invalid_json"
    assert service.calls == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"social_platform": "x"}, "query"),
        ({"query": 5, "social_platform": "x"}, "query"),
        ({"query": "a", "social_platform": ["x"]}, "social_platform"),
        ({"query": "a", "social_platforms": "x"}, "social_platforms"),
        ({"query": "a", "social_platform": "x", "post_at": "2026-12-01T10:00:00"}, "post_at"),
        ({"query": "a", "social_platform": "x", "post_at": 1700000000}, "post_at"),
        ({"query": "a", "social_platform": "x", "platform": "x"}, "platform"),
        ({"query": "a", "social_platform": "x", "requested_by": "r" * 101}, "requested_by"),
        ([], "body"),
    ],
)
async def test_wrong_types_are_422_with_the_field(
    client: TestClient[aiohttp.web.Request, object],
    service: MemoryPosts,
    body: object,
    field: str,
) -> None:
    """Wrong types, a time without offset, unknown fields: 422 invalid_request naming it."""
    response = await client.post("/posts/generate", json=body, headers=AUTH)
    error = await error_of(response)
    assert response.status == 422 and error["error"] == "invalid_request"
    assert field in error["fields"]  # type: ignore[operator]
    assert service.calls == []


async def test_the_services_refusal_is_422_with_its_fields(
    client: TestClient[aiohttp.web.Request, object], service: MemoryPosts
) -> None:
    """The intake's own refusal (an unknown platform) is 422 with the intake's words."""
    response = await client.post(
        "/posts/generate", json={"query": "a", "social_platform": "myspace"}, headers=AUTH
    )
    assert response.status == 422
    assert await error_of(response) == {
        "error": "invalid_request",
        "message": "The request has invalid fields.",
        "fields": {"social_platform": "Not an available platform."},
    }
    assert service.posts == {}


async def test_body_over_64_kb_is_413(
    client: TestClient[aiohttp.web.Request, object], service: MemoryPosts
) -> None:
    """Over 64 KB, with or without Content-Length (chunked): 413 payload_too_large."""
    big = json.dumps({**BODY, "query": "a" * BODY_LIMIT}).encode()
    declared = await client.post("/posts/generate", data=big, headers=AUTH)

    async def chunks() -> object:
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    chunked = await client.post("/posts/generate", data=chunks(), headers=AUTH)
    for response in (declared, chunked):
        assert response.status == 413
        assert (await error_of(response))["error"] == "payload_too_large"
    assert service.calls == []
    at_limit = json.dumps(BODY).encode().ljust(BODY_LIMIT)
    assert (await client.post("/posts/generate", data=at_limit, headers=AUTH)).status == 202


async def test_workspace_limit_is_429_with_retry_after(
    client: TestClient[aiohttp.web.Request, object],
) -> None:
    """A refusal by the workspace bucket: 429 rate_limited, Retry-After in whole seconds."""
    response = await client.post(
        "/posts/generate", json={**BODY, "query": "slow down"}, headers=AUTH
    )
    assert response.status == 429
    assert response.headers["Retry-After"] == "13"
    assert (await error_of(response))["error"] == "rate_limited"


async def test_a_flood_from_one_address_is_429_before_the_key_is_checked(
    service: MemoryPosts,
) -> None:
    """Past SOCIALPOST_API_RATE_LIMIT from one address, every call is 429 (wrong keys too,
    so keys can't be guessed fast), with Retry-After."""
    async with TestClient(TestServer(api_app(service, limiter=AddressLimiter(3, 60)))) as client:
        statuses = [
            (await client.get("/posts/x", headers={"Authorization": "Bearer guess"})).status
            for _ in range(3)
        ]
        refused = await client.post("/posts/generate", json=BODY, headers=AUTH)
        assert statuses == [401, 401, 401]
        assert refused.status == 429 and refused.headers["Retry-After"] == "20"
        assert (await client.get("/healthz")).status == 200  # not throttled
    assert service.calls == []


async def test_trusted_proxy_counts_the_forwarded_address(service: MemoryPosts) -> None:
    """With SOCIALPOST_TRUST_PROXY, two clients behind the proxy have their own buckets."""
    application = api_app(service, limiter=AddressLimiter(1, 60), trust_proxy=True)
    async with TestClient(TestServer(application)) as client:
        for address in ("203.0.113.1", "203.0.113.2"):
            headers = {**AUTH, "X-Forwarded-For": address}
            assert (await client.post("/posts/generate", json=BODY, headers=headers)).status == 202
        again = {**AUTH, "X-Forwarded-For": "203.0.113.1"}
        assert (await client.post("/posts/generate", json=BODY, headers=again)).status == 429


async def test_unknown_routes_and_methods_answer_json(
    client: TestClient[aiohttp.web.Request, object],
) -> None:
    """A wrong path is 404 not_found and a wrong method 405, both as JSON error bodies."""
    missing = await client.get("/nowhere")
    assert missing.status == 404 and (await error_of(missing))["error"] == "not_found"
    wrong = await client.delete("/posts/generate", headers=AUTH)
    assert wrong.status == 405 and (await error_of(wrong))["error"] == "method_not_allowed"
    assert "POST" in wrong.headers["Allow"]


async def test_healthz_openapi_and_metrics_need_no_key(service: MemoryPosts) -> None:
    """/healthz, /openapi.json and /metrics answer without a key; /metrics counts API
    answers by route and status."""
    metrics = Metrics()
    async with TestClient(TestServer(api_app(service, metrics=metrics))) as client:
        await client.post("/posts/generate", json=BODY)
        assert (await client.get("/healthz")).status == 200
        document = await client.get("/openapi.json")
        assert (await document.json())["openapi"] == "3.1.0"
        scraped = await client.get("/metrics")
        assert scraped.status == 200 and scraped.content_type == "text/plain"
        text = await scraped.text()
    assert 'socialpost_api_requests_total{route="/posts/generate",status="401"} 1.0' in text


async def test_metrics_off_is_404(client: TestClient[aiohttp.web.Request, object]) -> None:
    """Without SOCIALPOST_METRICS, /metrics is 404."""
    response = await client.get("/metrics")
    assert response.status == 404 and (await error_of(response))["error"] == "not_found"
