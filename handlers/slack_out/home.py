"""App Home: each viewer's tab, refreshed when it is opened and when the queue changes.

The viewers are remembered in the database (`Store.viewers`, the most recent `MAX_VIEWERS`),
not in process memory: whichever process a change happens in refreshes the tabs of viewers who
opened theirs through any process, and a restart forgets nobody. A change refreshes only the
`REFRESH_PER_CHANGE` most recent viewers' tabs (everyone else's refreshes when they next open
it), after `debounce` seconds in which further changes coalesce, from one read of the queue.
Refreshes go one at a time and stop while Slack asks us to hold back, then pick up again: the
cards and publishes that share Slack's rate limits never wait for App Home.

What a tab shows (and which buttons each viewer gets) comes from `services.overview`.
"""

from __future__ import annotations

import asyncio

import structlog

from handlers.slack_out.delivery import DeliveryError, SlackDelivery
from services.overview import Overview
from storage import Store

log = structlog.get_logger(__name__)

MAX_VIEWERS = 200
REFRESH_PER_CHANGE = 20


class AppHome:
    """Shows and refreshes App Home tabs."""

    def __init__(
        self, store: Store, overview: Overview, slack: SlackDelivery, *, debounce: float = 0.3
    ) -> None:
        self._store = store
        self._overview = overview
        self._slack = slack
        self._debounce = debounce
        self._changed = False
        self._refresh: asyncio.Task[None] | None = None

    async def opened(self, user_id: str) -> None:
        """`user_id` opened the tab: show the queue and keep it fresh from now on."""
        async with self._store.transaction() as tx:
            await tx.viewers.opened(user_id, keep=MAX_VIEWERS)
        try:
            await self._slack.show_home(user_id, await self._overview.home(user_id))
        except DeliveryError as exc:
            log.warning("home_refresh_failed", user=user_id, reason=exc.reason)
            if not exc.attempted:
                # Slack asked us to hold back: the refresh round waits, then shows it.
                self.changed()

    def changed(self) -> None:
        """Something in the queue changed: refresh the recent viewers' tabs soon (changes
        coalesce, also with one arriving while a refresh runs)."""
        self._changed = True
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(self._refresh_while_changed(), name="home-refresh")

    async def _refresh_while_changed(self) -> None:
        while self._changed:
            await asyncio.sleep(self._debounce)
            self._changed = False
            paused_for = await self._refresh_recent()
            if paused_for is not None:
                # Slack asked us to hold back: try the whole round again once it allows.
                self._changed = True
                await asyncio.sleep(paused_for)

    async def _refresh_recent(self) -> float | None:
        """Refresh the most recent viewers' tabs; the wait Slack asked for if it stopped us."""
        recent = await self._store.viewers.recent(REFRESH_PER_CHANGE)
        if not recent:
            return None
        snapshot = await self._overview.snapshot()
        for user_id in recent:
            try:
                await self._slack.show_home(user_id, self._overview.home_for(user_id, snapshot))
            except DeliveryError as exc:
                if not exc.attempted or exc.retry_after is not None:
                    return exc.retry_after or 1.0
                log.warning("home_refresh_failed", user=user_id, reason=exc.reason)
        return None

    async def idle(self) -> None:
        """Wait until no refresh is pending (tests and benchmarks)."""
        while self._refresh is not None and not self._refresh.done():
            await asyncio.gather(self._refresh, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop a pending refresh."""
        if self._refresh is not None:
            self._refresh.cancel()
            await asyncio.gather(self._refresh, return_exceptions=True)
