"""Requests for drafts from the HTTP API: the intake's one entry, plus Idempotency-Keys.

An API request is a `DraftRequest` like the modal's, checked by the same rules and stored by
the same `Intake.submit`. Its requester is `api:<key name>` (never a Slack user id, so no
Slack rule mistakes it for a person: it can't edit, and nobody is the author of its first
version), and it takes tokens only from the workspace bucket (the API limits each client
address itself).

With an `Idempotency-Key`, the same key from the same API key within `REPLAY_WINDOW` returns
the posts of the first request and drafts nothing new; with a different body it is refused.
The key is recorded in the transaction that stores the posts, so a refused request records
nothing, and of two concurrent requests with one key exactly one drafts (the other rolls back
and replays it). A key older than the window is given to the next request that brings it.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import structlog

from services.clock import Clock, SystemClock
from services.errors import InvalidRequest
from services.intake import DraftRequest, Intake
from storage import Store, Transaction
from storage.models import ApiRequest, Post

log = structlog.get_logger(__name__)

REPLAY_WINDOW = timedelta(hours=24)
API_REQUESTER_PREFIX = "api:"
KEY_REUSED = "This Idempotency-Key was used with a different body in the last 24 hours."


def api_requester(caller: str) -> str:
    """The requester stored for the API key named `caller`."""
    return API_REQUESTER_PREFIX + caller


def api_caller(requester: str | None) -> str | None:
    """The API key's name if `requester` is an API requester, else None."""
    if requester and requester.startswith(API_REQUESTER_PREFIX):
        return requester.removeprefix(API_REQUESTER_PREFIX)
    return None


def fingerprint(request: DraftRequest) -> str:
    """A digest of what was asked for (not of its id or who asked): two bodies that mean the
    same request have the same one."""
    asked = request.model_dump_json(
        include={"brief", "platforms", "tone", "image_url", "requested_by"}
    )
    return hashlib.sha256(asked.encode()).hexdigest()


class _KeyTaken(Exception):
    """A concurrent request recorded this Idempotency-Key first (rolls our posts back)."""


class ApiIntake:
    """Takes API requests for drafts."""

    def __init__(self, store: Store, intake: Intake, *, clock: Clock | None = None) -> None:
        self._store = store
        self._intake = intake
        self._clock = clock or SystemClock()

    @property
    def offered_platforms(self) -> list[str]:
        """The platforms a request may name."""
        return self._intake.offered_platforms

    async def submit(
        self, request: DraftRequest, *, caller: str, idempotency_key: str | None
    ) -> tuple[list[Post], bool]:
        """The request's posts, and whether they are an earlier request's (a replay).

        `request.request_id` and the requester are set here. Raises `InvalidRequest` (also
        for a key reused with another body) or `RateLimited`; then nothing is stored.
        """
        request = request.model_copy(
            update={"requester": api_requester(caller), "per_user_limit": False}
        )
        if idempotency_key is None:
            fresh = request.model_copy(update={"request_id": f"api:{uuid.uuid4()}"})
            return await self._intake.submit(fresh, new_id=True), False
        digest = fingerprint(request)
        for _ in range(3):
            replayed = await self._replay(caller, idempotency_key, digest)
            if replayed is not None:
                return replayed, True
            fresh = request.model_copy(update={"request_id": f"api:{uuid.uuid4()}"})
            claim = ApiRequest(
                caller=caller,
                idempotency_key=idempotency_key,
                fingerprint=digest,
                request_id=fresh.request_id,
                created_at=self._clock.now(),
            )

            async def record(tx: Transaction, claim: ApiRequest = claim) -> None:
                stored = await tx.api_requests.claim(
                    claim, replace_before=self._clock.now() - REPLAY_WINDOW
                )
                if stored.request_id != claim.request_id:
                    raise _KeyTaken

            try:
                return await self._intake.submit(fresh, also=record, new_id=True), False
            except _KeyTaken:
                log.info("idempotency_key_race", caller=caller)
        raise RuntimeError("an Idempotency-Key kept changing hands")  # pragma: no cover

    async def _replay(self, caller: str, key: str, digest: str) -> list[Post] | None:
        """The posts of a fresh earlier request with this key, or None; refused when its
        body differed."""
        earlier = await self._store.api_requests.get(caller, key)
        if earlier is None or earlier.created_at < self._clock.now() - REPLAY_WINDOW:
            return None
        if earlier.fingerprint != digest:
            raise InvalidRequest({"Idempotency-Key": KEY_REUSED})
        log.info("idempotent_replay", caller=caller, request_id=earlier.request_id)
        return await self._store.posts.for_request(earlier.request_id)
