"""SOCIALPOST_DATABASE_URL and `socialpost migrate-to URL`: the database named by URL, never a
password in a message, and the copy of a SQLite database into an empty PostgreSQL one."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.__main__ import main
from bot.settings import SettingsError, load_storage_settings
from storage import open_store, sqlite_url
from storage.errors import StorageUnavailable
from storage.models import JobStatus, PostStatus
from storage.sql.store import SqlStore
from storage.transfer import TABLES
from tests.storage.support import T0, at, enqueue, new_post
from tests.support.postgres import PostgresServer

REPO = Path(__file__).resolve().parents[2]
MINIMAL = {
    "SLACK_BOT_TOKEN": "xoxb-1-abc",
    "SLACK_APP_TOKEN": "xapp-1-abc",
    "SOCIALPOST_APPROVAL_CHANNEL": "C0APPROVALS",
}


def test_the_url_names_the_backend_and_is_shown_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """postgres:// and postgresql:// name PostgreSQL, sqlite:/// a file; unset is the SQLite
    file at SOCIALPOST_DB_PATH; what is shown of a URL hides its password."""
    monkeypatch.setenv("SOCIALPOST_DB_PATH", "/data/s.db")
    assert load_storage_settings(env_file=None).url == "sqlite:////data/s.db"
    for scheme in ("postgres", "postgresql"):
        monkeypatch.setenv("SOCIALPOST_DATABASE_URL", f"{scheme}://bot:s3cret-pw@db:5432/social")
        storage = load_storage_settings(env_file=None)
        assert storage.url == f"{scheme}://bot:s3cret-pw@db:5432/social"
        assert storage.database_url is not None and storage.database_url.backend == "postgresql"
        assert "s3cret-pw" not in storage.shown and "***" in storage.shown
        assert "s3cret-pw" not in repr(storage)
    monkeypatch.setenv("SOCIALPOST_DATABASE_URL", "sqlite:///elsewhere.db")
    assert load_storage_settings(env_file=None).url == "sqlite:///elsewhere.db"


def test_a_bad_url_is_named_without_repeating_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL of another scheme, or one naming no database, is a settings problem whose message
    doesn't quote the URL (it may hold a password)."""
    for url in ("mysql://bot:s3cret-pw@db/social", "postgresql://bot:s3cret-pw@db"):
        monkeypatch.setenv("SOCIALPOST_DATABASE_URL", url)
        with pytest.raises(SettingsError) as raised:
            load_storage_settings(env_file=None)
        text = "\n".join(raised.value.problems)
        assert "SOCIALPOST_DATABASE_URL" in text and "s3cret-pw" not in text


