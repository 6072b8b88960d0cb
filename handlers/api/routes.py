"""The intake API's routes on the bot's aiohttp server (SPEC section 7.3).

    POST /posts/generate   draft posts from a brief (202; 200 for a replayed Idempotency-Key)
    GET  /posts/{id}       a post as it is now
    GET  /openapi.json     this API's OpenAPI 3.1 document (generated from `OPERATIONS`)
    GET  /healthz          200 when the database answers, 503 when it doesn't
    GET  /metrics          Prometheus text (with SOCIALPOST_METRICS=true)

A route unpacks the request, calls the `PostsService` once and answers; the rules live in the
service (the intake's, shared with the modal). Every refusal is JSON `{"error", "message"}`
(with `fields` for a validation error), and a refused request stores nothing.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from handlers.api.auth import ApiKeys, client_address
from handlers.api.models import (
    ApiError,
    ErrorCode,
    Generated,
    GenerateRequest,
    Health,
    PostRef,
    PostView,
)
from handlers.api.openapi import Operation, Parameter, Reply, document
from handlers.api.throttle import AddressLimiter
from handlers.blocks.cost import budget_usd
from handlers.blocks.messages import BUDGET_EXHAUSTED
from services.errors import BudgetExhausted, InvalidRequest, RateLimited
from services.metrics import CONTENT_TYPE, Metrics

log = structlog.get_logger(__name__)

BODY_LIMIT = 64 * 1024
"""Bytes: a larger body is refused with 413 before it is parsed."""
IDEMPOTENCY_KEY_MAX = 255
HEALTH_TIMEOUT = 2.0
"""Seconds the database has to answer the health check."""


@dataclass(frozen=True)
class Submission:
    """What a request for drafts became: its posts, and whether an earlier request with the
    same Idempotency-Key had made them already."""

    posts: list[PostRef]
    replayed: bool = False


class PostsService(Protocol):
    """What the API asks of the domain."""

    async def generate(
        self, request: GenerateRequest, *, caller: str, idempotency_key: str | None
    ) -> Submission:
        """Draft posts for `request` from the API key named `caller`.

        Raises `InvalidRequest` (fields by the API's names) or `RateLimited`; then nothing
        is stored.
        """

    async def post(self, post_id: str) -> PostView | None:
        """The post with this id, if there is one."""


class Refused(Exception):
    """An API refusal: answered as its error body (used inside this module)."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ApiError(error=code, message=message, fields=fields)
        self.headers = headers or {}

    def response(self) -> web.Response:
        """The JSON answer."""
        return _json(self.body, status=self.status, headers=self.headers)


def _json(
    model: BaseModel, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=model.model_dump_json(exclude_none=isinstance(model, ApiError)),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def rate_limited(limited: RateLimited) -> Refused:
    """429 with the real wait, in whole seconds (at least 1), in `Retry-After`."""
    seconds = max(1, math.ceil(limited.retry_after))
    return Refused(
        429,
        ErrorCode.RATE_LIMITED,
        f"Too many requests. Try again in {seconds} seconds.",
        headers={"Retry-After": str(seconds)},
    )


_UNAUTHORIZED = Refused(
    401,
    ErrorCode.UNAUTHORIZED,
    "Send a valid API key: Authorization: Bearer <key>.",
    headers={"WWW-Authenticate": 'Bearer realm="socialpost"'},
)


def _validation_fields(error: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False):
        name = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "Not a field of this request."
        fields.setdefault(name, message)
    return fields


@dataclass
class ApiHandlers:
    """The route handlers, bound to what they use."""

    service: PostsService | None
    keys: ApiKeys
    limiter: AddressLimiter
    ping: Callable[[], Awaitable[None]]
    trust_proxy: bool = False
    metrics: Metrics | None = None
    refresh_metrics: Callable[[Metrics], Awaitable[None]] | None = None

    def _caller(self, request: web.Request) -> str:
        """The name of the request's API key, after taking its address's token; or refused."""
        address = client_address(
            request.remote, request.headers.get("X-Forwarded-For"), trust_proxy=self.trust_proxy
        )
        try:
            self.limiter.acquire(address)
        except RateLimited as limited:
            log.info("api_rate_limited", address=address, path=request.path)
            raise rate_limited(limited) from None
        name = self.keys.name_for(request.headers.get("Authorization"))
        if name is None or self.service is None:
            log.info("api_unauthorized", address=address, path=request.path)
            raise _UNAUTHORIZED
        return name

    def _service(self) -> PostsService:
        assert self.service is not None  # `_caller` refused every call without one
        return self.service

    async def generate(self, request: web.Request) -> web.StreamResponse:
        """`POST /posts/generate`."""
        caller = self._caller(request)
        body = await _read_body(request)
        try:
            parsed = GenerateRequest.model_validate_json(body)
        except ValidationError as error:
            if any(item["type"] == "json_invalid" for item in error.errors()):
                raise Refused(400, ErrorCode.INVALID_JSON, "The body is not valid JSON.") from None
            raise Refused(
                422,
                ErrorCode.INVALID_REQUEST,
                "The request has invalid fields.",
                fields=_validation_fields(error),
            ) from None
        key = _idempotency_key(request)
        try:
            submission = await self._service().generate(parsed, caller=caller, idempotency_key=key)
        except InvalidRequest as invalid:
            raise Refused(
                422,
                ErrorCode.INVALID_REQUEST,
                "The request has invalid fields.",
                fields=invalid.errors,
            ) from None
        except RateLimited as limited:
            raise rate_limited(limited) from None
        except BudgetExhausted as exhausted:
            raise Refused(
                402,
                ErrorCode.BUDGET_EXHAUSTED,
                BUDGET_EXHAUSTED.format(budget=budget_usd(exhausted.budget)),
            ) from None
        log.info(
            "api_generate",
            caller=caller,
            posts=[post.id for post in submission.posts],
            replayed=submission.replayed,
        )
        return _json(Generated(posts=submission.posts), status=200 if submission.replayed else 202)

    async def get_post(self, request: web.Request) -> web.StreamResponse:
        """`GET /posts/{id}`."""
        self._caller(request)
        post = await self._service().post(request.match_info["id"])
        if post is None:
            raise Refused(404, ErrorCode.NOT_FOUND, "No post has that id.")
        return _json(post)

    async def openapi(self, _request: web.Request) -> web.StreamResponse:
        """`GET /openapi.json`."""
        return web.json_response(openapi_document())

    async def healthz(self, _request: web.Request) -> web.StreamResponse:
        """`GET /healthz`: 200 when `ping()` returns in time, 503 when it raises or hangs."""
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await self.ping()
        except Exception as exc:
            log.warning("health_check_failed", error=type(exc).__name__)
            return _json(Health(ok=False, database="unavailable"), status=503)
        return _json(Health(ok=True, database="ok"))

    async def metrics_text(self, _request: web.Request) -> web.StreamResponse:
        """`GET /metrics`."""
        if self.metrics is None:
            raise Refused(404, ErrorCode.NOT_FOUND, "Metrics are off (SOCIALPOST_METRICS).")
        if self.refresh_metrics is not None:
            await self.refresh_metrics(self.metrics)
        response = web.Response(body=self.metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response


async def _read_body(request: web.Request) -> bytes:
    """The body, or 413 when it is over `BODY_LIMIT` (read no further than that)."""
    too_large = Refused(
        413, ErrorCode.PAYLOAD_TOO_LARGE, f"The body is over {BODY_LIMIT // 1024} KB."
    )
    if request.content_length is not None and request.content_length > BODY_LIMIT:
        raise too_large
    try:
        await request.content.readexactly(BODY_LIMIT + 1)
    except asyncio.IncompleteReadError as complete:
        return complete.partial
    raise too_large


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable() or not key.isascii():
        raise Refused(
            422,
            ErrorCode.INVALID_REQUEST,
            "The request has invalid fields.",
            fields={"Idempotency-Key": f"1..{IDEMPOTENCY_KEY_MAX} printable ASCII characters."},
        )
    return key


_REFUSALS: dict[int, Reply] = {
    401: Reply("No valid API key.", ApiError),
    429: Reply(
        "Too many requests from this address (or drafts in the workspace).",
        ApiError,
        headers={"Retry-After": "Seconds to wait."},
    ),
}


@dataclass(frozen=True)
class Route:
    """One route: its operation (as documented) and the handler method serving it."""

    operation: Operation
    handler: str


ROUTES: tuple[Route, ...] = (
    Route(
        Operation(
            "POST",
            "/posts/generate",
            "generatePosts",
            "Draft posts from a brief; they follow the Slack approval flow.",
            body=GenerateRequest,
            parameters=(
                Parameter(
                    "Idempotency-Key",
                    "header",
                    "The same key from the same API key within 24 hours returns the same "
                    "posts (200) and drafts nothing new; with a different body it is refused.",
                    max_length=IDEMPOTENCY_KEY_MAX,
                ),
            ),
            authenticated=True,
            responses={
                200: Reply(
                    "The posts an earlier request with this Idempotency-Key made.", Generated
                ),
                202: Reply("Accepted: one post per platform, being drafted.", Generated),
                400: Reply("The body is not JSON.", ApiError),
                402: Reply("This month's LLM budget is used up.", ApiError),
                413: Reply("The body is over 64 KB.", ApiError),
                422: Reply("Invalid fields (see `fields`), or a reused Idempotency-Key.", ApiError),
                **_REFUSALS,
            },
        ),
        "generate",
    ),
    Route(
        Operation(
            "GET",
            "/posts/{id}",
            "getPost",
            "A post as it is now.",
            parameters=(Parameter("id", "path", "The post's id, as generatePosts gave it."),),
            authenticated=True,
            responses={
                200: Reply("The post.", PostView),
                404: Reply("No post has that id.", ApiError),
                **_REFUSALS,
            },
        ),
        "get_post",
    ),
    Route(
        Operation(
            "GET",
            "/openapi.json",
            "getOpenApi",
            "This document.",
            responses={200: Reply("The OpenAPI 3.1 document.")},
        ),
        "openapi",
    ),
    Route(
        Operation(
            "GET",
            "/healthz",
            "getHealth",
            "Whether this process can reach its database.",
            responses={
                200: Reply("The database answers.", Health),
                503: Reply("The database does not answer.", Health),
            },
        ),
        "healthz",
    ),
    Route(
        Operation(
            "GET",
            "/metrics",
            "getMetrics",
            "Prometheus metrics of this process (with SOCIALPOST_METRICS=true).",
            responses={
                200: Reply("Prometheus text format.", media_type="text/plain"),
                404: Reply("Metrics are off.", ApiError),
            },
        ),
        "metrics_text",
    ),
)

DESCRIPTION = (
    "Push drafts into socialpost's human approval step in Slack, and read what became of "
    "them. Every call but /healthz, /metrics and /openapi.json needs "
    "`Authorization: Bearer <key>` with a key of SOCIALPOST_API_KEYS."
)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of `ROUTES`."""
    return document(
        (route.operation for route in ROUTES),
        title="socialpost intake API",
        version="1",
        description=DESCRIPTION,
    )


def _route_name(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


def error_middleware(metrics: Metrics | None) -> Any:
    """Refusals and aiohttp's own errors (404, 405, ...) as JSON error bodies; anything
    unexpected is logged and answered 500 without detail. Counts every answer."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith("/slack/"):
            return await handler(request)
        try:
            response = await handler(request)
        except Refused as refused:
            response = refused.response()
        except web.HTTPException as http:
            if http.status < 400:
                raise
            code = {
                404: ErrorCode.NOT_FOUND,
                405: ErrorCode.METHOD_NOT_ALLOWED,
                413: ErrorCode.PAYLOAD_TOO_LARGE,
            }.get(http.status, ErrorCode.INVALID_REQUEST)
            response = Refused(http.status, code, http.reason or "Refused.").response()
            if "Allow" in http.headers:
                response.headers["Allow"] = http.headers["Allow"]
        except Exception:
            log.exception("api_error", path=request.path)
            response = Refused(
                500, ErrorCode.INTERNAL_ERROR, "Something went wrong on our side."
            ).response()
        if metrics is not None:
            metrics.api_requests.labels(
                route=_route_name(request), status=str(response.status)
            ).inc()
        return response

    return middleware


def add_routes(application: web.Application, handlers: ApiHandlers) -> None:
    """Serve `ROUTES` on `application` (with the JSON error middleware)."""
    application.middlewares.append(error_middleware(handlers.metrics))
    for route in ROUTES:
        operation = route.operation
        application.router.add_route(
            operation.method, operation.path, getattr(handlers, route.handler)
        )
