"""Circuit breakers for the LLM providers and the platforms, on top of purgatory.

`threshold` failures in a row open a circuit for `cooldown` seconds; after that exactly one
trial call goes through (purgatory's half-open state alone would let every concurrent call
through) and its outcome closes or re-opens the circuit. Every state change is logged.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from services.errors import CircuitOpen

log = structlog.get_logger(__name__)

HALF_OPEN = "half-opened"
# While a trial runs, others look again this much later.
TRIAL_WAIT = 1.0


class Circuits:
    """One breaker per name (a provider, a platform)."""

    def __init__(
        self,
        *,
        threshold: int,
        cooldown: float,
        kind: str,
        ignore: Sequence[
            type[BaseException] | tuple[type[BaseException], Callable[[BaseException], bool]]
        ] = (),
    ) -> None:
        """`ignore`: failures that don't count against a breaker, as exception types, or as
        (type, predicate) for those of the type the predicate is true for."""
        self.cooldown = cooldown
        self._kind = kind
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=cooldown, exclude=list(ignore)
        )
        self._factory.add_listener(self._log_event)
        self._trials: set[str] = set()

    def _log_event(self, name: str, event_name: str, event: Any) -> None:
        if event_name == "state_changed":
            log.warning("circuit_state_changed", kind=self._kind, name=name, state=event.state)

    @asynccontextmanager
    async def guard(self, name: str) -> AsyncIterator[None]:
        """Run the block through `name`'s breaker; a failure escaping it counts against `name`.

        Raises `CircuitOpen` without running the block while the circuit is open, or while
        its one trial is in flight.
        """
        if name in self._trials:
            raise CircuitOpen(name, time.time() + TRIAL_WAIT)
        breaker = await self._factory.get_breaker(name)
        try:
            await breaker.__aenter__()
        except OpenedState as opened:
            raise CircuitOpen(name, opened.opened_at + self.cooldown) from None
        trial = breaker.context.state == HALF_OPEN
        if trial:
            self._trials.add(name)
        try:
            yield
        except BaseException as exc:
            await breaker.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        else:
            await breaker.__aexit__(None, None, None)
        finally:
            if trial:
                self._trials.discard(name)
