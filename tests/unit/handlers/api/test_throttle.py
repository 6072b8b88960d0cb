"""The per-address token bucket: a flood from one address is refused, others go on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.api import throttle
from handlers.api.throttle import AddressLimiter
from services.errors import RateLimited


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_capacity_then_refused_with_the_real_wait() -> None:
    """`capacity` calls go through at once; the next is refused with the time to one token."""
    clock = Clock()
    limiter = AddressLimiter(3, 30, clock=clock)
    for _ in range(3):
        limiter.acquire("1.2.3.4")
    with pytest.raises(RateLimited) as refused:
        limiter.acquire("1.2.3.4")
    assert refused.value.retry_after == pytest.approx(10)
    limiter.acquire("5.6.7.8")  # another address has its own bucket
    clock.now = 10
    limiter.acquire("1.2.3.4")


def test_full_buckets_are_forgotten_to_bound_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_TRACKED addresses, full buckets are dropped (they are the same as none)."""
    monkeypatch.setattr(throttle, "MAX_TRACKED", 3)
    clock = Clock()
    limiter = AddressLimiter(2, 1, clock=clock)
    for address in ("a", "b", "c"):
        limiter.acquire(address)
    clock.now = 5
    limiter.acquire("d")
    assert limiter.tracked == 1


@given(
    capacity=st.integers(1, 10),
    per_seconds=st.floats(0.5, 100),
    gaps=st.lists(st.floats(0, 5), min_size=1, max_size=60),
)
def test_never_more_than_the_bucket_allows(
    capacity: int, per_seconds: float, gaps: list[float]
) -> None:
    """Over any run of calls, what went through is at most capacity + elapsed * rate."""
    clock = Clock()
    limiter = AddressLimiter(capacity, per_seconds, clock=clock)
    allowed = 0
    waits = []
    for gap in gaps:
        clock.now += gap
        try:
            limiter.acquire("x")
            allowed += 1
        except RateLimited as refused:
            waits.append(refused.retry_after)
    assert all(wait > 0 for wait in waits)
    assert allowed <= capacity + clock.now * capacity / per_seconds + 1e-6
