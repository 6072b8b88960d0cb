"""Token buckets for drafting: one per Slack user, and one for the whole workspace.

A bucket holds up to `capacity` tokens and refills continuously, completely over `per_seconds`.
The buckets live in the database (`Transaction.buckets`), not in process memory: every process
on one database takes from the same buckets, so the team's limit holds however many processes
serve it. A take is one conditional UPDATE on the database's clock inside the caller's
transaction, so the tokens are spent only if the work they pay for is stored (the transaction
commits), and a re-delivered request that finds its work already stored spends none.

Hand-written on purpose: the maintained limiters on PyPI are windowed (limits, pyrate-limiter)
or wait instead of refusing (aiolimiter), none keeps its state in a SQL database the way the
rest of socialpost does, and none reports the real wait, which the refusal message states.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.errors import RateLimited
from storage import Transaction

WORKSPACE_BUCKET = "workspace"


def user_bucket(user_id: str) -> str:
    """The key of a Slack user's bucket."""
    return f"user:{user_id}"


@dataclass(frozen=True)
class BucketShape:
    """`capacity` tokens, refilled completely over `per_seconds`."""

    capacity: float
    per_seconds: float


class RateLimiter:
    """Per-user and workspace-wide buckets; a request is taken only if both allow it."""

    def __init__(
        self,
        *,
        user_capacity: int,
        user_per_seconds: float,
        workspace_capacity: int,
        workspace_per_seconds: float,
    ) -> None:
        self.user = BucketShape(float(user_capacity), user_per_seconds)
        self.workspace = BucketShape(float(workspace_capacity), workspace_per_seconds)

    async def take(
        self, tx: Transaction, key: str, cost: float, shape: BucketShape, *, scope: str
    ) -> None:
        """Take `cost` tokens from bucket `key` inside `tx`; `RateLimited(wait, scope)` when
        it doesn't hold them (then this take took nothing)."""
        wait = await tx.buckets.take(
            key, cost, capacity=shape.capacity, per_seconds=shape.per_seconds
        )
        if wait > 0:
            raise RateLimited(wait, scope=scope)

    async def acquire(self, tx: Transaction, user_id: str | None, *, drafts: int = 1) -> None:
        """Take one token from the user's bucket (none without a user: an API client or the
        ideas schedule) and `drafts` from the workspace's, inside `tx`.

        Raises `RateLimited` with the real wait when either bucket is short; the caller lets
        the exception roll `tx` back, so nothing is taken (nor stored).
        """
        if user_id is not None:
            await self.take(tx, user_bucket(user_id), 1, self.user, scope="user")
        await self.take(tx, WORKSPACE_BUCKET, drafts, self.workspace, scope="workspace")
