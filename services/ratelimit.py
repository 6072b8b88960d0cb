"""Token buckets for drafting: one per Slack user, and one for the whole workspace.

A bucket holds up to `capacity` tokens and refills continuously, completely over `per_seconds`.
Hand-written on purpose: the maintained limiters on PyPI are windowed (limits, pyrate-limiter)
or wait instead of refusing (aiolimiter), and none reports the real wait, which the refusal
message states.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from services.errors import RateLimited


@dataclass
class TokenBucket:
    """`capacity` tokens, refilled at `capacity / per_seconds` tokens per second."""

    capacity: float
    per_seconds: float
    tokens: float
    updated: float

    @property
    def rate(self) -> float:
        """Tokens added per second."""
        return self.capacity / self.per_seconds

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last look."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until `cost` tokens are there (0 when they are now)."""
        self.refill(now)
        missing = min(cost, self.capacity) - self.tokens
        return 0.0 if missing <= 1e-9 else missing / self.rate

    def take(self, cost: float) -> None:
        """Spend tokens checked with `wait_for`."""
        self.tokens = max(0.0, self.tokens - cost)


class RateLimiter:
    """Per-user and workspace-wide buckets; a request is taken only if both allow it."""

    def __init__(
        self,
        *,
        user_capacity: int,
        user_per_seconds: float,
        workspace_capacity: int,
        workspace_per_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._user_shape = (float(user_capacity), user_per_seconds)
        self._clock = clock
        now = clock()
        self._workspace = TokenBucket(
            workspace_capacity, workspace_per_seconds, float(workspace_capacity), now
        )
        self._users: dict[str, TokenBucket] = {}

    def _bucket(self, user_id: str, now: float) -> TokenBucket:
        bucket = self._users.get(user_id)
        if bucket is None:
            capacity, per_seconds = self._user_shape
            bucket = self._users[user_id] = TokenBucket(capacity, per_seconds, capacity, now)
            if len(self._users) > 10_000:
                self._forget_full(now)
        return bucket

    def _forget_full(self, now: float) -> None:
        # A full bucket is the same as no bucket: drop them to bound memory.
        for user_id, bucket in list(self._users.items()):
            if bucket.wait_for(bucket.capacity, now) == 0:
                del self._users[user_id]

    def acquire(self, user_id: str | None, *, drafts: int = 1) -> None:
        """Take one token from the user's bucket (none without a user) and `drafts` from the
        workspace's.

        Raises `RateLimited` with the real wait when either bucket is short; then nothing is
        taken.
        """
        now = self._clock()
        user = None if user_id is None else self._bucket(user_id, now)
        user_wait = 0.0 if user is None else user.wait_for(1, now)
        if user_wait > 0:
            raise RateLimited(user_wait, scope="user")
        workspace_wait = self._workspace.wait_for(drafts, now)
        if workspace_wait > 0:
            raise RateLimited(workspace_wait, scope="workspace")
        if user is not None:
            user.take(1)
        self._workspace.take(drafts)
