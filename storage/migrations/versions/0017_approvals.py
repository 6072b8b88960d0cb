"""Approvals of a post's versions, for SOCIALPOST_REQUIRED_APPROVALS (issue 17).

One row per person and version; an edit or a regeneration stamps `cleared_at` instead of
deleting, so the history stays. While an approval stands, the same person can't approve the
same version twice (a partial unique index), whatever the number of processes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0017_approvals"
down_revision = "0015_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `post_approvals`."""
    op.create_table(
        "post_approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("approver", sa.Text(), nullable=False),
        sa.Column("approved_at", UTCDateTime(), nullable=False),
        sa.Column("cleared_at", UTCDateTime()),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_approvals_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_approvals")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "uq_post_approvals_standing",
        "post_approvals",
        ["post_id", "version", "approver"],
        unique=True,
        sqlite_where=sa.text("cleared_at IS NULL"),
        postgresql_where=sa.text("cleared_at IS NULL"),
    )


def downgrade() -> None:
    """Drop `post_approvals`."""
    op.drop_index("uq_post_approvals_standing", table_name="post_approvals")
    op.drop_table("post_approvals")
