"""The retry policy (`services.jobs.retry`): when a failed job runs again, and when never."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from services.jobs import RetryPolicy


def policy(max_attempts: int = 5) -> RetryPolicy:
    """Base 2 s, steps capped at 60 s, a seeded jitter."""
    return RetryPolicy(max_attempts=max_attempts, base_delay=2, max_delay=60, rng=random.Random(3))


def test_a_permanent_failure_never_runs_again() -> None:
    """Retrying can't fix it: no delay, whatever the attempt."""
    assert policy().delay(1, transient=False) is None


def test_the_last_run_is_the_last() -> None:
    """After SOCIALPOST_RETRY_MAX_ATTEMPTS runs a transient failure is final too."""
    assert policy(3).delay(2, transient=True) is not None
    assert policy(3).delay(3, transient=True) is None


def test_the_far_side_retry_after_is_a_floor() -> None:
    """A Retry-After longer than the backoff step wins; a shorter one doesn't shorten it."""
    assert policy().delay(1, transient=True, retry_after=30) == 30
    delay = policy().delay(1, transient=True, retry_after=0.1)
    assert delay is not None and 1 <= delay <= 2


@given(attempt=st.integers(min_value=1, max_value=40), seed=st.integers())
def test_every_delay_lies_between_half_the_step_and_the_step(attempt: int, seed: int) -> None:
    """Equal jitter: the delay after attempt n is within [step/2, step], step = min(cap,
    base * 2^(n-1))."""
    retry = RetryPolicy(max_attempts=100, base_delay=2, max_delay=60, rng=random.Random(seed))
    step = min(60, 2 * 2 ** (attempt - 1))
    delay = retry.delay(attempt, transient=True)
    assert delay is not None and step / 2 <= delay <= step
