"""The ideas schedule's runs (`idea_runs`), and what a new idea must not repeat.

A run's key is its claim: `INSERT ... ON CONFLICT DO NOTHING` on the primary key, so of any
number of processes claiming one scheduled time at once exactly one inserts the row (and
queues the run's job in the same transaction).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from storage.models import IdeaRun, IdeaRunStatus, NewIdeaRun, Seen
from storage.schema import UTCDateTime, idea_runs, posts
from storage.sql.dialect import upsert
from storage.sql.executor import Executor

_GET = select(idea_runs).where(idea_runs.c.key == bindparam("b_key"))
_RECENT = select(idea_runs).order_by(idea_runs.c.created_at.desc()).limit(bindparam("b_limit"))
_SINCE = bindparam("b_since", type_=UTCDateTime())
_KEPT_SINCE = (
    select(idea_runs.c.ideas, idea_runs.c.created_at)
    .where(idea_runs.c.created_at >= _SINCE, idea_runs.c.ideas.is_not(None))
    .order_by(idea_runs.c.created_at.desc())
)
# One row per request: a request drafted for several platforms is one brief.
_POSTS_SINCE = (
    select(posts.c.brief, posts.c.title, posts.c.created_at)
    .where(posts.c.created_at >= _SINCE, posts.c.brief.is_not(None))
    .order_by(posts.c.created_at.desc())
)
_SAVE_IDEAS = (
    update(idea_runs)
    .where(idea_runs.c.key == bindparam("b_key"))
    .values(
        ideas=bindparam("b_ideas"),
        dropped=bindparam("b_dropped"),
        status=IdeaRunStatus.RUNNING.value,
        updated_at=bindparam("b_now", type_=UTCDateTime()),
    )
)
_FINISH = (
    update(idea_runs)
    .where(idea_runs.c.key == bindparam("b_key"))
    .values(
        status=bindparam("b_status"),
        drafted=bindparam("b_drafted"),
        detail=bindparam("b_detail"),
        updated_at=bindparam("b_now", type_=UTCDateTime()),
    )
)


def _claim(dialect_name: str) -> Any:
    """INSERT the run unless its key exists, RETURNING its key."""
    return (
        upsert(dialect_name, idea_runs)
        .values(
            key=bindparam("b_key"),
            scheduled_for=bindparam("b_scheduled_for", type_=UTCDateTime()),
            requested_by=bindparam("b_requested_by"),
            topic=bindparam("b_topic"),
            status=IdeaRunStatus.QUEUED.value,
            created_at=bindparam("b_now", type_=UTCDateTime()),
            updated_at=bindparam("b_now", type_=UTCDateTime()),
        )
        .on_conflict_do_nothing(index_elements=[idea_runs.c.key])
        .returning(idea_runs.c.key)
    )


class SqlIdeaRuns:
    """SQL for `idea_runs` (and the recent posts' briefs)."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def get(self, key: str) -> IdeaRun | None:
        """The run with this key."""
        rows = await self._run.all(_GET, {"b_key": key})
        return IdeaRun.model_validate(dict(rows[0])) if rows else None

    async def recent(self, limit: int = 10) -> list[IdeaRun]:
        """The newest runs, newest first."""
        rows = await self._run.all(_RECENT, {"b_limit": limit})
        return [IdeaRun.model_validate(dict(row)) for row in rows]

    async def seen_since(self, since: datetime) -> list[Seen]:
        """The ideas kept by runs created since `since`, and the posts created since then,
        newest first (a request's posts, one per platform, count once)."""
        found: list[tuple[datetime, Seen]] = []
        for row in await self._run.all(_KEPT_SINCE, {"b_since": since}):
            for idea in row["ideas"] or []:
                seen = Seen(title=idea.get("title"), text=str(idea.get("description", "")))
                found.append((row["created_at"], seen))
        for row in await self._run.all(_POSTS_SINCE, {"b_since": since}):
            found.append((row["created_at"], Seen(title=row["title"], text=row["brief"])))
        found.sort(key=lambda pair: pair[0], reverse=True)
        return list(dict.fromkeys(seen for _, seen in found))

    async def claim(self, run: NewIdeaRun) -> bool:
        """Insert the run unless its key exists; whether it was inserted."""
        inserted = await self._run.all(
            _claim(self._run.dialect_name),
            {
                f"b_{name}": value
                for name, value in {**run.model_dump(), "now": self._run.now()}.items()
            },
        )
        return bool(inserted)

    async def save_ideas(self, key: str, ideas: list[dict[str, Any]], *, dropped: int) -> None:
        """Record the ideas a run kept and how many it dropped; status `running`."""
        await self._run.all(
            _SAVE_IDEAS,
            {"b_key": key, "b_ideas": ideas, "b_dropped": dropped, "b_now": self._run.now()},
        )

    async def finish(
        self, key: str, status: IdeaRunStatus, *, drafted: int = 0, detail: str | None = None
    ) -> None:
        """Record how the run ended."""
        await self._run.all(
            _FINISH,
            {
                "b_key": key,
                "b_status": status.value,
                "b_drafted": drafted,
                "b_detail": detail,
                "b_now": self._run.now(),
            },
        )
