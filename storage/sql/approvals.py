"""SQL for `post_approvals`: who approved which version of a post (SPEC section 7.5).

An approval is added at most once per person and version while it stands (a partial unique
index, `INSERT ... ON CONFLICT DO NOTHING`), so the same approver clicking twice, in two
processes at once, is counted once. Clearing keeps the rows, stamped, as history.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Insert, bindparam, select, text, update

from storage.models import Approval
from storage.schema import post_approvals
from storage.sql.dialect import upsert
from storage.sql.executor import Executor

_COLUMNS = (
    post_approvals.c.post_id,
    post_approvals.c.version,
    post_approvals.c.approver,
    post_approvals.c.approved_at,
    post_approvals.c.cleared_at,
    post_approvals.c.post_at,
)
_FOR_POST = (
    select(*_COLUMNS)
    .where(post_approvals.c.post_id == bindparam("post_id"))
    .order_by(post_approvals.c.id)
)
_FOR_POSTS = (
    select(*_COLUMNS)
    .where(post_approvals.c.post_id.in_(bindparam("post_ids", expanding=True)))
    .order_by(post_approvals.c.id)
)
_STANDING = (
    select(post_approvals.c.approver)
    .where(
        post_approvals.c.post_id == bindparam("post_id"),
        post_approvals.c.version == bindparam("version"),
        post_approvals.c.cleared_at.is_(None),
    )
    .order_by(post_approvals.c.id)
)
_CLEAR = (
    update(post_approvals)
    .where(
        post_approvals.c.post_id == bindparam("c_post_id"), post_approvals.c.cleared_at.is_(None)
    )
    .values(cleared_at=bindparam("v_cleared_at"))
    .returning(post_approvals.c.approver)
)


@functools.cache
def _add(dialect_name: str) -> Insert:
    """INSERT an approval unless the same person's approval of that version stands."""
    return (
        upsert(dialect_name, post_approvals)
        .on_conflict_do_nothing(
            index_elements=[
                post_approvals.c.post_id,
                post_approvals.c.version,
                post_approvals.c.approver,
            ],
            index_where=text("cleared_at IS NULL"),
        )
        .returning(post_approvals.c.id)
    )


class SqlApprovals:
    """SQL for `post_approvals`."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def for_post(self, post_id: str) -> list[Approval]:
        """Every approval of the post, standing or cleared, oldest first."""
        rows = await self._run.all(_FOR_POST, {"post_id": post_id})
        return [Approval.model_validate(dict(row)) for row in rows]

    async def for_posts(self, post_ids: Collection[str]) -> dict[str, list[Approval]]:
        """Every approval of each of the posts, oldest first (posts without any left out)."""
        if not post_ids:
            return {}
        found: dict[str, list[Approval]] = {}
        for row in await self._run.all(_FOR_POSTS, {"post_ids": list(post_ids)}):
            approval = Approval.model_validate(dict(row))
            found.setdefault(approval.post_id, []).append(approval)
        return found

    async def standing(self, post_id: str, version: int) -> list[str]:
        """Who approved `version` of the post (and wasn't cleared since), first one first."""
        rows = await self._run.all(_STANDING, {"post_id": post_id, "version": version})
        return [row["approver"] for row in rows]

    async def add(
        self, post_id: str, version: int, approver: str, post_at: datetime | None = None
    ) -> bool:
        """Record `approver`'s approval of `version` (with `post_at`, a Schedule… for that
        time); False when it already stands."""
        rows = await self._run.all(
            _add(self._run.dialect_name),
            {
                "post_id": post_id,
                "version": version,
                "approver": approver,
                "approved_at": self._run.now(),
                "post_at": post_at,
            },
        )
        return bool(rows)

    async def clear(self, post_id: str) -> list[str]:
        """Clear every standing approval of the post; who they were from."""
        rows = await self._run.all(_CLEAR, {"c_post_id": post_id, "v_cleared_at": self._run.now()})
        return list(dict.fromkeys(row["approver"] for row in rows))
