"""Circuit breakers for the LLM providers and the platforms, on top of purgatory.

`threshold` failures in a row open a circuit for `cooldown` seconds; after that exactly one
trial call goes through (purgatory's half-open state alone would let every concurrent call
through) and its outcome closes or re-opens the circuit. Every state change is logged.

Given a `store`, an opened circuit is also a hold in the database (`Store.holds`, on the
database's clock) that every process sharing it honours: one process's breaker opening after
a platform's 429s or 5xxs makes all of them wait out the cool-down, instead of each one
learning it by failing three times. The failure counts and the one trial after a cool-down
stay per process (at most one trial per process, then the circuit is settled again).
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
from storage import Store

log = structlog.get_logger(__name__)

HALF_OPEN = "half-opened"
OPENED = "opened"
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
        store: Store | None = None,
    ) -> None:
        """`ignore`: failures that don't count against a breaker, as exception types, or as
        (type, predicate) for those of the type the predicate is true for. `store`: share
        opened circuits with every process on its database."""
        self.cooldown = cooldown
        self._kind = kind
        self._store = store
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
        if self._store is not None:
            held_for = await self._store.holds.held_for(self._hold_name(name))
            if held_for is not None:
                raise CircuitOpen(name, time.time() + held_for)
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
            was = breaker.context.state
            await breaker.__aexit__(type(exc), exc, exc.__traceback__)
            if breaker.context.state == OPENED and was != OPENED:
                await self._hold(name)
            raise
        else:
            await breaker.__aexit__(None, None, None)
        finally:
            if trial:
                self._trials.discard(name)

    def _hold_name(self, name: str) -> str:
        return f"{self._kind}:{name}"

    async def _hold(self, name: str) -> None:
        """Tell every process sharing the store that `name`'s circuit opened."""
        if self._store is None:
            return
        async with self._store.transaction() as tx:
            await tx.holds.hold(self._hold_name(name), self.cooldown)
