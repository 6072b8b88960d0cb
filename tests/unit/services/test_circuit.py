"""Circuit breakers (`services.circuit`): an opened circuit is a hold every process sharing the
database honours."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.circuit import Circuits
from services.errors import CircuitOpen
from storage import Store, open_store, sqlite_url


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh database."""
    opened = await open_store(sqlite_url(tmp_path / "socialpost.db"))
    yield opened
    await opened.close()


class PlatformDown(Exception):
    """A 503 from the platform."""


async def fail_through(circuits: Circuits, name: str) -> None:
    """One call through `name`'s breaker that fails."""
    with pytest.raises(PlatformDown):
        async with circuits.guard(name):
            raise PlatformDown


async def test_a_circuit_opened_in_one_process_holds_the_others_back(store: Store) -> None:
    """Three failures open X's circuit in one process: another process's breaker, which saw
    no failure, refuses X too, until the cool-down's end; LinkedIn stays open to both."""
    first = Circuits(threshold=3, cooldown=60, kind="platform", store=store)
    second = Circuits(threshold=3, cooldown=60, kind="platform", store=store)
    for _ in range(3):
        await fail_through(first, "x")
    with pytest.raises(CircuitOpen) as held:
        async with second.guard("x"):
            pytest.fail("the held platform was called")
    assert held.value.retry_at > time.time() + 50
    async with second.guard("linkedin"):
        pass


async def test_without_a_store_a_circuit_is_this_process_alone(store: Store) -> None:
    """A breaker without a store (the LLM providers') writes no hold."""
    alone = Circuits(threshold=1, cooldown=60, kind="llm")
    await fail_through(alone, "openai")
    assert await store.holds.held_for("llm:openai") is None
