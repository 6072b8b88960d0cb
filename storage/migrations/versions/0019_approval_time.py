"""The time a Schedule… approval carries (issue 17): with several approvals needed, an approver
who chose a time with Schedule… approves the post for that time, and the last approval, even a
plain Approve & post, schedules it then.

One nullable column: approvals from before this revision carry no time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0019_approval_time"
down_revision = "0013_shared_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add `post_approvals.post_at`."""
    op.add_column("post_approvals", sa.Column("post_at", UTCDateTime()))


def downgrade() -> None:
    """Socialpost only moves forward: restore a backup to go back."""
    raise NotImplementedError
