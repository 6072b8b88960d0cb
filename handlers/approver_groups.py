"""The members of the approver user groups, asked of Slack and kept fresh (SPEC section 7.5).

`SOCIALPOST_APPROVERS` entries starting with `S` are Slack user groups. `ApproverGroups` asks
Slack for each group's members with `usergroups.users.list` (bot scope `usergroups:read`) when
the bot starts, again every `refresh_every` seconds (at most 10 minutes), and at once when
Slack reports a change (`subteam_members_changed`, see `handlers.events`). The services ask it
`members_of(group)` (`services.approvals.GroupMembers`), which never waits on Slack.

When Slack can't be asked (network, rate limit, an expired token, a missing scope), the last
members Slack gave stay in force, the failure is logged, and the group is asked again sooner
(`retry_every`). It never falls back to "everyone may approve": a group Slack has never
answered for has no members here, so nobody approves through it until Slack answers. A group
Slack says doesn't exist (deleted or disabled: `no_such_subteam`) has no members from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from services.approvals import is_group

log = structlog.get_logger(__name__)

REFRESH_EVERY = 300.0
"""Seconds between two refreshes of a group; SPEC asks for at least every 10 minutes."""
REFRESH_EVERY_MAX = 600.0
RETRY_EVERY = 30.0
"""Seconds before a group Slack didn't answer for is asked again."""
GONE = "no_such_subteam"
"""Slack's answer for a group that was deleted or disabled (or never existed)."""


@dataclass
class _Group:
    members: frozenset[str] | None = None
    due: float = 0.0
    failures: int = 0
    changes: int = 0  # how often Slack said the members changed


class ApproverGroups:
    """The last known members of each approver group, refreshed from Slack in the background."""

    def __init__(
        self,
        client: AsyncWebClient,
        groups: Iterable[str],
        *,
        refresh_every: float = REFRESH_EVERY,
        retry_every: float = RETRY_EVERY,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        if not 0 < refresh_every <= REFRESH_EVERY_MAX:
            raise ValueError(f"refresh_every must be in (0, {REFRESH_EVERY_MAX:g}] seconds")
        self._client = client
        self._groups = {group: _Group() for group in groups if is_group(group)}
        self._refresh_every = refresh_every
        self._retry_every = min(retry_every, refresh_every)
        self._monotonic = monotonic or _loop_time
        self._wake = asyncio.Event()
        self._refreshed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def groups(self) -> tuple[str, ...]:
        """The group IDs this keeps, in the order configured."""
        return tuple(self._groups)

    def members_of(self, group_id: str) -> frozenset[str] | None:
        """The group's members as Slack last gave them; None while Slack never answered
        (and for a group that isn't an approver group)."""
        group = self._groups.get(group_id)
        return group.members if group is not None else None

    def changed(self, group_id: str) -> bool:
        """Slack says the group's members changed: ask again at once (False when the group
        isn't an approver group, so there is nothing to do)."""
        group = self._groups.get(group_id)
        if group is None:
            return False
        group.due = 0.0
        group.changes += 1
        self._wake.set()
        return True

    def next_due(self) -> float | None:
        """When (on the monotonic clock) the next group is due a refresh; None without groups."""
        return min((group.due for group in self._groups.values()), default=None)

    async def refresh(self, *, only_due: bool = False) -> None:
        """Ask Slack for the members of every group (or only of those due); one failing group
        doesn't keep the others from being asked."""
        now = self._monotonic()
        for group_id, group in self._groups.items():
            if only_due and group.due > now:
                continue
            changes = group.changes
            wait = await self._refresh_one(group_id, group)
            # A change reported while Slack was being asked may not be in its answer.
            group.due = 0.0 if group.changes != changes else self._monotonic() + wait
        self._refreshed.set()
        self._refreshed = asyncio.Event()

    def next_refresh(self) -> Coroutine[Any, Any, Literal[True]]:
        """Something to await until the next refresh (of every group, or of those due) that
        finishes after this call."""
        return self._refreshed.wait()

    async def _refresh_one(self, group_id: str, group: _Group) -> float:
        """Refresh one group; the seconds until it should be asked again."""
        try:
            response = await self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown_error")
            if error == GONE:
                if group.members != frozenset():
                    log.error("approver_group_gone", group=group_id, error=error)
                group.members = frozenset()
                group.failures = 0
                return self._refresh_every
            return self._failed(group_id, group, error, _retry_after(exc))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return self._failed(group_id, group, type(exc).__name__, None)
        users = response.get("users")
        if not isinstance(users, list):
            return self._failed(group_id, group, "unexpected_answer", None)
        members = frozenset(user for user in users if isinstance(user, str))
        if members != group.members:
            log.info(
                "approver_group_resolved",
                group=group_id,
                members=len(members),
                was=None if group.members is None else len(group.members),
            )
        group.members = members
        group.failures = 0
        return self._refresh_every

    def _failed(self, group_id: str, group: _Group, error: str, retry_after: float | None) -> float:
        group.failures += 1
        kept = None if group.members is None else len(group.members)
        # Never "everyone": with no members known yet, nobody approves through this group.
        log.error(
            "approver_group_refresh_failed",
            group=group_id,
            error=error,
            failures=group.failures,
            kept_members=kept,
        )
        return max(self._retry_every, retry_after or 0.0)

    async def start(self, *, first_answer: float) -> None:
        """Ask Slack for every group (waiting at most `first_answer` seconds: a Slack that
        hangs can't hold the bot's start), then keep them fresh in the background until
        `aclose`."""
        if not self._groups:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(first_answer):
                await self.refresh()
        self._task = asyncio.create_task(self.run(), name="approver-groups")

    async def aclose(self) -> None:
        """Stop refreshing."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        """Refresh groups as they fall due, and at once when `changed` is called; until
        cancelled."""
        if not self._groups:
            return
        while True:
            await self.refresh(only_due=True)
            due = self.next_due()
            delay = max(0.0, (due if due is not None else 0.0) - self._monotonic())
            self._wake.clear()
            if any(group.due <= self._monotonic() for group in self._groups.values()):
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


def _retry_after(exc: SlackApiError) -> float | None:
    """Slack's Retry-After (seconds) on a rate-limited answer."""
    headers = getattr(exc.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
