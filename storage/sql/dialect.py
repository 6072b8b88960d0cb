"""The one construct that differs by name between backends: INSERT ... ON CONFLICT.

SQLite and PostgreSQL both have it with the same meaning; SQLAlchemy spells it per dialect.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(dialect_name: str, table: Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT into `table` that can say what to do on a conflict."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    if dialect_name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no INSERT ... ON CONFLICT for {dialect_name}")
