"""The intake API (issue 15): Idempotency-Keys of API requests, and who asked for a post.

`api_requests` maps an API key's name and an Idempotency-Key to the digest of the body it came
with and the intake request it became; `posts.requested_by` holds an API request's free-text
"requested_by", shown on the card.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0015_api"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the table and the column."""
    op.create_table(
        "api_requests",
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("caller", "idempotency_key", name="pk_api_requests"),
    )
    op.add_column("posts", sa.Column("requested_by", sa.Text()))


def downgrade() -> None:
    """Socialpost only moves forward: restore a backup to go back."""
    raise NotImplementedError
