"""The bot's HTTP server: `POST /slack/events` in http mode, and `GET /healthz`.

`/healthz` is for load balancers and orchestrators: it answers 200 only when the database
answers a query within `HEALTH_TIMEOUT` seconds, and 503 otherwise, so a process whose
database is gone is taken out of rotation rather than acking clicks it can't store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web
from slack_bolt.async_app import AsyncApp

log = structlog.get_logger(__name__)

HEALTH_TIMEOUT = 2.0
"""Seconds the database has to answer the health check."""

Ping = Callable[[], Awaitable[None]]


def health_handler(ping: Ping) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`GET /healthz`: 200 when `ping()` returns in time, 503 when it raises or hangs."""

    async def healthz(_request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await ping()
        except Exception as exc:
            log.warning("health_check_failed", error=type(exc).__name__)
            return web.json_response({"ok": False, "database": "unavailable"}, status=503)
        return web.json_response({"ok": True, "database": "ok"})

    return healthz


@web.middleware
async def _numeric_slack_timestamp(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    # Bolt's verifier would crash (500) on a non-numeric timestamp; it is simply forged.
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "0")
    if request.path == "/slack/events" and not timestamp.isdigit():
        return web.json_response({"error": "invalid request"}, status=401)
    return await handler(request)


def web_app(app: AsyncApp | None, *, ping: Ping) -> web.Application:
    """The aiohttp application: Bolt's `/slack/events` when `app` is given, and `/healthz`."""
    if app is None:
        application = web.Application()
    else:
        application = app.web_app(path="/slack/events")
        application.middlewares.append(_numeric_slack_timestamp)
    application.router.add_get("/healthz", health_handler(ping))
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
