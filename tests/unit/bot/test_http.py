"""The HTTP server's `/healthz`: it answers 200 only while the database answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import http
from bot.http import web_app
from bot.runtime import Runtime
from bot.settings import load_settings
from storage import open_store, sqlite_url


async def health(ping: http.Ping) -> tuple[int, dict[str, object]]:
    """What `GET /healthz` answers with this database check."""
    async with TestClient(TestServer(web_app(None, ping=ping))) as client:
        response = await client.get("/healthz")
        return response.status, await response.json()


async def test_healthz_is_200_while_the_runtimes_database_answers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The runtime's database check on an open database: 200."""
    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-1-abc",
        "SLACK_APP_TOKEN": "xapp-1-abc",
        "SOCIALPOST_APPROVAL_CHANNEL": "C0APPROVALS",
        "SOCIALPOST_DB_PATH": str(tmp_path / "socialpost.db"),
    }.items():
        monkeypatch.setenv(name, value)
    runtime = await Runtime.open(load_settings(env_file=None))
    try:
        status, body = await health(runtime.store.ping)
    finally:
        await runtime.aclose()
    assert (status, body) == (200, {"ok": True, "database": "ok"})


async def test_healthz_is_503_when_the_database_is_gone(tmp_path: Path) -> None:
    """The store's ping on a closed database (its connections gone): 503, not a crash and
    not 200."""
    store = await open_store(sqlite_url(tmp_path / "socialpost.db"))
    await store.close()

    status, body = await health(store.ping)
    assert (status, body) == (503, {"ok": False, "database": "unavailable"})


async def test_healthz_is_503_when_the_database_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that doesn't answer in time (a stuck lock, a dead disk): 503."""
    monkeypatch.setattr(http, "HEALTH_TIMEOUT", 0.05)

    async def hangs() -> None:
        await asyncio.sleep(10)

    status, _body = await health(hangs)
    assert status == 503