async def test_a_wrong_password_or_no_server_says_so_without_the_password(
    postgres_server: PostgresServer, postgres_url: str, tmp_path: Path
) -> None:
    """`python -m bot` pointed at PostgreSQL with a wrong password, or at a port where no
    server listens, exits 1 with one line naming the database and the reason, and the
    password appears nowhere in its output."""
    wrong = "wr0ng-Passw0rd-42"
    name = make_url(postgres_url).database
    assert name is not None
    port = postgres_server.port + 1 if postgres_server.port < 65000 else 1
    cases = {
        "password authentication failed": postgres_server.url(name, password=wrong),
        "can't open the PostgreSQL database": postgres_server.url(name, port=port),
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "SOCIALPOST_")) and not key.lower().endswith("_proxy")
    }
    env.update(MINIMAL, PYTHONPATH=str(REPO))

    async def start(url: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=tmp_path,
            env={**env, "SOCIALPOST_DATABASE_URL": url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
        return await process.wait(), output.decode()

    results = await asyncio.gather(*(start(url) for url in cases.values()))
    for (expected, url), (code, output) in zip(cases.items(), results, strict=True):
        last = output.strip().splitlines()[-1]
        assert code == 1, output
        assert last.startswith("socialpost can't start: can't open the PostgreSQL database")
        assert expected in last and f"/{name}" in last and "***" in last
        assert "Traceback" not in output
        secret = make_url(url).password
        assert secret is not None and str(secret) not in output


async def test_open_store_refuses_a_wrong_password_with_a_clean_message(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """`open_store` raises `StorageUnavailable` without the password, and no driver
    exception chained to it (it could carry the URL)."""
    name = make_url(postgres_url).database
    assert name is not None
    with pytest.raises(StorageUnavailable) as raised:
        await open_store(postgres_server.url(name, password="An0ther-wrong-one"))
    assert "An0ther-wrong-one" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


async def _fill_sqlite(path: Path) -> None:
    """A SQLite database with rows in every table: posts in several states, versions,
    publishing steps, queued, running, dead and done jobs (one pruned), audit entries."""
    store = await open_store(sqlite_url(path))
    try:
        posted = await new_post(store, PostStatus.POSTED, tone="warm", external_id="tw-1")
        pending = await new_post(store, PostStatus.PENDING, platform="linkedin")
        async with store.transaction() as tx:
            await tx.posts.add_version(posted.id, "first words", "llm", llm_provider="openai")
            await tx.posts.add_version(posted.id, "better words", "edit", author="U0ED")
            await tx.posts.add_publish_step(posted.id, "part-1", "tw-1")
            await tx.audit.record(actor="U0A", action="approve", post_id=posted.id, outcome="ok")
            await tx.audit.record(actor="U0B", action="reject", post_id=None, outcome="denied")
        await enqueue(store, "sync_card", post_id=pending.id, key=f"card:{pending.id}")
        dead = await enqueue(store, "publish", post_id=posted.id)
        await enqueue(store, "publish", post_id=pending.id, run_at=at(99))
        # The newest job is gone before the copy: its id must not come back.
        pruned = await enqueue(store, "notify_user", payload={"text": "ünïcode ✓"})
        async with store.transaction() as tx:
            claimed = await tx.jobs.claim_due(
                now=at(0), limit=10, lease=timedelta(seconds=30), owner="old"
            )
            assert {job.id for job in claimed} >= {pruned, dead}
            assert await tx.jobs.complete(pruned, owner="old")
            assert await tx.jobs.bury(dead, owner="old", queue="dlq_publish", error="gone")
        async with store.transaction() as tx:
            assert await tx.jobs.prune_done(before=at(10**9)) == 1
    finally:
        await store.close()


async def _rows(url: str) -> dict[str, list[dict[str, Any]]]:
    store = await open_store(url)
    try:
        assert isinstance(store, SqlStore)
        async with store.raw_reads() as connection:
            return {
                table.name: [
                    dict(row)
                    for row in (
                        await connection.execute(select(table).order_by(*table.primary_key.columns))
                    ).mappings()
                ]
                for table in TABLES
            }
    finally:
        await store.close()


def test_migrate_to_copies_every_row_and_refuses_a_target_with_data(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """`socialpost migrate-to URL` copies every table of the SQLite database with its ids and
    times into the empty PostgreSQL database, says so without the password, and the copy
    goes on from there (new ids after the old ones, even pruned ones); run again it refuses
    the now non-empty target, exit 1, changing nothing."""
    source = tmp_path / "socialpost.db"
    asyncio.run(_fill_sqlite(source))
    monkeypatch.setenv("SOCIALPOST_DB_PATH", str(source))
    password = make_url(postgres_url).password
    assert password

    with pytest.raises(SystemExit) as exited:
        main(["migrate-to", postgres_url])
    assert exited.value.code == 0
    said = capsys.readouterr()
    assert "2 posts" in said.out and "2 post_versions" in said.out and "***" in said.out
    assert "SOCIALPOST_DATABASE_URL" in said.out
    assert str(password) not in said.out + said.err

    copied, original = asyncio.run(_rows(postgres_url)), asyncio.run(_rows(sqlite_url(source)))
    assert copied == original
    assert {row["status"] for row in copied["retry_jobs"]} == {
        JobStatus.QUEUED,
        JobStatus.RUNNING,
        JobStatus.DEAD,
    }

    async def next_job_id() -> int:
        store = await open_store(postgres_url)
        try:
            return await enqueue(store, run_at=T0)
        finally:
            await store.close()

    highest = max(row["id"] for row in original["retry_jobs"])
    assert asyncio.run(next_job_id()) > highest + 1, "the pruned job's id isn't reused"

    with pytest.raises(SystemExit) as refused:
        main(["migrate-to", postgres_url])
    assert refused.value.code == 1
    said = capsys.readouterr()
    assert "already holds data" in said.err and "empty database" in said.err
    assert str(password) not in said.out + said.err
    after = asyncio.run(_rows(postgres_url))
    assert len(after["retry_jobs"]) == len(copied["retry_jobs"]) + 1
    assert after["posts"] == copied["posts"]
