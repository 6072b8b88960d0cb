"""What differs between backends inside otherwise shared statements.

- INSERT ... ON CONFLICT: SQLite and PostgreSQL both have it with the same meaning;
  SQLAlchemy spells it per dialect.
- The lease clock. On SQLite one process owns the database, so its clock (the `:now` the
  caller passes) is the only one. On PostgreSQL several processes on several machines share
  the leases, so leases are set and compared on the DATABASE's clock: `clock_timestamp()`,
  the time as the statement runs (`now()` is frozen at the start of the transaction).
- Shared state (rate buckets, circuit holds) compares epoch seconds on the same lease clock:
  `statement_timestamp()` on PostgreSQL (one reading per statement, so every use within a
  statement agrees), the caller's `:now_epoch` on SQLite.
- The wake-up: on PostgreSQL a transaction that queues work says NOTIFY, delivered to every
  process's listener when it commits; SQLite has one process and needs nothing in SQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Float,
    Interval,
    Select,
    Table,
    bindparam,
    cast,
    func,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite

from storage.schema import UTCDateTime

JOBS_CHANNEL = "socialpost_jobs"
"""The PostgreSQL notification channel of the retry table: a transaction that queued a job."""


def upsert(dialect_name: str, table: Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT into `table` that can say what to do on a conflict."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    if dialect_name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no INSERT ... ON CONFLICT for {dialect_name}")


def time_parameter(name: str) -> BindParameter[datetime]:
    """A bound aware datetime."""
    return bindparam(name, type_=UTCDateTime())


def lease_now(dialect_name: str) -> ColumnElement[datetime]:
    """The moment leases are compared with: the database's clock as the statement runs on
    PostgreSQL, the caller's `:now` on SQLite."""
    if dialect_name == "postgresql":
        return func.clock_timestamp(type_=UTCDateTime())
    return time_parameter("now")


def lease_until(dialect_name: str) -> ColumnElement[datetime]:
    """The end of a lease taken now: the lease clock plus `:lease` (a `timedelta`; asyncpg
    wants an interval, never a string) on PostgreSQL, the caller's `:lease_until` on SQLite."""
    if dialect_name == "postgresql":
        lease: BindParameter[timedelta] = bindparam("lease", type_=Interval())
        return type_coerce(func.clock_timestamp() + lease, UTCDateTime())
    return time_parameter("lease_until")


def lease_parameters(dialect_name: str, now: datetime, lease: timedelta) -> dict[str, object]:
    """The parameters `lease_now` and `lease_until` read."""
    if dialect_name == "postgresql":
        return {"lease": lease}
    return {"now": now, "lease_until": now + lease}


def clock_epoch(dialect_name: str) -> ColumnElement[float]:
    """The lease clock in epoch seconds: the database's as the statement started on
    PostgreSQL, the caller's `:now_epoch` on SQLite (`epoch_parameters`)."""
    if dialect_name == "postgresql":
        return cast(func.extract("epoch", func.statement_timestamp()), Float)
    return bindparam("now_epoch", type_=Float())


def epoch_parameters(dialect_name: str, now: datetime) -> dict[str, object]:
    """The parameters `clock_epoch` reads."""
    return {} if dialect_name == "postgresql" else {"now_epoch": now.timestamp()}


def notify_jobs(dialect_name: str) -> Select[tuple[object]] | None:
    """The statement that tells every process the retry table has new queued work (delivered
    when the transaction commits), or None where nothing needs telling."""
    if dialect_name == "postgresql":
        return select(func.pg_notify(JOBS_CHANNEL, ""))
    return None
