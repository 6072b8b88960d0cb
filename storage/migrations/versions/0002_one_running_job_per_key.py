"""At most one running job per key, kept by the database: a unique partial index, so that
processes claiming from one shared database (PostgreSQL) can never run two jobs of one key at
once, whatever their timing.

Before it, a queued job could be claimed next to a running job of its key whose lease had
ended; any such second running job loses its key here (it was running alone anyway).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Drop the key of all but the oldest running job per key, then add the index."""
    op.execute(
        "UPDATE retry_jobs SET key = NULL WHERE status = 'running' AND key IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM retry_jobs AS older WHERE older.key = retry_jobs.key"
        " AND older.status = 'running' AND older.id < retry_jobs.id)"
    )
    op.create_index(
        "uq_retry_jobs_running_key",
        "retry_jobs",
        ["key"],
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    )


def downgrade() -> None:
    """Socialpost only moves forward: restore a backup to go back."""
    raise NotImplementedError
