"""An in-memory `PostsService` and an API server on 127.0.0.1 for the route tests."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web
from pydantic import SecretStr

from handlers.api.auth import ApiKeys
from handlers.api.models import GenerateRequest, PostRef, PostView
from handlers.api.routes import ApiHandlers, Submission, add_routes
from handlers.api.throttle import AddressLimiter
from services.errors import InvalidRequest, RateLimited
from services.metrics import Metrics

KEY = "k_test_0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


@dataclass
class MemoryPosts:
    """Posts kept in a dict; a brief saying "slow down" is refused as the workspace bucket
    would, an unknown platform as the intake would."""

    posts: dict[str, PostView] = field(default_factory=dict)
    calls: list[tuple[GenerateRequest, str, str | None]] = field(default_factory=list)
    by_key: dict[tuple[str, str], list[PostRef]] = field(default_factory=dict)

    async def generate(
        self, request: GenerateRequest, *, caller: str, idempotency_key: str | None
    ) -> Submission:
        self.calls.append((request, caller, idempotency_key))
        if idempotency_key and (caller, idempotency_key) in self.by_key:
            return Submission(self.by_key[(caller, idempotency_key)], replayed=True)
        if request.query == "slow down":
            raise RateLimited(12.2, scope="workspace")
        platforms = request.platforms()
        if not platforms or set(platforms) - {"x", "linkedin"}:
            raise InvalidRequest({"social_platform": "Not an available platform."})
        now = datetime.now(UTC)
        refs = []
        for platform in platforms:
            post_id = str(uuid.uuid4())
            self.posts[post_id] = PostView(
                id=post_id,
                platform=platform,
                status="generating",
                message=None,
                url=None,
                external_id=None,
                requested_by=f"via API: {caller}",
                approved_by=None,
                scheduled_for=None,
                created_at=now,
                updated_at=now,
            )
            refs.append(PostRef(id=post_id, platform=platform, status="generating"))
        if idempotency_key:
            self.by_key[(caller, idempotency_key)] = refs
        return Submission(refs)

    async def post(self, post_id: str) -> PostView | None:
        return self.posts.get(post_id)


async def _pings() -> None:
    return None


def api_app(
    service: MemoryPosts,
    *,
    limiter: AddressLimiter | None = None,
    metrics: Metrics | None = None,
    trust_proxy: bool = False,
) -> web.Application:
    """An aiohttp app serving only the API, with one key named `ci`."""
    application = web.Application()
    add_routes(
        application,
        ApiHandlers(
            service=service,
            keys=ApiKeys({"ci": SecretStr(KEY)}),
            limiter=limiter or AddressLimiter(1000, 1),
            ping=_pings,
            trust_proxy=trust_proxy,
            metrics=metrics,
        ),
    )
    return application


@contextlib.asynccontextmanager
async def listening(application: web.Application) -> AsyncIterator[str]:
    """`application` on a free port of 127.0.0.1; its base URL."""
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
