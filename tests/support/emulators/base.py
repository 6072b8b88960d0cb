"""Plumbing shared by the local servers standing in for Slack, the LLM providers and platforms.

Every emulator is an aiohttp application bound to 127.0.0.1 on a free port. Tests (and the
benchmark script) start one, point the bot's ``*_API_URL`` settings at ``server.url``, and read
back what the bot sent. Faults are scripted per route with :class:`FaultPlan`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web


@dataclass
class Fault:
    """One scripted misbehaviour of an emulated endpoint.

    ``status``/``json``/``text``/``headers`` describe the error answer; ``delay`` waits before
    answering (a slow or hanging server); ``drop`` closes the connection without any answer
    (a crash or network cut as the client sees it).
    """

    status: int = 500
    json: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False

    def response(self) -> web.Response:
        """The HTTP answer this fault produces (when it is not a dropped connection)."""
        if self.text is not None:
            return web.Response(status=self.status, text=self.text, headers=self.headers)
        body = self.json if self.json is not None else {"error": f"emulated {self.status}"}
        return web.json_response(body, status=self.status, headers=self.headers)


class FaultPlan:
    """Faults queued per key (usually a route or API method), consumed one per request.

    ``push(key, fault, times=n)`` makes the next ``n`` requests fail; ``always(key, fault)`` makes
    every request fail until ``clear(key)``.
    """

    def __init__(self) -> None:
        self._queued: dict[str, list[Fault]] = {}
        self._always: dict[str, Fault] = {}

    def push(self, key: str, fault: Fault, times: int = 1) -> None:
        """Fail the next ``times`` requests for ``key`` with ``fault``."""
        self._queued.setdefault(key, []).extend([fault] * times)

    def always(self, key: str, fault: Fault) -> None:
        """Fail every request for ``key`` until cleared."""
        self._always[key] = fault

    def clear(self, key: str | None = None) -> None:
        """Forget the faults for ``key`` (or for every key)."""
        if key is None:
            self._queued.clear()
            self._always.clear()
        else:
            self._queued.pop(key, None)
            self._always.pop(key, None)

    def take(self, key: str) -> Fault | None:
        """The fault for this request, if one is scripted."""
        queued = self._queued.get(key)
        if queued:
            return queued.pop(0)
        return self._always.get(key)

    async def apply(self, key: str, request: web.Request) -> web.StreamResponse | None:
        """Play the scripted fault for ``key``: an error response, or ``None`` to answer normally.

        A dropped connection raises, so the handler never answers.
        """
        fault = self.take(key)
        if fault is None:
            return None
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("emulated connection drop")
        return fault.response()


class LocalServer:
    """An aiohttp application served on 127.0.0.1 on a free port."""

    def __init__(self) -> None:
        self.app = web.Application(client_max_size=10 * 1024 * 1024)
        self.faults = FaultPlan()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Self:
        """Bind to a free port and serve."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None)
        assert sockets
        self.port = sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


async def wait_until(
    predicate: Callable[[], Any] | Callable[[], Awaitable[Any]],
    timeout: float = 5.0,
    interval: float = 0.01,
    message: str = "condition",
) -> Any:
    """Poll ``predicate`` until it returns something truthy; return that value.

    Raises ``TimeoutError`` naming ``message`` when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(interval)
