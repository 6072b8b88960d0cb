"""Posts, their platforms and their version history."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from storage.connection import Repository
from storage.models import Platform, Post, PostStatus, PostVersion

_POST_SELECT = """
    SELECT p.*, sp.slug AS platform
    FROM posts p JOIN social_platforms sp ON sp.id = p.social_platform_id
"""

# Columns a caller may set; everything else is managed here (ids, timestamps, status).
_WRITABLE = frozenset(
    {
        "message",
        "external_id",
        "external_url",
        "approved_at",
        "approved_by",
        "rejected_by",
        "approval_source",
        "llm_provider",
        "llm_model",
        "llm_deployment",
        "llm_fallback",
        "prompt",
        "raw_output",
        "requester",
        "brief",
        "tone",
        "image_url",
        "channel",
        "message_ts",
        "version",
        "failure_reason",
        "edited_by",
        "dry_run",
        "thread",
    }
)


def iso(moment: datetime) -> str:
    """A time as stored in the database (ISO 8601, UTC, milliseconds)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    """The current time as stored in the database."""
    return iso(datetime.now(UTC))


def _checked(fields: dict[str, Any]) -> list[str]:
    unknown = set(fields) - _WRITABLE
    if unknown:
        raise ValueError(f"not writable post columns: {sorted(unknown)}")
    return list(fields)


def _assignments(fields: dict[str, Any]) -> tuple[str, list[Any]]:
    columns = "".join(f", {name} = ?" for name in _checked(fields))
    return columns, list(fields.values())


def _version_condition(version: int | None) -> tuple[str, list[int]]:
    """The WHERE clause part (and its parameter) that pins a post to one version."""
    return ("", []) if version is None else (" AND version = ?", [version])


def _post(row: aiosqlite.Row | None) -> Post | None:
    return None if row is None else Post.model_validate(dict(row))


