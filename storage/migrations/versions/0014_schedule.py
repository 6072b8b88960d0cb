"""Time on the card (issue 14): a post's requested and scheduled times, its wait for a
decision (reminder, expiry), its wait for the next automatic publish try, and when it went out.

Only nullable columns and an index: every existing post keeps its meaning (nothing scheduled,
no deadline running until it next becomes pending).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0014_schedule"
down_revision = "0016_cost"
branch_labels = None
depends_on = None

_TIMES = ("requested_for", "scheduled_for", "awaiting_since", "reminded_at", "next_try_at")


def upgrade() -> None:
    """Add the columns and the index that lists scheduled posts by time."""
    with op.batch_alter_table("posts") as posts:
        for name in _TIMES:
            posts.add_column(sa.Column(name, UTCDateTime()))
        posts.add_column(sa.Column("retry_reason", sa.Text()))
        posts.add_column(sa.Column("posted_at", UTCDateTime()))
    op.create_index(op.f("ix_posts_status_scheduled_for"), "posts", ["status", "scheduled_for"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index(op.f("ix_posts_status_scheduled_for"), table_name="posts")
    with op.batch_alter_table("posts") as posts:
        for name in (*_TIMES, "retry_reason", "posted_at"):
            posts.drop_column(name)
