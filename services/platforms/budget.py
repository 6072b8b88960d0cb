"""Time budgets for measuring text: no brief, draft or edit may stall the event loop.

Some counts are expensive on hostile text (X's URL pattern backtracks: see
`services.platforms.x.count`), and the event loop also acks everyone else's clicks. So a count
runs under a deadline: 10 ms on the event loop (where callers find it already computed, see
`off_loop`), a second in a worker thread. A text that still can't be measured in time is
refused as too complex by the function's own fallback, never let through unmeasured.

Any platform's measuring code can use this: decorate a pure function of text with `bounded`,
check `remaining_budget()` in its loops, and call it through `off_loop` from async code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache, partial, wraps
from typing import ParamSpec, TypeVar

import structlog

log = structlog.get_logger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

ON_LOOP_BUDGET = 0.01
"""Seconds a count may take on the event loop before it gives up (callers warm it first)."""
OFF_LOOP_BUDGET = 1.0
"""Seconds a count may take in a worker thread before the text is refused as too complex."""
ON_LOOP_MAX_CHARS = 20_000
"""Longer texts are never counted on the event loop, only in a worker thread."""


class MeasurementTooSlow(Exception):
    """A count ran out of its time budget (on the event loop: compute it off the loop first)."""


_deadline: ContextVar[float | None] = ContextVar("measurement_deadline", default=None)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@contextmanager
def _budget() -> Iterator[bool]:
    """Run under a deadline; yields whether this call owns it (nested calls share the outer
    one). On the event loop the budget is `ON_LOOP_BUDGET`, elsewhere `OFF_LOOP_BUDGET`."""
    if _deadline.get() is not None:
        yield False
        return
    seconds = ON_LOOP_BUDGET if _on_event_loop() else OFF_LOOP_BUDGET
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield True
    finally:
        _deadline.reset(token)


def remaining_budget() -> float:
    """Seconds left of the current count's budget; raises `MeasurementTooSlow` when none."""
    deadline = _deadline.get()
    if deadline is None:
        return OFF_LOOP_BUDGET
    left = deadline - time.monotonic()
    if left <= 0:
        raise MeasurementTooSlow
    return left


_caches: list[Callable[[], None]] = []


def register_cache(clear: Callable[[], None]) -> None:
    """Have `clear_caches` also clear this cache (a plain `lru_cache` a count relies on)."""
    _caches.append(clear)


def bounded(
    maxsize: int, when_too_slow: Callable[P, R]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Cache a pure function of text and run it under a time budget.

    When the budget runs out off the event loop, `when_too_slow` gives the (cached) answer for
    a text too complex to measure; on the event loop, or inside an outer bounded call, the
    `MeasurementTooSlow` propagates and nothing is cached, so a worker thread can still do it.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with _budget() as owner:
                on_loop = _on_event_loop()
                try:
                    if on_loop and owner and _too_long_for_loop(args):
                        raise MeasurementTooSlow
                    return function(*args, **kwargs)
                except (MeasurementTooSlow, TimeoutError) as exc:
                    if on_loop and owner:
                        # Whoever called this on the loop should have awaited `off_loop`.
                        log.warning(
                            "measurement_too_slow_on_event_loop", function=function.__name__
                        )
                    if on_loop or not owner:
                        raise MeasurementTooSlow from exc
            # Outside the spent budget: the fallback only does linear work.
            return when_too_slow(*args, **kwargs)

        wrapper = lru_cache(maxsize=maxsize)(run)
        register_cache(wrapper.cache_clear)
        cached: Callable[..., R] = wrapper

        @wraps(function)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return cached(*args, **kwargs)

        return call

    return decorate


def clear_caches() -> None:
    """Forget every cached count and split (for measuring cold costs)."""
    for clear in _caches:
        clear()


def _too_long_for_loop(args: tuple[object, ...]) -> bool:
    return any(isinstance(arg, str) and len(arg) > ON_LOOP_MAX_CHARS for arg in args)


_workers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="measure")


async def off_loop(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`function(*args, **kwargs)` in a measuring thread, with the off-loop budget.

    The event loop only waits: the patterns run without the GIL, and the Python parts yield it
    every few milliseconds. The bounded functions cache their answers, so a later call on the
    loop finds them.
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_workers, partial(function, *args, **kwargs))
