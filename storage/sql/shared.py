"""Shared state of the processes on one database: rate-limit token buckets, App Home viewers
and circuit holds.

Whatever one process must see of another's doing lives here rather than in process memory.
Every change is one statement, so two processes changing the same row queue up on its row
lock and the second sees what the first left (`storage.postgres`); times the database
compares are epoch seconds on the lease clock (`dialect.clock_epoch`), so processes on
machines whose clocks disagree still agree on when a bucket refills or a hold ends.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import ColumnElement, Float, bindparam, case, delete, select, update

from storage.schema import circuit_holds, home_viewers, rate_buckets
from storage.sql.dialect import clock_epoch, epoch_parameters, time_parameter, upsert
from storage.sql.executor import Executor

_bucket = rate_buckets.c
_viewer = home_viewers.c
_hold = circuit_holds.c

# Tokens within this much of the cost count as there (float error in the refill).
_EPSILON = 1e-9


def _number(name: str) -> Any:
    return bindparam(name, type_=Float())


def _refilled(now: ColumnElement[float]) -> ColumnElement[float]:
    """The bucket's tokens as of `now`: what it held plus the refill since, up to capacity (a
    statement that started before the last change, and waited for its lock, adds nothing)."""
    elapsed = case((now > _bucket.updated, now - _bucket.updated), else_=0.0)
    grown = _bucket.tokens + elapsed * _number("rate")
    return case((grown > _number("capacity"), _number("capacity")), else_=grown)


@functools.cache
def _bucket_statements(dialect_name: str) -> tuple[Any, Any, Any]:
    """(take, peek, create) for one dialect."""
    now = clock_epoch(dialect_name)
    refilled = _refilled(now)
    left = refilled - _number("cost")
    take = (
        update(rate_buckets)
        .where(_bucket.key == bindparam("bucket"), refilled >= _number("need"))
        .values(
            {
                _bucket.tokens: case((left > 0.0, left), else_=0.0),
                _bucket.updated: case((now > _bucket.updated, now), else_=_bucket.updated),
            }
        )
        .returning(_bucket.tokens)
    )
    peek = select(refilled.label("tokens")).where(_bucket.key == bindparam("bucket"))
    create = (
        upsert(dialect_name, rate_buckets)
        .values(
            {
                _bucket.key: bindparam("bucket"),
                _bucket.tokens: _number("capacity"),
                _bucket.updated: now,
            }
        )
        .on_conflict_do_nothing(index_elements=[_bucket.key])
    )
    return take, peek, create


class SqlRateBuckets:
    """SQL for `rate_buckets`."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def take(self, key: str, cost: float, *, capacity: float, per_seconds: float) -> float:
        """Take `cost` tokens from bucket `key` if it holds them: 0.0 when taken, else the
        seconds until it will (nothing taken). One conditional UPDATE on the usual path; a
        bucket's first take creates it full."""
        take, peek, create = _bucket_statements(self._run.dialect_name)
        rate = capacity / per_seconds
        need = min(cost, capacity)
        parameters = {
            "bucket": key,
            "cost": float(cost),
            "capacity": float(capacity),
            "rate": rate,
            "need": need - _EPSILON,
            **epoch_parameters(self._run.dialect_name, self._run.now()),
        }
        for _try in range(3):
            if await self._run.all(take, parameters):
                return 0.0
            rows = await self._run.all(peek, parameters)
            if not rows:
                await self._run.all(create, parameters)
                continue
            tokens = float(rows[0]["tokens"])
            if tokens < need - _EPSILON:
                return max((need - tokens) / rate, _EPSILON)
            # The take found no row, and the peek a bucket that holds the tokens: a
            # concurrent first take created it in between (PostgreSQL, READ COMMITTED, where
            # each statement sees the latest commit). Take again, now that it is there.
        raise AssertionError("a bucket that holds the tokens kept refusing a take")


@functools.cache
def _viewer_statements(dialect_name: str) -> tuple[Any, Any]:
    """(opened, forget) for one dialect."""
    insert = upsert(dialect_name, home_viewers).values(
        {_viewer.user_id: bindparam("user"), _viewer.opened_at: time_parameter("at")}
    )
    opened = insert.on_conflict_do_update(
        index_elements=[_viewer.user_id], set_={"opened_at": insert.excluded.opened_at}
    )
    kept = (
        select(_viewer.user_id)
        .order_by(_viewer.opened_at.desc(), _viewer.user_id)
        .limit(bindparam("keep"))
    )
    forget = delete(home_viewers).where(_viewer.user_id.not_in(kept.scalar_subquery()))
    return opened, forget


_RECENT_VIEWERS = (
    select(_viewer.user_id)
    .order_by(_viewer.opened_at.desc(), _viewer.user_id)
    .limit(bindparam("limit"))
)


class SqlHomeViewers:
    """SQL for `home_viewers`."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def opened(self, user_id: str, *, keep: int) -> None:
        """`user_id` opened the tab now; forget all but the `keep` most recent viewers."""
        opened, forget = _viewer_statements(self._run.dialect_name)
        await self._run.all(opened, {"user": user_id, "at": self._run.now()})
        await self._run.all(forget, {"keep": keep})

    async def recent(self, limit: int) -> list[str]:
        """The `limit` most recent viewers, most recent first."""
        rows = await self._run.all(_RECENT_VIEWERS, {"limit": limit})
        return [str(row["user_id"]) for row in rows]


@functools.cache
def _hold_statements(dialect_name: str) -> tuple[Any, Any]:
    """(hold, held_for) for one dialect."""
    now = clock_epoch(dialect_name)
    insert = upsert(dialect_name, circuit_holds).values(
        {_hold.name: bindparam("name"), _hold.until: now + _number("seconds")}
    )
    hold = insert.on_conflict_do_update(
        index_elements=[_hold.name],
        set_={
            "until": case(
                (insert.excluded.until > _hold.until, insert.excluded.until), else_=_hold.until
            )
        },
    )
    held_for = select((_hold.until - now).label("left")).where(
        _hold.name == bindparam("name"), _hold.until > now
    )
    return hold, held_for


class SqlCircuitHolds:
    """SQL for `circuit_holds`."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def hold(self, name: str, seconds: float) -> None:
        """Hold `name` for `seconds` from now (a hold that lasts longer stays)."""
        hold, _ = _hold_statements(self._run.dialect_name)
        await self._run.all(
            hold,
            {
                "name": name,
                "seconds": float(seconds),
                **epoch_parameters(self._run.dialect_name, self._run.now()),
            },
        )

    async def held_for(self, name: str) -> float | None:
        """Seconds the hold on `name` lasts still; None when there is none."""
        _, held_for = _hold_statements(self._run.dialect_name)
        rows = await self._run.all(
            held_for, {"name": name, **epoch_parameters(self._run.dialect_name, self._run.now())}
        )
        return float(rows[0]["left"]) if rows else None
