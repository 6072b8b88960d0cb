"""The audit trail: every decision and every refused attempt, who, what, which post, when."""

from __future__ import annotations

from storage.connection import Repository
from storage.models import AuditEntry
from storage.posts import utc_now


class AuditLog(Repository):
    """SQL for `audit_log`."""

    async def record(
        self,
        *,
        actor: str,
        action: str,
        post_id: str | None,
        outcome: str,
        channel: str | None = None,
        message_ts: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one entry."""
        await self._run(
            "INSERT INTO audit_log (at, actor, action, post_id, outcome, channel, message_ts,"
            " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (utc_now(), actor, action, post_id, outcome, channel, message_ts, detail),
        )

    async def for_post(self, post_id: str) -> list[AuditEntry]:
        """The post's trail, oldest first."""
        async with self._db.execute(
            "SELECT * FROM audit_log WHERE post_id = ? ORDER BY id", (post_id,)
        ) as cursor:
            return [AuditEntry.model_validate(dict(row)) for row in await cursor.fetchall()]

    async def recent(self, limit: int = 100) -> list[AuditEntry]:
        """The newest entries, newest first."""
        async with self._db.execute(
            "SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)
        ) as cursor:
            return [AuditEntry.model_validate(dict(row)) for row in await cursor.fetchall()]
