"""Running the bot: Socket Mode (default) or HTTP mode, until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from bot.app import create_app
from bot.logging import configure_logging
from bot.services import Runtime, dry_run_platforms
from bot.settings import Mode, Settings
from services.platforms import PLATFORMS

log = structlog.get_logger(__name__)


def run(settings: Settings) -> None:
    """Configure logging and serve until stopped."""
    configure_logging(
        level=settings.log_level, fmt=settings.log_format, secrets=settings.secret_values()
    )
    asyncio.run(serve(settings))


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


def _log_start(settings: Settings, runtime: Runtime, started: float) -> None:
    if not settings.approvers:
        log.warning(
            "no_approvers_configured",
            detail="SOCIALPOST_APPROVERS is empty: anyone who can see a card can approve it",
        )
    for platform in sorted(set(runtime.publishers) & dry_run_platforms(settings)):
        log.info("platform_dry_run", platform=platform)
    for platform in sorted(set(PLATFORMS) - set(runtime.publishers)):
        log.info("platform_not_offered", platform=platform, reason="no credentials")
    log.info(
        "socialpost_started",
        mode=settings.mode.value,
        approval_channel=settings.approval_channel,
        platforms=sorted(runtime.publishers),
        llm_providers=[d.name for d in settings.llm_deployments],
        seconds=round(time.monotonic() - started, 3),
    )


async def serve(
    settings: Settings,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[Runtime], None] | None = None,
) -> None:
    """Open the runtime, connect to Slack, and run until `stop` is set (or a signal).

    `on_ready` is called with the runtime once Slack can reach the bot (tests, benchmarks).
    """
    started = time.monotonic()
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    runtime = await Runtime.open(settings)
    try:
        await runtime.start()
        app = create_app(settings, runtime.services, runtime.web_client)
        connection = _socket_mode if settings.mode == Mode.SOCKET else _http_mode
        async with connection(settings, app, runtime):
            _log_start(settings, runtime, started)
            if on_ready is not None:
                on_ready(runtime)
            await stop.wait()
        log.info("socialpost_stopping")
    finally:
        await runtime.aclose()


@contextlib.asynccontextmanager
async def _socket_mode(settings: Settings, app: AsyncApp, runtime: Runtime) -> AsyncIterator[None]:
    assert settings.slack_app_token is not None
    app_token = settings.slack_app_token.get_secret_value()
    # Built inside the running loop, as the Socket Mode client requires.
    handler = AsyncSocketModeHandler(
        app,
        app_token,
        web_client=AsyncWebClient(
            token=app_token, base_url=settings.slack_api_url, session=runtime.session
        ),
        ping_interval=settings.socket_ping_interval,
    )
    # Slack may be briefly unreachable at start-up: keep trying rather than crash-looping.
    async for attempt in AsyncRetrying(
        wait=wait_exponential_jitter(initial=1, max=30),
        retry=retry_if_exception_type((OSError, asyncio.TimeoutError)),
        reraise=True,
    ):
        with attempt:
            await handler.connect_async()
    try:
        yield
    finally:
        await handler.close_async()


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@web.middleware
async def _numeric_slack_timestamp(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    # Bolt's verifier would crash (500) on a non-numeric timestamp; it is simply forged.
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "0")
    if request.path == "/slack/events" and not timestamp.isdigit():
        return web.json_response({"error": "invalid request"}, status=401)
    return await handler(request)


@contextlib.asynccontextmanager
async def _http_mode(settings: Settings, app: AsyncApp, runtime: Runtime) -> AsyncIterator[None]:
    web_app = app.web_app(path="/slack/events")
    web_app.middlewares.append(_numeric_slack_timestamp)
    web_app.router.add_get("/healthz", _healthz)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "0.0.0.0", settings.http_port)
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()
