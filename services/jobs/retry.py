"""When a failed job runs again: exponential backoff with jitter, up to a number of runs."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    Exponential from `base`, capped at `cap`, with "equal jitter": somewhere between half and
    all of the step, so retries of many jobs that failed together spread out.
    """
    step = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return step / 2 + rng.uniform(0.0, step / 2)


@dataclass(frozen=True)
class RetryPolicy:
    """SOCIALPOST_RETRY_MAX_ATTEMPTS runs at most; between them, a backoff from
    SOCIALPOST_RETRY_BASE_DELAY (each step capped at SOCIALPOST_RETRY_MAX_DELAY), never sooner
    than the far side's own Retry-After."""

    max_attempts: int
    base_delay: float
    max_delay: float
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(
        self, attempts: int, *, transient: bool, retry_after: float | None = None
    ) -> float | None:
        """Seconds until the next run of a job that failed its run number `attempts`, or None
        when it must not run again (the failure is permanent, or that was the last run)."""
        if not transient or attempts >= self.max_attempts:
            return None
        step = backoff_delay(attempts, base=self.base_delay, cap=self.max_delay, rng=self.rng)
        return max(step, retry_after or 0.0)
