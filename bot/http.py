"""The bot's HTTP server: `POST /slack/events` in http mode, and the intake API's routes
(`handlers.api.routes`: `/posts/...`, `/openapi.json`, `/metrics` and `/healthz`).

`/healthz` is for load balancers and orchestrators: it answers 200 only when the database
answers a query within 2 seconds, and 503 otherwise, so a process whose database is gone is
taken out of rotation rather than acking clicks it can't store.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web
from slack_bolt.async_app import AsyncApp

from handlers.api.auth import ApiKeys
from handlers.api.routes import ApiHandlers, add_routes
from handlers.api.throttle import AddressLimiter

log = structlog.get_logger(__name__)

Ping = Callable[[], Awaitable[None]]


@web.middleware
async def _numeric_slack_timestamp(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    # Bolt's verifier would crash (500) on a non-numeric timestamp; it is simply forged.
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "0")
    if request.path == "/slack/events" and not timestamp.isdigit():
        return web.json_response({"error": "invalid request"}, status=401)
    return await handler(request)


def web_app(app: AsyncApp | None, *, ping: Ping, api: ApiHandlers | None = None) -> web.Application:
    """The aiohttp application: Bolt's `/slack/events` when `app` is given, and the API's
    routes (`/healthz` among them; without `api`, one that refuses every key)."""
    if app is None:
        application = web.Application()
    else:
        application = app.web_app(path="/slack/events")
        application.middlewares.append(_numeric_slack_timestamp)
    if api is None:
        api = ApiHandlers(service=None, keys=ApiKeys({}), limiter=AddressLimiter(60, 60), ping=ping)
    add_routes(application, api)
    return application


@contextlib.asynccontextmanager
async def serving(application: web.Application, port: int) -> AsyncIterator[None]:
    """`application` listening on `port` (all interfaces) until the block ends."""
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "0.0.0.0", port).start()
        yield
    finally:
        await runner.cleanup()
