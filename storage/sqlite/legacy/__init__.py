"""SQLite databases from before Alembic (PRAGMA user_version 1-4), upgraded in place.

The numbered SQL files beside this module are the schema history of those versions, kept as
they shipped. A legacy database is brought to version 4 with them, its tables are renamed
`legacy_*`, the Alembic baseline creates today's tables, the rows are copied over (times
converted: ISO 8601 text and epoch seconds become UTC datetimes), and the legacy tables are
dropped; all in the caller's one transaction, so a failure leaves the database as it was.

The old retry table ran one job per (kind, post) at a time and coalesced card updates; that
becomes the key `<kind>:<post_id>` of card and publish jobs (as `services.outbox` queues
them), and a publish that was waiting for its card's first try waits for that card job.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from sqlalchemy import JSON, Connection, column, table, text
from sqlalchemy.types import TypeEngine

from storage import migrations
from storage.schema import UTCDateTime

LATEST = 4
"""The last user_version of the pre-Alembic history."""

_TABLES = (
    "social_platforms",
    "posts",
    "post_versions",
    "publish_steps",
    "retry_jobs",
    "audit_log",
)
# Children before parents, for dropping.
_DROP_ORDER = ("audit_log", "retry_jobs", "publish_steps", "post_versions", "posts")
_KEYED_KINDS = ("sync_card", "publish")


def scripts() -> list[tuple[int, str]]:
    """The legacy migrations: (user_version, sql), in order."""
    found = []
    for entry in resources.files(__name__).iterdir():
        match = re.fullmatch(r"(\d{4})_\w+\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


def statements(sql: str) -> Iterator[str]:
    """The statements of a script, one by one (the driver runs one at a time)."""
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip().strip(";").strip():
                yield pending.strip()
            pending = ""
    if pending.strip() and not pending.strip().startswith("--"):
        yield pending.strip()


def apply_scripts(connection: Connection, *, after: int, upto: int = LATEST) -> None:
    """Run the legacy migrations numbered `after` < n <= `upto`."""
    for number, sql in scripts():
        if after < number <= upto:
            for statement in statements(sql):
                connection.exec_driver_sql(statement)
            connection.exec_driver_sql(f"PRAGMA user_version = {number}")


def _time(value: Any) -> datetime | None:
    """A legacy time (ISO 8601 text, or epoch seconds) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    moment = datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _rows(connection: Connection, name: str) -> list[dict[str, Any]]:
    result = connection.execute(text(f"SELECT * FROM legacy_{name} ORDER BY rowid"))
    return [dict(row) for row in result.mappings()]


def _insert(connection: Connection, name: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    types: dict[str, TypeEngine[Any]] = {"payload": JSON()}
    columns = [
        column(key, types.get(key, _TIME_TYPE if key in _TIMES else None)) for key in rows[0]
    ]
    connection.execute(table(name, *columns).insert(), rows)


_TIME_TYPE = UTCDateTime()
_TIMES = frozenset({"created_at", "updated_at", "approved_at", "next_attempt_at", "lease", "at"})


def _converted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        for name in _TIMES & row.keys():
            row[name] = _time(row[name])
    return rows


def _posts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        key = row.get("request_key")
        row["request_id"] = key.rpartition(":")[0] if key else None
    return rows


def _jobs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keys and waits for the old rules; one queued job per key (the oldest absorbs)."""
    queued_for: dict[str, dict[str, Any]] = {}
    kept: list[dict[str, Any]] = []
    for row in rows:
        row["payload"] = json.loads(row["payload"] or "{}")
        row["lease_owner"] = None
        row["after_job_id"] = None
        keyed = row["kind"] in _KEYED_KINDS and row["post_id"] is not None
        row["key"] = f"{row['kind']}:{row['post_id']}" if keyed else None
        first = queued_for.get(row["key"] or "") if row["status"] == "queued" else None
        if first is not None:
            first["next_attempt_at"] = min(first["next_attempt_at"], row["next_attempt_at"])
            continue
        if row["status"] == "queued" and row["key"] is not None:
            queued_for[row["key"]] = row
        kept.append(row)
    for row in kept:
        if row["kind"] == "publish" and row["status"] == "queued" and row["attempts"] == 0:
            cards = [
                other["id"]
                for other in kept
                if other["kind"] == "sync_card"
                and other["post_id"] == row["post_id"]
                and other["id"] < row["id"]
                and (
                    other["status"] == "running"
                    or (other["status"] == "queued" and other["attempts"] == 0)
                )
            ]
            row["after_job_id"] = max(cards) if cards else None
    return kept


def _sequence(connection: Connection, name: str) -> int | None:
    found = connection.execute(
        text("SELECT seq FROM sqlite_sequence WHERE name = :name"), {"name": name}
    ).scalar()
    return None if found is None else int(found)


def _carry_sequence(connection: Connection, name: str, seq: int | None) -> None:
    """Ids are never reused: the new table continues where the old one's ids stopped."""
    if seq is None:
        return
    current = _sequence(connection, name)
    if current is None:
        connection.execute(
            text("INSERT INTO sqlite_sequence (name, seq) VALUES (:name, :seq)"),
            {"name": name, "seq": seq},
        )
    elif current < seq:
        connection.execute(
            text("UPDATE sqlite_sequence SET seq = :seq WHERE name = :name"),
            {"name": name, "seq": seq},
        )


def upgrade_to_baseline(connection: Connection, user_version: int) -> None:
    """Bring a legacy database (inside the caller's transaction) to the Alembic baseline."""
    apply_scripts(connection, after=user_version)
    sequences = {name: _sequence(connection, name) for name in ("retry_jobs", "audit_log")}
    for name in _TABLES:
        connection.exec_driver_sql(f"ALTER TABLE {name} RENAME TO legacy_{name}")
    migrations.upgrade(connection, migrations.BASELINE)
    # The legacy platform rows (same ids) replace the baseline's seed.
    connection.exec_driver_sql("DELETE FROM social_platforms")
    _insert(connection, "social_platforms", _converted(_rows(connection, "social_platforms")))
    _insert(connection, "posts", _posts(_converted(_rows(connection, "posts"))))
    _insert(connection, "post_versions", _converted(_rows(connection, "post_versions")))
    _insert(connection, "publish_steps", _converted(_rows(connection, "publish_steps")))
    _insert(connection, "retry_jobs", _jobs(_converted(_rows(connection, "retry_jobs"))))
    _insert(connection, "audit_log", _converted(_rows(connection, "audit_log")))
    for name, seq in sequences.items():
        _carry_sequence(connection, name, seq)
    for name in (*_DROP_ORDER, "social_platforms"):
        connection.exec_driver_sql(f"DROP TABLE legacy_{name}")
