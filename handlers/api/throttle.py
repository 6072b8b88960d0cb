"""The per-address token bucket of the API (SOCIALPOST_API_RATE_LIMIT, the reference notes'
per-IP rule).

Every call to an authenticated route takes one token from its client address's bucket before
the key is even looked at, so guessing keys is as slow as any other flood. Drafts also take
their tokens from the workspace bucket, in the intake, as Slack's do.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from services.errors import RateLimited
from services.ratelimit import TokenBucket

MAX_TRACKED = 10_000
"""Addresses kept before full buckets are forgotten (a full bucket is the same as none)."""


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
