"""Running the bot: Socket Mode (default) or HTTP mode, until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Callable

import structlog
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from bot.app import create_app
from bot.http import serving, web_app
from bot.logging import configure_logging
from bot.runtime import Runtime
from bot.settings import Mode, Settings
from services.clock import Clock
from services.platforms import PLATFORMS

log = structlog.get_logger(__name__)


def run(settings: Settings) -> None:
    """Configure logging and serve until stopped."""
    configure_logging(
        level=settings.log.level, fmt=settings.log.format, secrets=settings.secret_values()
    )
    asyncio.run(serve(settings))


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


def _log_start(settings: Settings, runtime: Runtime, started: float) -> None:
    if not settings.approval.approvers:
        log.warning(
            "no_approvers_configured",
            detail="SOCIALPOST_APPROVERS is empty: anyone who can see a card can approve it",
        )
    for platform in sorted(set(runtime.publishers) & runtime.dry_run_platforms):
        log.info("platform_dry_run", platform=platform)
    for platform in sorted(set(PLATFORMS) - set(runtime.publishers)):
        log.info("platform_not_offered", platform=platform, reason="no credentials")
    log.info(
        "socialpost_started",
        mode=settings.connection.mode.value,
        approval_channel=settings.approval.channel,
        platforms=sorted(runtime.publishers),
        llm_providers=[d.name for d in settings.llm.deployments],
        seconds=round(time.monotonic() - started, 3),
    )


async def serve(
    settings: Settings,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[Runtime], None] | None = None,
    *,
    clock: Clock | None = None,
) -> None:
    """Open the runtime, connect to Slack, and run until `stop` is set (or a signal).

    `on_ready` is called with the runtime once Slack can reach the bot (tests, benchmarks).
    """
    started = time.monotonic()
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    runtime = await Runtime.open(settings, clock=clock)
    try:
        await runtime.start()
        app = create_app(settings, runtime.services, runtime.home, runtime.web_client)
        connection = _socket_mode if settings.connection.mode == Mode.SOCKET else _http_mode
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
    assert settings.connection.app_token is not None
    app_token = settings.connection.app_token.get_secret_value()
    # Built inside the running loop, as the Socket Mode client requires.
    handler = AsyncSocketModeHandler(
        app,
        app_token,
        web_client=AsyncWebClient(
            token=app_token, base_url=settings.slack.api_url, session=runtime.session
        ),
        ping_interval=settings.slack.socket_ping_interval,
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


@contextlib.asynccontextmanager
async def _http_mode(settings: Settings, app: AsyncApp, runtime: Runtime) -> AsyncIterator[None]:
    async with serving(web_app(app, ping=runtime.store.ping), settings.server.http_port):
        yield