class PostRepository(Repository):
    """SQL for `posts`, `post_versions` and `social_platforms`."""

    async def platforms(self) -> list[Platform]:
        """Every platform, in id order."""
        async with self._db.execute(
            "SELECT id, slug, name, char_limit FROM social_platforms ORDER BY id"
        ) as cursor:
            return [Platform.model_validate(dict(row)) for row in await cursor.fetchall()]

    async def upsert_platform(self, slug: str, name: str, char_limit: int) -> Platform:
        """Create the platform or update its name and limit (the runtime syncs the platform
        registry at start-up, so a new platform needs no seed migration)."""
        now = utc_now()
        await self._run(
            "INSERT INTO social_platforms (id, slug, name, char_limit, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (slug) DO UPDATE SET name = excluded.name,"
            " char_limit = excluded.char_limit, updated_at = excluded.updated_at"
            " WHERE social_platforms.name != excluded.name"
            " OR social_platforms.char_limit != excluded.char_limit",
            (str(uuid.uuid4()), slug, name, char_limit, now, now),
        )
        async with self._db.execute(
            "SELECT id, slug, name, char_limit FROM social_platforms WHERE slug = ?", (slug,)
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return Platform.model_validate(dict(row))

    async def create(
        self,
        *,
        post_id: str,
        platform: str,
        status: PostStatus,
        request_key: str | None = None,
        **fields: Any,
    ) -> tuple[Post, bool]:
        """Insert a post; with a `request_key` already used, return that post instead.

        Returns the post and whether it was created by this call.
        """
        names = _checked(fields)
        now = utc_now()
        sql = (
            "INSERT INTO posts (id, status, social_platform_id, request_key, created_at,"
            f" updated_at{''.join(', ' + name for name in names)})"
            f" SELECT ?, ?, id, ?, ?, ?{', ?' * len(names)}"
            " FROM social_platforms WHERE slug = ?"
            " ON CONFLICT (request_key) DO NOTHING RETURNING id"
        )
        params = [post_id, status.value, request_key, now, now, *fields.values(), platform]
        async with self._db.execute(sql, params) as cursor:
            inserted = await cursor.fetchone()
        if inserted is None:
            existing = await self.get_by_request_key(request_key) if request_key else None
            if existing is None:
                raise ValueError(f"unknown platform {platform!r}")
            return existing, False
        post = await self.get(post_id)
        assert post is not None
        return post, True

    async def get(self, post_id: str) -> Post | None:
        """The post with this id."""
        async with self._db.execute(f"{_POST_SELECT} WHERE p.id = ?", (post_id,)) as cursor:
            return _post(await cursor.fetchone())

    async def get_by_request_key(self, request_key: str) -> Post | None:
        """The post created for this request (a Slack view id and a platform)."""
        async with self._db.execute(
            f"{_POST_SELECT} WHERE p.request_key = ?", (request_key,)
        ) as cursor:
            return _post(await cursor.fetchone())

    async def with_request_prefix(self, prefix: str) -> list[Post]:
        """Every post whose request key starts with `prefix` (all platforms of one request)."""
        async with self._db.execute(
            f"{_POST_SELECT} WHERE p.request_key >= ? AND p.request_key < ? ORDER BY p.rowid",
            (prefix, prefix + "\uffff"),
        ) as cursor:
            return [Post.model_validate(dict(row)) for row in await cursor.fetchall()]

    async def with_status(
        self, statuses: Iterable[PostStatus], *, limit: int = 50, newest_first: bool = True
    ) -> list[Post]:
        """Posts in any of `statuses`."""
        wanted = [status.value for status in statuses]
        order = "DESC" if newest_first else "ASC"
        async with self._db.execute(
            f"{_POST_SELECT} WHERE p.status IN ({', '.join('?' for _ in wanted)})"
            f" ORDER BY p.updated_at {order}, p.rowid {order} LIMIT ?",
            (*wanted, limit),
        ) as cursor:
            return [Post.model_validate(dict(row)) for row in await cursor.fetchall()]

    async def transition(
        self,
        post_id: str,
        from_statuses: Iterable[PostStatus],
        to_status: PostStatus,
        *,
        at_version: int | None = None,
        **fields: Any,
    ) -> Post | None:
        """Move the post to `to_status` only if it is in one of `from_statuses` (and, given
        `at_version`, still at that version).

        One conditional UPDATE: of two concurrent transitions from the same status exactly one
        gets the post back; the other gets None. Call inside a transaction.
        """
        columns, values = _assignments(fields)
        allowed = [status.value for status in from_statuses]
        version_check, version = _version_condition(at_version)
        async with self._db.execute(
            f"UPDATE posts SET status = ?, updated_at = ?{columns}"
            f" WHERE id = ? AND status IN ({', '.join('?' for _ in allowed)}){version_check}"
            " RETURNING id",
            (to_status.value, utc_now(), *values, post_id, *allowed, *version),
        ) as cursor:
            changed = await cursor.fetchone()
        return None if changed is None else await self.get(post_id)

    async def update(
        self,
        post_id: str,
        *,
        only_if: Iterable[PostStatus] | None = None,
        at_version: int | None = None,
        **fields: Any,
    ) -> Post | None:
        """Set columns without changing the status (optionally only in some statuses, or
        only at one version)."""
        columns, values = _assignments(fields)
        version_check, version = _version_condition(at_version)
        sql = f"UPDATE posts SET updated_at = ?{columns} WHERE id = ?{version_check}"
        params: list[Any] = [utc_now(), *values, post_id, *version]
        if only_if is not None:
            allowed = [status.value for status in only_if]
            sql += f" AND status IN ({', '.join('?' for _ in allowed)})"
            params += allowed
        async with self._db.execute(sql + " RETURNING id", params) as cursor:
            changed = await cursor.fetchone()
        return None if changed is None else await self.get(post_id)

    async def add_version(
        self,
        post_id: str,
        version: int,
        message: str,
        source: str,
        *,
        author: str | None = None,
        llm_provider: str | None = None,
        llm_model: str | None = None,
    ) -> None:
        """Keep one version of the post's text in its history."""
        await self._run(
            "INSERT INTO post_versions (post_id, version, message, source, author,"
            " llm_provider, llm_model, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (post_id, version, message, source, author, llm_provider, llm_model, utc_now()),
        )

    async def versions(self, post_id: str) -> list[PostVersion]:
        """The post's history, oldest first."""
        async with self._db.execute(
            "SELECT * FROM post_versions WHERE post_id = ? ORDER BY version", (post_id,)
        ) as cursor:
            return [PostVersion.model_validate(dict(row)) for row in await cursor.fetchall()]

    async def publish_steps(self, post_id: str) -> dict[str, str]:
        """The publishing steps already done for the post: step -> the platform's id."""
        async with self._db.execute(
            "SELECT step, external_id FROM publish_steps WHERE post_id = ?", (post_id,)
        ) as cursor:
            return {row["step"]: row["external_id"] for row in await cursor.fetchall()}

    async def add_publish_step(self, post_id: str, step: str, external_id: str) -> None:
        """Remember that a publishing step is done (the platform answered with this id)."""
        await self._run(
            "INSERT INTO publish_steps (post_id, step, external_id, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (post_id, step) DO UPDATE"
            " SET external_id = excluded.external_id",
            (post_id, step, external_id, utc_now()),
        )

    async def count_by_status(self) -> dict[PostStatus, int]:
        """How many posts are in each status."""
        async with self._db.execute(
            "SELECT status, COUNT(*) AS n FROM posts GROUP BY status"
        ) as cursor:
            return {PostStatus(row["status"]): row["n"] for row in await cursor.fetchall()}
