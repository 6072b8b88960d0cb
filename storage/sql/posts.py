"""Posts, their platforms, versions and publishing steps."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update

from storage.models import (
    WRITABLE_POST_FIELDS,
    NewPost,
    Platform,
    Post,
    PostStatus,
    PostVersion,
)
from storage.schema import post_versions, posts, publish_steps, social_platforms
from storage.sql.dialect import upsert
from storage.sql.executor import Executor


def request_key(request_id: str, platform: str) -> str:
    """The unique key of the post for `platform` in request `request_id`."""
    return f"{request_id}:{platform}"


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - WRITABLE_POST_FIELDS
    if unknown:
        raise ValueError(f"not writable post columns: {sorted(unknown)}")
    return fields


def _select_posts() -> Select[Any]:
    return select(posts, social_platforms.c.slug.label("platform")).join(
        social_platforms, social_platforms.c.id == posts.c.social_platform_id
    )


class SqlPosts:
    """SQL for `posts`, `post_versions`, `publish_steps` and `social_platforms`."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def _posts(self, statement: Select[Any]) -> list[Post]:
        return [Post.model_validate(dict(row)) for row in await self._run.all(statement)]

    async def _one(self, condition: ColumnElement[bool]) -> Post | None:
        found = await self._posts(_select_posts().where(condition))
        return found[0] if found else None

    async def get(self, post_id: str) -> Post | None:
        """The post with this id."""
        return await self._one(posts.c.id == post_id)

    async def for_request(self, request_id: str) -> list[Post]:
        """Every post created for one request, in creation order."""
        return await self._posts(
            _select_posts()
            .where(posts.c.request_id == request_id)
            .order_by(posts.c.created_at, posts.c.id)
        )

    async def with_status(
        self, statuses: Iterable[PostStatus], *, limit: int = 50, newest_first: bool = True
    ) -> list[Post]:
        """Posts in any of `statuses`, by last change."""
        order = [posts.c.updated_at, posts.c.created_at, posts.c.id]
        return await self._posts(
            _select_posts()
            .where(posts.c.status.in_([status.value for status in statuses]))
            .order_by(*(column.desc() if newest_first else column for column in order))
            .limit(limit)
        )

    async def versions(self, post_id: str) -> list[PostVersion]:
        """The post's history, oldest first."""
        rows = await self._run.all(
            select(post_versions)
            .where(post_versions.c.post_id == post_id)
            .order_by(post_versions.c.version)
        )
        return [PostVersion.model_validate(dict(row)) for row in rows]

    async def publish_steps(self, post_id: str) -> dict[str, str]:
        """The publishing steps already done for the post: step -> the platform's id."""
        rows = await self._run.all(
            select(publish_steps.c.step, publish_steps.c.external_id).where(
                publish_steps.c.post_id == post_id
            )
        )
        return {row["step"]: row["external_id"] for row in rows}

    async def count_by_status(self) -> dict[PostStatus, int]:
        """How many posts are in each status."""
        rows = await self._run.all(
            select(posts.c.status, func.count().label("n")).group_by(posts.c.status)
        )
        return {PostStatus(row["status"]): row["n"] for row in rows}

    async def platforms(self) -> list[Platform]:
        """Every platform, by slug."""
        rows = await self._run.all(select(social_platforms).order_by(social_platforms.c.slug))
        return [Platform.model_validate(dict(row)) for row in rows]

    async def create(self, post: NewPost) -> tuple[Post, bool]:
        """Insert a post; a request that already has its post for this platform gets that one."""
        platform_ids = await self._run.all(
            select(social_platforms.c.id).where(social_platforms.c.slug == post.platform)
        )
        if not platform_ids:
            raise ValueError(f"unknown platform {post.platform!r}")
        now = self._run.now()
        key = None if post.request_id is None else request_key(post.request_id, post.platform)
        values = post.model_dump(exclude={"platform"})
        values.update(
            status=post.status.value,
            social_platform_id=platform_ids[0]["id"],
            request_key=key,
            created_at=now,
            updated_at=now,
        )
        inserted = await self._run.all(
            upsert(self._run.dialect_name, posts)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[posts.c.request_key])
            .returning(posts.c.id)
        )
        if inserted:
            created = await self.get(post.id)
            assert created is not None
            return created, True
        existing = await self._one(posts.c.request_key == key)
        assert existing is not None, "a conflict on request_key leaves the earlier post"
        return existing, False

    async def _update(
        self, post_id: str, conditions: list[ColumnElement[bool]], values: dict[str, Any]
    ) -> Post | None:
        changed = await self._run.all(
            update(posts)
            .where(posts.c.id == post_id, *conditions)
            .values(updated_at=self._run.now(), **values)
            .returning(posts.c.id)
        )
        return await self.get(post_id) if changed else None

    async def transition(
        self,
        post_id: str,
        from_statuses: Iterable[PostStatus],
        to_status: PostStatus,
        *,
        version: int | None = None,
        **fields: Any,
    ) -> Post | None:
        """Move the post to `to_status` only from `from_statuses` (and only at `version`)."""
        conditions: list[ColumnElement[bool]] = [
            posts.c.status.in_([status.value for status in from_statuses])
        ]
        if version is not None:
            conditions.append(posts.c.version == version)
        return await self._update(
            post_id, conditions, {"status": to_status.value, **_checked(fields)}
        )

    async def update(
        self,
        post_id: str,
        *,
        only_if: Iterable[PostStatus] | None = None,
        version: int | None = None,
        **fields: Any,
    ) -> Post | None:
        """Set columns without changing the status."""
        conditions: list[ColumnElement[bool]] = []
        if only_if is not None:
            conditions.append(posts.c.status.in_([status.value for status in only_if]))
        if version is not None:
            conditions.append(posts.c.version == version)
        return await self._update(post_id, conditions, _checked(fields))

    async def add_version(
        self,
        post_id: str,
        message: str,
        source: str,
        *,
        author: str | None = None,
        llm_provider: str | None = None,
        llm_model: str | None = None,
    ) -> Post | None:
        """Make `message` the post's next version, and keep it in the history."""
        now = self._run.now()
        bumped = await self._run.all(
            update(posts)
            .where(posts.c.id == post_id)
            .values(version=posts.c.version + 1, message=message, updated_at=now)
            .returning(posts.c.version)
        )
        if not bumped:
            return None
        await self._run.all(
            post_versions.insert().values(
                post_id=post_id,
                version=bumped[0]["version"],
                message=message,
                source=source,
                author=author,
                llm_provider=llm_provider,
                llm_model=llm_model,
                created_at=now,
            )
        )
        return await self.get(post_id)

    async def add_publish_step(self, post_id: str, step: str, external_id: str) -> None:
        """Remember that a publishing step is done (the platform answered with this id)."""
        statement = upsert(self._run.dialect_name, publish_steps).values(
            post_id=post_id, step=step, external_id=external_id, created_at=self._run.now()
        )
        await self._run.all(
            statement.on_conflict_do_update(
                index_elements=[publish_steps.c.post_id, publish_steps.c.step],
                set_={"external_id": statement.excluded.external_id},
            )
        )

    async def upsert_platform(self, slug: str, name: str, char_limit: int) -> Platform:
        """Create the platform or update its name and limit."""
        now = self._run.now()
        statement = upsert(self._run.dialect_name, social_platforms).values(
            id=str(uuid.uuid4()),
            slug=slug,
            name=name,
            char_limit=char_limit,
            created_at=now,
            updated_at=now,
        )
        excluded = statement.excluded
        await self._run.all(
            statement.on_conflict_do_update(
                index_elements=[social_platforms.c.slug],
                set_={
                    "name": excluded.name,
                    "char_limit": excluded.char_limit,
                    "updated_at": excluded.updated_at,
                },
                where=(social_platforms.c.name != excluded.name)
                | (social_platforms.c.char_limit != excluded.char_limit),
            )
        )
        rows = await self._run.all(select(social_platforms).where(social_platforms.c.slug == slug))
        return Platform.model_validate(dict(rows[0]))
