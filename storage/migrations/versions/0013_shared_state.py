"""Shared state of the processes on one database: the drafting rate limits' token buckets, the
App Home viewers to refresh, and the platforms whose circuit is open (held) for every process.

Self-contained: three new tables, no rows assumed anywhere else.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0013_shared_state"
down_revision = "0014_schedule"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `rate_buckets`, `home_viewers` and `circuit_holds`."""
    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_buckets")),
    )
    op.create_table(
        "home_viewers",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_home_viewers")),
    )
    op.create_index(op.f("ix_home_viewers_opened_at"), "home_viewers", ["opened_at"])
    op.create_table(
        "circuit_holds",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_circuit_holds")),
    )


def downgrade() -> None:
    """Socialpost only moves forward: restore a backup to go back."""
    raise NotImplementedError
