"""Baseline: platforms, posts and their versions and publishing steps, the retry table with
keys, waits and lease owners, and the audit log; times as aware UTC datetimes.

A SQLite database from before Alembic (PRAGMA user_version 1-4) is brought here by
`storage.sqlite.legacy`, with its rows.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEEDED_PLATFORMS = [
    ("7f0c6f1e-52d4-4c1e-9a51-0c6b4f1d0001", "x", "X", 280),
    ("7f0c6f1e-52d4-4c1e-9a51-0c6b4f1d0002", "linkedin", "LinkedIn", 3000),
    ("7f0c6f1e-52d4-4c1e-9a51-0c6b4f1d0003", "instagram", "Instagram", 2200),
]


def upgrade() -> None:
    """Create the tables and seed the platforms of SPEC section 4."""
    platforms = op.create_table(
        "social_platforms",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("char_limit", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_platforms")),
        sa.UniqueConstraint("slug", name=op.f("uq_social_platforms_slug")),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("message", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("social_platform_id", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text()),
        sa.Column("external_url", sa.Text()),
        sa.Column("approved_at", UTCDateTime()),
        sa.Column("approved_by", sa.Text()),
        sa.Column("rejected_by", sa.Text()),
        sa.Column("approval_source", sa.Text()),
        sa.Column("llm_provider", sa.Text()),
        sa.Column("llm_model", sa.Text()),
        sa.Column("llm_deployment", sa.Text()),
        sa.Column("llm_fallback", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("prompt", sa.Text()),
        sa.Column("raw_output", sa.Text()),
        sa.Column("requester", sa.Text()),
        sa.Column("brief", sa.Text()),
        sa.Column("tone", sa.Text()),
        sa.Column("image_url", sa.Text()),
        sa.Column("channel", sa.Text()),
        sa.Column("message_ts", sa.Text()),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("request_id", sa.Text()),
        sa.Column("request_key", sa.Text()),
        sa.Column("failure_reason", sa.Text()),
        sa.Column("edited_by", sa.Text()),
        sa.Column("dry_run", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("thread", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["social_platform_id"],
            ["social_platforms.id"],
            name=op.f("fk_posts_social_platform_id_social_platforms"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
        sa.UniqueConstraint("request_key", name=op.f("uq_posts_request_key")),
    )
    op.create_index(op.f("ix_posts_status_updated_at"), "posts", ["status", "updated_at"])
    op.create_index(op.f("ix_posts_request_id"), "posts", ["request_id"])
    op.create_table(
        "post_versions",
        sa.Column("post_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("author", sa.Text()),
        sa.Column("llm_provider", sa.Text()),
        sa.Column("llm_model", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_versions_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", "version", name=op.f("pk_post_versions")),
    )
    op.create_table(
        "publish_steps",
        sa.Column("post_id", sa.Text(), nullable=False),
        sa.Column("step", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_publish_steps_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", "step", name=op.f("pk_publish_steps")),
    )
    op.create_table(
        "retry_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("post_id", sa.Text()),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease", UTCDateTime()),
        sa.Column("lease_owner", sa.Text()),
        sa.Column("last_error", sa.Text()),
        sa.Column("status", sa.Text(), server_default=sa.text("'queued'"), nullable=False),
        sa.Column("queue", sa.Text()),
        sa.Column("key", sa.Text()),
        sa.Column("after_job_id", sa.Integer()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'dead')", name=op.f("ck_retry_jobs_status")
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_retry_jobs_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retry_jobs")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_retry_jobs_status_next_attempt_at"), "retry_jobs", ["status", "next_attempt_at"]
    )
    op.create_index(op.f("ix_retry_jobs_post_id"), "retry_jobs", ["post_id"])
    op.create_index(
        "uq_retry_jobs_queued_key",
        "retry_jobs",
        ["key"],
        unique=True,
        sqlite_where=sa.text("status = 'queued'"),
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(op.f("ix_retry_jobs_key_status"), "retry_jobs", ["key", "status"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("post_id", sa.Text()),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text()),
        sa.Column("message_ts", sa.Text()),
        sa.Column("detail", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_audit_log_post_id_at"), "audit_log", ["post_id", "at"])

    now = datetime.now(UTC)
    op.bulk_insert(
        platforms,
        [
            {
                "id": platform_id,
                "slug": slug,
                "name": name,
                "char_limit": char_limit,
                "created_at": now,
                "updated_at": now,
            }
            for platform_id, slug, name, char_limit in SEEDED_PLATFORMS
        ],
    )


def downgrade() -> None:
    """Socialpost only moves forward: restore a backup to go back."""
    raise NotImplementedError
