"""LLM cost and the monthly budget (issue 16): the log of LLM calls, each post's running total,
and the one 80% budget warning a month.

Costs are whole nano-dollars (BIGINT), so sums are exact in SQL on every backend; a NULL cost
is one litellm couldn't compute ("cost unknown"). Posts from before this revision cost $0 over
0 calls: nothing was logged for them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.schema import NanoUSD, UTCDateTime

revision = "0016_cost"
down_revision = "0018_ideas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the posts' cost columns; create `llm_calls` and `budget_warnings`."""
    op.add_column(
        "posts", sa.Column("llm_cost", NanoUSD(), server_default=sa.text("0"), nullable=False)
    )
    for name in ("llm_call_count", "llm_unpriced_count"):
        op.add_column(
            "posts", sa.Column(name, sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    op.create_table(
        "llm_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.Text()),
        sa.Column("deployment", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer()),
        sa.Column("completion_tokens", sa.Integer()),
        sa.Column("cost", NanoUSD()),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_llm_calls_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_calls")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_llm_calls_at"), "llm_calls", ["at"])
    op.create_index(op.f("ix_llm_calls_post_id"), "llm_calls", ["post_id"])
    op.create_table(
        "budget_warnings",
        sa.Column("month", sa.Text(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_budget_warnings")),
    )


def downgrade() -> None:
    """Socialpost only moves forward: restore a backup to go back."""
    raise NotImplementedError
