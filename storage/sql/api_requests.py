"""The Idempotency-Keys of API requests (`api_requests`)."""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import Insert, bindparam, select, update

from storage.models import ApiRequest
from storage.schema import api_requests
from storage.sql.dialect import time_parameter, upsert
from storage.sql.executor import Executor

_COLUMNS = ("caller", "idempotency_key", "fingerprint", "request_id", "created_at")
_KEY = (
    api_requests.c.caller == bindparam("k_caller"),
    api_requests.c.idempotency_key == bindparam("k_idempotency_key"),
)
_GET = select(api_requests).where(*_KEY)
# A stale row (older than the replay window) gives its key to the new request.
_REPLACE_STALE = (
    update(api_requests)
    .where(*_KEY, api_requests.c.created_at < time_parameter("replace_before"))
    .values(
        fingerprint=bindparam("v_fingerprint"),
        request_id=bindparam("v_request_id"),
        created_at=bindparam("v_created_at"),
    )
    .returning(*api_requests.c)
)


@functools.cache
def _insert(dialect_name: str) -> Insert:
    return (
        upsert(dialect_name, api_requests)
        .values({name: bindparam(f"v_{name}") for name in _COLUMNS})
        .on_conflict_do_nothing(
            index_elements=[api_requests.c.caller, api_requests.c.idempotency_key]
        )
        .returning(*api_requests.c)
    )


class SqlApiRequests:
    """SQL for `api_requests`."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def get(self, caller: str, idempotency_key: str) -> ApiRequest | None:
        """The request this API key made with this Idempotency-Key, if any."""
        rows = await self._run.all(_GET, {"k_caller": caller, "k_idempotency_key": idempotency_key})
        return ApiRequest.model_validate(dict(rows[0])) if rows else None

    async def claim(self, request: ApiRequest, *, replace_before: datetime) -> ApiRequest:
        """Record `request` unless its key is taken by a row created since `replace_before`;
        the row as it is now stored."""
        values = {f"v_{name}": value for name, value in request.model_dump().items()}
        key = {"k_caller": request.caller, "k_idempotency_key": request.idempotency_key}
        rows = await self._run.all(_insert(self._run.dialect_name), values)
        if not rows:
            stale = {**values, **key, "replace_before": replace_before}
            rows = await self._run.all(_REPLACE_STALE, stale)
        if not rows:
            rows = await self._run.all(_GET, key)
        return ApiRequest.model_validate(dict(rows[0]))
