"""The per-address token bucket of the API (SOCIALPOST_API_RATE_LIMIT, the reference notes'
per-IP rule).

Per process: each process counts its own callers' addresses (behind a load balancer the
limit is per process; the workspace bucket, in the database, holds for the whole team).
Every call to an authenticated route takes one token from its client address's bucket before
the key is even looked at, so guessing keys is as slow as any other flood. Drafts also take
their tokens from the workspace bucket, in the intake, as Slack's do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from services.errors import RateLimited

MAX_TRACKED = 10_000
"""Addresses kept before full buckets are forgotten (a full bucket is the same as none)."""


@dataclass
class TokenBucket:
    """In this process's memory (the API's per-address buckets are per process, see the
    README). `capacity` tokens, refilled at `capacity / per_seconds` tokens per second."""

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


class AddressLimiter:
    """One bucket of `capacity` tokens, refilled over `per_seconds`, per client address."""

    def __init__(
        self,
        capacity: int,
        per_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = float(capacity)
        self._per_seconds = per_seconds
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def acquire(self, address: str) -> None:
        """Take a token for `address`, or raise `RateLimited` with the real wait (nothing
        taken)."""
        now = self._clock()
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED:
                self._forget_full(now)
            bucket = TokenBucket(self._capacity, self._per_seconds, self._capacity, now)
            self._buckets[address] = bucket
        wait = bucket.wait_for(1, now)
        if wait > 0:
            raise RateLimited(wait, scope="address")
        bucket.take(1)

    def _forget_full(self, now: float) -> None:
        for address, bucket in list(self._buckets.items()):
            if bucket.wait_for(bucket.capacity, now) == 0:
                del self._buckets[address]

    @property
    def tracked(self) -> int:
        """How many addresses have a bucket now."""
        return len(self._buckets)
