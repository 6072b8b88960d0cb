"""Ideas on a schedule (SPEC section 7.6): `idea_runs`, one row per run, and the idea's title
on the posts it made.

A scheduled time's row (key `ideas:<UTC ISO time>`) is inserted once, whatever the number of
processes: the primary key is the claim that the time runs once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0018_ideas"
down_revision = "0017_approvals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add `posts.title` and create `idea_runs`."""
    op.add_column("posts", sa.Column("title", sa.Text()))
    op.create_table(
        "idea_runs",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("scheduled_for", UTCDateTime()),
        sa.Column("requested_by", sa.Text()),
        sa.Column("topic", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("ideas", sa.JSON()),
        sa.Column("dropped", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("drafted", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed', 'missed')",
            name=op.f("ck_idea_runs_status"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idea_runs")),
    )
    op.create_index(op.f("ix_idea_runs_created_at"), "idea_runs", ["created_at"])


def downgrade() -> None:
    """Socialpost only moves forward: restore a backup to go back."""
    raise NotImplementedError
