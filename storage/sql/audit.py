"""The audit trail: every decision and every refused attempt, who, what, which post, when."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from storage.models import AuditEntry
from storage.schema import audit_log
from storage.sql.executor import Executor

_RECORD = audit_log.insert()
_FOR_POST = (
    select(audit_log).where(audit_log.c.post_id == bindparam("post_id")).order_by(audit_log.c.id)
)
_RECENT = select(audit_log).order_by(audit_log.c.id.desc()).limit(bindparam("limit"))


class SqlAudit:
    """SQL for `audit_log`."""

    def __init__(self, run: Executor) -> None:
        self._run = run

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
        await self._run.all(
            _RECORD,
            {
                "at": self._run.now(),
                "actor": actor,
                "action": action,
                "post_id": post_id,
                "outcome": outcome,
                "channel": channel,
                "message_ts": message_ts,
                "detail": detail,
            },
        )

    async def for_post(self, post_id: str) -> list[AuditEntry]:
        """The post's trail, oldest first."""
        rows = await self._run.all(_FOR_POST, {"post_id": post_id})
        return [AuditEntry.model_validate(dict(row)) for row in rows]

    async def recent(self, limit: int = 100) -> list[AuditEntry]:
        """The newest entries, newest first."""
        rows = await self._run.all(_RECENT, {"limit": limit})
        return [AuditEntry.model_validate(dict(row)) for row in rows]
