"""Posts, their platforms, versions and publishing steps.

Statements are built once per shape (module constants, or cached per set of columns) and run
with bound parameters: building and hashing a SQLAlchemy statement costs more than running it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    RowMapping,
    Select,
    Text,
    Update,
    bindparam,
    func,
    literal_column,
    select,
    update,
)

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

# A post row with its platform's slug, as every read and write returns it. In RETURNING,
# SQLAlchemy doesn't correlate a subquery with the table being changed: it is spelled out
# (the same SQL on SQLite and PostgreSQL).
_POST_COLUMNS = (
    *posts.c,
    literal_column(
        "(SELECT social_platforms.slug FROM social_platforms"
        " WHERE social_platforms.id = posts.social_platform_id)",
        Text,
    ).label("platform"),
)
_SELECT = select(posts, social_platforms.c.slug.label("platform")).join(
    social_platforms, social_platforms.c.id == posts.c.social_platform_id
)
_GET = _SELECT.where(posts.c.id == bindparam("post_id"))
_BY_REQUEST_KEY = _SELECT.where(posts.c.request_key == bindparam("request_key"))
_FOR_REQUEST = _SELECT.where(posts.c.request_id == bindparam("request_id")).order_by(
    posts.c.created_at, posts.c.id
)
_WITH_STATUS = _SELECT.where(posts.c.status.in_(bindparam("statuses", expanding=True)))
_BY_CHANGE = (posts.c.updated_at, posts.c.created_at, posts.c.id)
_NEWEST = _WITH_STATUS.order_by(*(column.desc() for column in _BY_CHANGE)).limit(bindparam("limit"))
_OLDEST = _WITH_STATUS.order_by(*_BY_CHANGE).limit(bindparam("limit"))
_SCHEDULED = (
    _SELECT.where(posts.c.status == PostStatus.SCHEDULED.value)
    .order_by(posts.c.scheduled_for, posts.c.created_at, posts.c.id)
    .limit(bindparam("limit"))
)
_VERSIONS = (
    select(post_versions)
    .where(post_versions.c.post_id == bindparam("post_id"))
    .order_by(post_versions.c.version)
)
_STEPS = select(publish_steps.c.step, publish_steps.c.external_id).where(
    publish_steps.c.post_id == bindparam("post_id")
)
_COUNTS = select(posts.c.status, func.count().label("n")).group_by(posts.c.status)
_PLATFORMS = select(social_platforms).order_by(social_platforms.c.slug)
_PLATFORM_ID = select(social_platforms.c.id).where(social_platforms.c.slug == bindparam("slug"))
_PLATFORM_BY_SLUG = select(social_platforms).where(social_platforms.c.slug == bindparam("slug"))
_NEXT_VERSION = (
    update(posts)
    .where(posts.c.id == bindparam("post_id"))
    .values(
        version=posts.c.version + 1,
        message=bindparam("message"),
        updated_at=bindparam("updated_at"),
    )
    .returning(posts.c.version)
)
_ADD_VERSION = post_versions.insert()
_NEW_POST_COLUMNS = (
    *(name for name in NewPost.model_fields if name != "platform"),
    "social_platform_id",
    "request_key",
    "created_at",
    "updated_at",
)


def request_key(request_id: str, platform: str) -> str:
    """The unique key of the post for `platform` in request `request_id`."""
    return f"{request_id}:{platform}"


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - WRITABLE_POST_FIELDS
    if unknown:
        raise ValueError(f"not writable post columns: {sorted(unknown)}")
    return fields


@functools.cache
def _insert(dialect_name: str) -> Insert:
    """INSERT a new post unless its request key exists; RETURNING the post."""
    return (
        upsert(dialect_name, posts)
        .values({name: bindparam(f"v_{name}") for name in _NEW_POST_COLUMNS})
        .on_conflict_do_nothing(index_elements=[posts.c.request_key])
        .returning(*_POST_COLUMNS)
    )


@functools.cache
def _update(columns: tuple[str, ...], *, statuses: bool, version: bool, status_to: bool) -> Update:
    """UPDATE one post's `columns` (and status), optionally only in some statuses or at one
    version; RETURNING the post."""
    conditions: list[ColumnElement[bool]] = [posts.c.id == bindparam("c_id")]
    if statuses:
        conditions.append(posts.c.status.in_(bindparam("c_statuses", expanding=True)))
    if version:
        conditions.append(posts.c.version == bindparam("c_version"))
    assigned = [*columns, "updated_at", *(["status"] if status_to else [])]
    return (
        update(posts)
        .where(*conditions)
        .values({name: bindparam(f"v_{name}") for name in assigned})
        .returning(*_POST_COLUMNS)
    )


@functools.cache
def _upsert_step(dialect_name: str) -> Insert:
    statement = upsert(dialect_name, publish_steps)
    return statement.on_conflict_do_update(
        index_elements=[publish_steps.c.post_id, publish_steps.c.step],
        set_={"external_id": statement.excluded.external_id},
    )


@functools.cache
def _upsert_platform(dialect_name: str) -> Insert:
    statement = upsert(dialect_name, social_platforms)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[social_platforms.c.slug],
        set_={
            "name": excluded.name,
            "char_limit": excluded.char_limit,
            "updated_at": excluded.updated_at,
        },
        where=(social_platforms.c.name != excluded.name)
        | (social_platforms.c.char_limit != excluded.char_limit),
    )


def _post(rows: list[RowMapping]) -> Post | None:
    return Post.model_validate(dict(rows[0])) if rows else None


class SqlPosts:
    """SQL for `posts`, `post_versions`, `publish_steps` and `social_platforms`."""

    def __init__(self, run: Executor, platform_ids: dict[str, str] | None = None) -> None:
        self._run = run
        # The store's slug -> id of the platforms seen so far: a platform's row, once there,
        # keeps its id (rows are only ever upserted by slug), so a new post needs no lookup.
        self._platform_ids = {} if platform_ids is None else platform_ids

    async def _platform_id(self, slug: str) -> str:
        known = self._platform_ids.get(slug)
        if known is not None:
            return known
        rows = await self._run.all(_PLATFORM_ID, {"slug": slug})
        if not rows:
            raise ValueError(f"unknown platform {slug!r}")
        found = self._platform_ids[slug] = str(rows[0]["id"])
        return found

    async def _posts(self, statement: Select[Any], **parameters: Any) -> list[Post]:
        rows = await self._run.all(statement, parameters)
        return [Post.model_validate(dict(row)) for row in rows]

    async def get(self, post_id: str) -> Post | None:
        """The post with this id."""
        return _post(await self._run.all(_GET, {"post_id": post_id}))

    async def for_request(self, request_id: str) -> list[Post]:
        """Every post created for one request, in creation order."""
        return await self._posts(_FOR_REQUEST, request_id=request_id)

    async def with_status(
        self, statuses: Iterable[PostStatus], *, limit: int = 50, newest_first: bool = True
    ) -> list[Post]:
        """Posts in any of `statuses`, by last change."""
        return await self._posts(
            _NEWEST if newest_first else _OLDEST,
            statuses=[status.value for status in statuses],
            limit=limit,
        )

    async def scheduled(self, *, limit: int = 50) -> list[Post]:
        """Posts scheduled for a time, soonest first."""
        return await self._posts(_SCHEDULED, limit=limit)

    async def versions(self, post_id: str) -> list[PostVersion]:
        """The post's history, oldest first."""
        rows = await self._run.all(_VERSIONS, {"post_id": post_id})
        return [PostVersion.model_validate(dict(row)) for row in rows]

    async def publish_steps(self, post_id: str) -> dict[str, str]:
        """The publishing steps already done for the post: step -> the platform's id."""
        rows = await self._run.all(_STEPS, {"post_id": post_id})
        return {row["step"]: row["external_id"] for row in rows}

    async def count_by_status(self) -> dict[PostStatus, int]:
        """How many posts are in each status."""
        return {PostStatus(row["status"]): row["n"] for row in await self._run.all(_COUNTS)}

    async def platforms(self) -> list[Platform]:
        """Every platform, by slug."""
        return [Platform.model_validate(dict(row)) for row in await self._run.all(_PLATFORMS)]

    async def create(self, post: NewPost) -> tuple[Post, bool]:
        """Insert a post; a request that already has its post for this platform gets that one."""
        platform_id = await self._platform_id(post.platform)
        now = self._run.now()
        key = None if post.request_id is None else request_key(post.request_id, post.platform)
        values = post.model_dump(exclude={"platform"})
        values.update(
            status=post.status.value,
            social_platform_id=platform_id,
            request_key=key,
            created_at=now,
            updated_at=now,
        )
        inserted = await self._run.all(
            _insert(self._run.dialect_name), {f"v_{name}": values[name] for name in values}
        )
        if inserted:
            created = _post(inserted)
            assert created is not None
            return created, True
        existing = _post(await self._run.all(_BY_REQUEST_KEY, {"request_key": key}))
        assert existing is not None, "a conflict on request_key leaves the earlier post"
        return existing, False

    async def _change(
        self,
        post_id: str,
        fields: dict[str, Any],
        *,
        statuses: Iterable[PostStatus] | None,
        version: int | None,
        status_to: PostStatus | None,
    ) -> Post | None:
        columns = tuple(sorted(_checked(fields)))
        statement = _update(
            columns,
            statuses=statuses is not None,
            version=version is not None,
            status_to=status_to is not None,
        )
        parameters: dict[str, Any] = {f"v_{name}": fields[name] for name in columns}
        parameters.update(c_id=post_id, v_updated_at=self._run.now())
        if statuses is not None:
            parameters["c_statuses"] = [status.value for status in statuses]
        if version is not None:
            parameters["c_version"] = version
        if status_to is not None:
            parameters["v_status"] = status_to.value
        return _post(await self._run.all(statement, parameters))

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
        return await self._change(
            post_id, fields, statuses=list(from_statuses), version=version, status_to=to_status
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
        statuses = None if only_if is None else list(only_if)
        return await self._change(
            post_id, fields, statuses=statuses, version=version, status_to=None
        )

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
            _NEXT_VERSION, {"post_id": post_id, "message": message, "updated_at": now}
        )
        if not bumped:
            return None
        await self._run.all(
            _ADD_VERSION,
            {
                "post_id": post_id,
                "version": bumped[0]["version"],
                "message": message,
                "source": source,
                "author": author,
                "llm_provider": llm_provider,
                "llm_model": llm_model,
                "created_at": now,
            },
        )
        return await self.get(post_id)

    async def add_publish_step(self, post_id: str, step: str, external_id: str) -> None:
        """Remember that a publishing step is done (the platform answered with this id)."""
        await self._run.all(
            _upsert_step(self._run.dialect_name),
            {
                "post_id": post_id,
                "step": step,
                "external_id": external_id,
                "created_at": self._run.now(),
            },
        )

    async def upsert_platform(self, slug: str, name: str, char_limit: int) -> Platform:
        """Create the platform or update its name and limit."""
        now = self._run.now()
        await self._run.all(
            _upsert_platform(self._run.dialect_name),
            {
                "id": str(uuid.uuid4()),
                "slug": slug,
                "name": name,
                "char_limit": char_limit,
                "created_at": now,
                "updated_at": now,
            },
        )
        rows = await self._run.all(_PLATFORM_BY_SLUG, {"slug": slug})
        return Platform.model_validate(dict(rows[0]))
