"""`Turns`: who gets a connection next when every one is taken (both backends use it)."""

from __future__ import annotations

import asyncio
from collections.abc import Set

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.errors import StoreBusy
from storage.sql.turns import COST, PATIENCE, Priority, Turns

READ, INTERACTIVE, BACKGROUND = Priority.READ, Priority.INTERACTIVE, Priority.BACKGROUND


async def served_in_order(
    turns: Turns, permits: int, waiters: list[tuple[str, Priority]], cancel: Set[str] = frozenset()
) -> list[str]:
    """Take every permit, queue `waiters` (cancelling those named in `cancel`), then give
    the permits back; each waiter notes its name, yields once and releases. The order served."""
    order: list[str] = []

    async def take(name: str, priority: Priority) -> None:
        await turns.acquire(priority)
        order.append(name)
        await asyncio.sleep(0)
        turns.release()

    for _ in range(permits):
        await turns.acquire(READ)
    tasks = {name: asyncio.create_task(take(name, priority)) for name, priority in waiters}
    await asyncio.sleep(0)
    for name in cancel:
        tasks[name].cancel()
    await asyncio.sleep(0)
    for _ in range(permits):
        turns.release()
    async with asyncio.timeout(5):  # a lost wake-up fails here instead of hanging
        await asyncio.gather(*tasks.values(), return_exceptions=True)
    return order


async def test_interactive_and_background_writers_alternate_interactive_first() -> None:
    """Writers only (SQLite's one writer): an interactive waiter goes first, then a
    background one has its turn, FIFO within each class; a waiter cancelled before its turn
    is skipped."""
    order = await served_in_order(
        Turns(1),
        1,
        [
            ("background-1", BACKGROUND),
            ("background-2", BACKGROUND),
            ("cancelled", INTERACTIVE),
            ("interactive-1", INTERACTIVE),
            ("interactive-2", INTERACTIVE),
        ],
        cancel={"cancelled"},
    )
    assert order == ["interactive-1", "background-1", "interactive-2", "background-2"]


async def test_a_background_writer_waits_behind_at_most_one_interactive_one() -> None:
    """However many interactive writers queue up, a waiting background one is served after
    the first of them; with no background one waiting, interactive ones follow each other."""
    names = [f"interactive-{n}" for n in range(1, 5)]
    order = await served_in_order(
        Turns(1), 1, [*((name, INTERACTIVE) for name in names), ("background", BACKGROUND)]
    )
    assert order == ["interactive-1", "background", *names[1:]]


async def test_reads_go_first_and_a_write_waits_behind_at_most_eight_of_them() -> None:
    """A read (short) goes before waiting writes, but a waiting write has its turn once eight
    reads went past it: with every class waiting, eight reads, then one write of each kind."""
    reads = [(f"read-{n}", READ) for n in range(1, 11)]
    order = await served_in_order(
        Turns(2), 2, [("background", BACKGROUND), ("interactive", INTERACTIVE), *reads]
    )
    assert order == [
        *(name for name, _ in reads[:8]),
        "interactive",
        "background",
        "read-9",
        "read-10",
    ]


async def test_a_free_permit_is_taken_at_once_and_never_more_than_permits_are_held() -> None:
    """With permits free and nobody waiting, acquiring doesn't wait; the next one over the
    number of permits waits until one is given back."""
    turns = Turns(2)
    await turns.acquire(BACKGROUND)
    await turns.acquire(READ)
    third = asyncio.create_task(turns.acquire(READ))
    await asyncio.sleep(0.01)
    assert not third.done()
    turns.release()
    await asyncio.wait_for(third, 1)


async def test_a_waiter_cancelled_as_it_is_handed_a_permit_passes_it_to_the_next_of_its_class() -> (
    None
):
    """A permit handed to a waiter that is cancelled before it resumes goes to the next
    waiter of the same class (it was that class's turn), and no permit is lost."""
    turns = Turns(1)
    await turns.acquire(READ)
    order: list[str] = []

    async def take(name: str, priority: Priority) -> None:
        await turns.acquire(priority)
        order.append(name)
        turns.release()

    first = asyncio.create_task(take("background-1", BACKGROUND))
    second = asyncio.create_task(take("background-2", BACKGROUND))

    async def interactive() -> None:
        await turns.acquire(INTERACTIVE)
        order.append("interactive")
        turns.release()  # background is overdue now: handed to background-1...
        first.cancel()  # ...which is cancelled before it resumes

    third = asyncio.create_task(interactive())
    await asyncio.sleep(0)
    turns.release()
    async with asyncio.timeout(5):
        await asyncio.gather(first, second, third, return_exceptions=True)
    assert first.cancelled()
    assert order == ["interactive", "background-2"]
    async with asyncio.timeout(1):
        await turns.acquire(READ)


async def test_a_borrower_waits_its_limit_at_most_then_the_store_is_busy() -> None:
    """With every permit held, a waiter gives up after its limit with `StoreBusy`, and
    leaves nothing behind: the permit given back later is free for the next one."""
    turns = Turns(1)
    await turns.acquire(BACKGROUND)
    with pytest.raises(StoreBusy, match="no database connection came free"):
        await turns.acquire(INTERACTIVE, limit=0.05)
    turns.release()
    async with asyncio.timeout(1):
        await turns.acquire(READ)


def test_turns_need_a_permit() -> None:
    """Zero permits would make every borrower wait forever: refused."""
    with pytest.raises(ValueError, match="permit"):
        Turns(0)


@settings(max_examples=200, deadline=None)
@given(
    permits=st.integers(1, 4),
    classes=st.lists(st.sampled_from(list(Priority)), min_size=1, max_size=40),
    cancelled=st.sets(st.integers(0, 39), max_size=5),
)
def test_every_waiter_is_served_once_in_class_order_and_none_waits_past_patience(
    permits: int, classes: list[Priority], cancelled: set[int]
) -> None:
    """Whatever waits: each waiter not cancelled is served exactly once, first come first
    served within its class, the most urgent class first, and while a class waits, turns worth
    at most PATIENCE plus one write go to more urgent classes after its last turn."""
    waiters = [(f"{n}", priority) for n, priority in enumerate(classes)]
    cancel = {f"{n}" for n in cancelled if n < len(waiters)}
    order = asyncio.run(served_in_order(Turns(permits), permits, waiters, cancel))
    expected = [name for name, _ in waiters if name not in cancel]
    assert sorted(order, key=int) == expected
    priority_of = dict(waiters)
    for priority in Priority:
        mine = [name for name in order if priority_of[name] == priority]
        assert mine == sorted(mine, key=int)
    for priority in Priority:
        if not any(priority_of[name] == priority for name in order):
            continue
        passed = 0
        for name in order:
            if priority_of[name] == priority:
                passed = 0
            elif priority_of[name] < priority:
                passed += COST[priority_of[name]]
                still_waiting = any(
                    priority_of[later] == priority for later in order[order.index(name) :]
                )
                if still_waiting:
                    # Overdue once past PATIENCE; then one more write (of a class overdue
                    # longer) may still go first.
                    assert passed <= PATIENCE + max(COST.values())
    # Nobody was overdue at the start: the first served is of the most urgent class waiting.
    if order:
        assert priority_of[order[0]] == min(priority_of[name] for name in order)
