"""Who gets a connection next when every one is taken: `Turns`.

Both backends have fewer connections than borrowers under load (SQLite one writer; PostgreSQL
a pool of `SOCIALPOST_DATABASE_POOL_SIZE`). First come, first served made a short read (a
card's job reading the post it is about to show, ~3 ms) wait behind every queued write
transaction (~30 ms each on a busy loop): on PostgreSQL a placeholder card waited ~150 ms for
a connection it then held for 3. So borrowers have a `Priority`, the most urgent waiting
class goes first, and a less urgent one has its turn once a write's worth of turns has gone
past it (`PATIENCE`, counted in `COST`): a stream of one class can't starve another (strict
priority let a stream of API requests starve the jobs worker on SQLite). With every class
waiting the turns go: eight reads, an interactive write, a background write, eight reads...
A borrower waits `WAIT_LIMIT` seconds at most (the pool's own queue, which had that limit,
is never reached: there are as many permits as connections).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import IntEnum

from storage.errors import StoreBusy


class Priority(IntEnum):
    """A borrower's class, most urgent first."""

    READ = 0
    """A read: short, and often what someone waits for."""
    INTERACTIVE = 1
    """A write someone waits for in Slack or on the API."""
    BACKGROUND = 2
    """A write of background work (`storage.background_work()`: the jobs worker, drafting)."""


COST = {Priority.READ: 1, Priority.INTERACTIVE: 8, Priority.BACKGROUND: 8}
"""What a turn of each class costs those waiting behind it: roughly how long it holds its
connection (measured on PostgreSQL under load: a read ~3 ms, a write transaction ~25-30 ms)."""
PATIENCE = 8
"""While a class waits, turns worth at most this much go to more urgent ones before it is
overdue (one write, or eight reads); an overdue class then waits at most one more write (of
another overdue class)."""
WAIT_LIMIT = 30.0
"""Seconds a borrower waits for its turn before `StoreBusy` (SQLAlchemy's pool waited as
long): a wedged store fails its callers instead of queueing them forever."""


class Turns:
    """`permits` holders at a time (an asyncio semaphore) whose waiters are served most
    urgent `Priority` first, but a waiting class passed over by turns worth `PATIENCE` is
    overdue and goes next. Within a class, first come, first served; a waiter cancelled as it
    is handed a permit passes it on to the next of its class."""

    def __init__(self, permits: int = 1) -> None:
        if permits < 1:
            raise ValueError("Turns needs at least one permit")
        self._free = permits
        self._waiting: dict[Priority, deque[asyncio.Future[None]]] = {p: deque() for p in Priority}
        # The cost of the turns given to more urgent classes since each class last had one.
        self._passed_over = dict.fromkeys(Priority, 0)

    async def acquire(self, priority: Priority, *, limit: float = WAIT_LIMIT) -> None:
        """Wait for a permit, `limit` seconds at most (then `StoreBusy`)."""
        if self._free and not any(self._waiting.values()):
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[priority].append(waiter)
        try:
            async with asyncio.timeout(limit):
                await waiter
        except (asyncio.CancelledError, TimeoutError) as exc:
            if waiter.done() and not waiter.cancelled():
                # The permit was handed to us as we were cancelled: it was this class's
                # turn, so the next of the class has it (or, with none, the next turn).
                self._pass_on(priority)
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise StoreBusy(f"no database connection came free in {limit:g} s") from None
            raise

    def _pass_on(self, priority: Priority) -> None:
        queue = _without_cancelled(self._waiting[priority])
        if queue:
            queue.popleft().set_result(None)
        else:
            self.release()

    def release(self) -> None:
        """Hand the permit to the next waiter: the most urgent class, unless a less urgent
        one has waited past `PATIENCE` already."""
        for priority, queue in self._waiting.items():
            if not _without_cancelled(queue):
                # Nobody of this class waits: its next waiter starts with no credit.
                self._passed_over[priority] = 0
        waiting = [priority for priority in Priority if self._waiting[priority]]
        if not waiting:
            self._free += 1
            return
        overdue = [p for p in waiting if self._passed_over[p] >= PATIENCE]
        # The one passed over longest; of equals, the more urgent.
        chosen = max(overdue, key=lambda p: (self._passed_over[p], -p)) if overdue else waiting[0]
        for priority in waiting:
            if priority > chosen:
                self._passed_over[priority] += COST[chosen]
        self._passed_over[chosen] = 0
        self._waiting[chosen].popleft().set_result(None)

    @asynccontextmanager
    async def turn(self, priority: Priority) -> AsyncIterator[None]:
        """Hold a permit for the block."""
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()


def _without_cancelled(queue: deque[asyncio.Future[None]]) -> deque[asyncio.Future[None]]:
    """`queue` with its cancelled waiters at the head dropped (the rest go when they get
    there)."""
    while queue and queue[0].done():
        queue.popleft()
    return queue
