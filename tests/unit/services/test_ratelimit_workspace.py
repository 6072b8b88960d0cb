"""Drafting with no person behind it (the ideas schedule) takes workspace tokens only."""

from __future__ import annotations

import pytest

from services.errors import RateLimited
from services.ratelimit import RateLimiter


def test_no_user_takes_only_from_the_workspace_bucket() -> None:
    """acquire(None, drafts=n) spends n workspace tokens and no user's; it is refused when
    the workspace bucket is short, with the workspace scope."""
    now = [0.0]
    limiter = RateLimiter(
        user_capacity=1,
        user_per_seconds=60,
        workspace_capacity=3,
        workspace_per_seconds=300,
        clock=lambda: now[0],
    )
    limiter.acquire(None, drafts=2)
    limiter.acquire("U0REQ", drafts=1)
    with pytest.raises(RateLimited) as refused:
        limiter.acquire(None, drafts=1)
    assert refused.value.scope == "workspace"
    assert refused.value.retry_after == pytest.approx(100.0)
