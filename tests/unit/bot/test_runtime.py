"""The runtime's lifetimes: opened in order, closed in reverse even when a close fails, one
HTTP session for the whole process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot import runtime as runtime_module
from bot.runtime import Runtime
from bot.settings import Settings, load_settings
from handlers.slack_out import AppHome
from services.jobs import Worker
from services.tasks import BackgroundTasks
from storage import open_store, sqlite_url
from storage.sql.store import SqlStore

ENVIRONMENT = {
    "SLACK_BOT_TOKEN": "xoxb-1-abc",
    "SLACK_APP_TOKEN": "xapp-1-abc",
    "SOCIALPOST_APPROVAL_CHANNEL": "C0APPROVALS",
    "SOCIALPOST_SHUTDOWN_GRACE": "0",
    # Real credentials for two platforms: their publishers, not the dry-run stand-in.
    "X_API_KEY": "x-key",
    "X_API_SECRET": "x-secret",
    "X_ACCESS_TOKEN": "x-token",
    "X_ACCESS_TOKEN_SECRET": "x-token-secret",
    "LINKEDIN_ACCESS_TOKEN": "li-token",
    "LINKEDIN_AUTHOR_URN": "urn:li:person:1",
}

# Each object with a close, as the runtime opens them.
CLOSERS: list[tuple[str, type[Any], str]] = [
    ("database", SqlStore, "close"),
    ("http session", aiohttp.ClientSession, "close"),
    ("background tasks", BackgroundTasks, "aclose"),
    ("app home", AppHome, "aclose"),
    ("worker", Worker, "stop"),
]


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """Settings for a runtime on a fresh database file."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SOCIALPOST_DB_PATH", str(tmp_path / "socialpost.db"))
    return load_settings(env_file=None)


def record_closes(monkeypatch: pytest.MonkeyPatch, failing: str | None = None) -> list[str]:
    """Every close of `CLOSERS`, in the order they run (the real close still runs); the one
    named `failing` raises after closing."""
    closed: list[str] = []
    for name, cls, method in CLOSERS:
        original: Callable[..., Awaitable[Any]] = getattr(cls, method)

        def spy(
            self: Any,
            *args: Any,
            _name: str = name,
            _original: Callable[..., Awaitable[Any]] = original,
            **kwargs: Any,
        ) -> Awaitable[Any]:
            async def run() -> Any:
                closed.append(_name)
                result = await _original(self, *args, **kwargs)
                if _name == failing:
                    raise RuntimeError(f"{_name} failed to close")
                return result

            return run()

        monkeypatch.setattr(cls, method, spy)
    return closed


async def test_everything_closes_in_the_reverse_order_of_opening(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    """The worker (started last) stops first, the database (opened first) closes last."""
    closed = record_closes(monkeypatch)
    runtime = await Runtime.open(settings)
    await runtime.start()
    await runtime.aclose()
    assert closed == [name for name, _cls, _method in reversed(CLOSERS)]
    assert runtime.session.closed


async def test_a_failing_close_does_not_stop_the_others(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    """App Home's close raises: the background tasks, the HTTP session and the database still close
    (the file lock is free again), and the failure is raised afterwards."""
    closed = record_closes(monkeypatch, failing="app home")
    runtime = await Runtime.open(settings)
    await runtime.start()
    with pytest.raises(RuntimeError, match="app home failed to close"):
        await runtime.aclose()
    assert closed == [name for name, _cls, _method in reversed(CLOSERS)]
    assert runtime.session.closed
    reopened = await open_store(sqlite_url(settings.storage.db_path))
    await reopened.close()


async def test_a_failure_while_opening_closes_what_was_opened(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    """When building the publishers fails, the session and the database opened before it are
    closed again before the error reaches the caller."""
    closed = record_closes(monkeypatch)

    def broken(*_args: object) -> None:
        raise ValueError("no publishers today")

    monkeypatch.setattr(runtime_module, "build_publishers", broken)
    with pytest.raises(ValueError, match="no publishers today"):
        await Runtime.open(settings)
    assert closed == ["http session", "database"]
    reopened = await open_store(sqlite_url(settings.storage.db_path))
    await reopened.close()


async def test_one_http_session_serves_slack_and_every_publisher(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    """Opening the runtime (Slack clients, the X and LinkedIn publishers, dry-run Instagram)
    creates exactly one aiohttp session."""
    created: list[aiohttp.ClientSession] = []
    original = aiohttp.ClientSession.__init__

    def counting(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        created.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "__init__", counting)
    runtime = await Runtime.open(settings)
    try:
        assert sorted(runtime.publishers) == ["instagram", "linkedin", "x"]
        assert not runtime.publishers["x"].dry_run and not runtime.publishers["linkedin"].dry_run
        assert created == [runtime.session]
    finally:
        await runtime.aclose()


async def test_the_platform_rows_follow_the_registry(settings: Settings) -> None:
    """At start-up every registered platform has its social_platforms row, with the
    registry's name and limit."""
    runtime = await Runtime.open(settings)
    try:
        rows = {p.slug: (p.name, p.char_limit) for p in await runtime.store.posts.platforms()}
    finally:
        await runtime.aclose()
    assert rows == {
        "x": ("X", 280),
        "linkedin": ("LinkedIn", 3000),
        "instagram": ("Instagram", 2200),
    }
