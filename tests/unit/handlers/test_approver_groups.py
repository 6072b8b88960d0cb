"""The approver-group resolver against the Slack emulator's usergroups.users.list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from handlers.approver_groups import ApproverGroups
from services.approvals import Approvers
from tests.support.emulators.base import Fault
from tests.support.emulators.slack import SlackEmulator


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    """A running Slack emulator with two user groups."""
    async with SlackEmulator() as emulator:
        emulator.add_usergroup("S0EDITORS", ["U0ANN", "U0BOB"], handle="editors")
        emulator.add_usergroup("S0LEGAL", ["U0CAT"], handle="legal")
        yield emulator


@pytest.fixture
def client(slack: SlackEmulator) -> AsyncWebClient:
    """The bot's Web API client, pointed at the emulator, without retries of its own."""
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=[])


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_groups_resolve_to_their_members(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """Each configured group is asked once with usergroups.users.list; user IDs in the list
    are not asked about; members then approve."""
    groups = ApproverGroups(client, ["U0DAN", "S0EDITORS", "S0LEGAL"])
    assert groups.groups == ("S0EDITORS", "S0LEGAL")
    await groups.refresh()
    asked = [call.args["usergroup"] for call in slack.calls_to("usergroups.users.list")]
    assert asked == ["S0EDITORS", "S0LEGAL"]
    assert groups.members_of("S0EDITORS") == {"U0ANN", "U0BOB"}
    approvers = Approvers.of(["U0DAN", "S0EDITORS", "S0LEGAL"], groups)
    assert [approvers.is_approver(u) for u in ("U0ANN", "U0CAT", "U0DAN", "U0EVE")] == [
        True,
        True,
        True,
        False,
    ]


async def test_slack_failing_keeps_the_last_known_members(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """When Slack can't be asked (an error answer, a 500, a dropped connection), the members
    it gave last stay in force and the group is asked again sooner."""
    clock = Clock()
    groups = ApproverGroups(
        client, ["S0EDITORS"], refresh_every=300, retry_every=30, monotonic=clock
    )
    await groups.refresh()
    await slack.change_usergroup_members("S0EDITORS", ["U0EVE"], notify=False)
    for fail in (
        lambda: slack.fail_method_with_error("usergroups.users.list", "missing_scope"),
        lambda: slack.fail_method("usergroups.users.list", Fault(status=500)),
        # A dropped connection is tried again once by the HTTP client: drop both.
        lambda: slack.fail_method("usergroups.users.list", Fault(drop=True), times=2),
    ):
        fail()
        await groups.refresh()
        assert groups.members_of("S0EDITORS") == {"U0ANN", "U0BOB"}
        assert groups.next_due() == clock.now + 30
    await groups.refresh()
    assert groups.members_of("S0EDITORS") == {"U0EVE"}
    assert groups.next_due() == clock.now + 300


async def test_never_resolved_group_admits_nobody(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """If Slack fails before it ever answered for a group, nobody approves through it (never
    everyone)."""
    slack.fail_method_with_error("usergroups.users.list", "invalid_auth")
    groups = ApproverGroups(client, ["S0EDITORS"])
    await groups.refresh()
    assert groups.members_of("S0EDITORS") is None
    approvers = Approvers.of(["S0EDITORS"], groups)
    assert not approvers.everyone
    assert not approvers.is_approver("U0ANN")


async def test_a_deleted_group_has_no_members(slack: SlackEmulator, client: AsyncWebClient) -> None:
    """A group Slack says doesn't exist (no_such_subteam) lets nobody approve from then on;
    the other groups are still asked."""
    groups = ApproverGroups(client, ["S0EDITORS", "S0LEGAL"])
    await groups.refresh()
    slack.remove_usergroup("S0EDITORS")
    await groups.refresh()
    assert groups.members_of("S0EDITORS") == frozenset()
    assert groups.members_of("S0LEGAL") == {"U0CAT"}


async def test_rate_limited_waits_for_retry_after(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """A rate-limited answer is asked again no sooner than Slack's Retry-After."""
    clock = Clock()
    groups = ApproverGroups(client, ["S0LEGAL"], retry_every=5, monotonic=clock)
    slack.fail_method_with_error("usergroups.users.list", "ratelimited", retry_after=120)
    await groups.refresh()
    assert groups.next_due() == clock.now + 120


async def test_only_due_groups_are_asked(slack: SlackEmulator, client: AsyncWebClient) -> None:
    """A refresh of due groups asks none before their time, and every one after it."""
    clock = Clock()
    groups = ApproverGroups(client, ["S0EDITORS", "S0LEGAL"], refresh_every=600, monotonic=clock)
    await groups.refresh()
    await groups.refresh(only_due=True)
    assert len(slack.calls_to("usergroups.users.list")) == 2
    clock.now += 600
    await groups.refresh(only_due=True)
    assert len(slack.calls_to("usergroups.users.list")) == 4


def test_refresh_interval_is_at_most_ten_minutes() -> None:
    """SPEC asks for a refresh at least every 10 minutes: a longer interval is refused."""
    client = AsyncWebClient(token="xoxb-unused")
    with pytest.raises(ValueError, match="refresh_every"):
        ApproverGroups(client, ["S0X"], refresh_every=601)


async def test_running_refreshes_on_time_and_at_once_on_a_change(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """The background loop asks again when a group falls due, and at once when Slack says a
    group's members changed; a change to another group asks nothing."""
    groups = ApproverGroups(client, ["S0EDITORS"], refresh_every=600)
    first = groups.next_refresh()
    task = asyncio.create_task(groups.run())
    try:
        async with asyncio.timeout(10):
            await first
        assert groups.members_of("S0EDITORS") == {"U0ANN", "U0BOB"}
        await slack.change_usergroup_members("S0EDITORS", ["U0EVE"], notify=False)
        assert not groups.changed("S0OTHER")
        refreshed = groups.next_refresh()
        assert groups.changed("S0EDITORS")
        async with asyncio.timeout(10):
            await refreshed
        assert groups.members_of("S0EDITORS") == {"U0EVE"}
        assert len(slack.calls_to("usergroups.users.list")) == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_running_refreshes_periodically(slack: SlackEmulator, client: AsyncWebClient) -> None:
    """Without any change event, the loop asks Slack again every refresh interval."""
    groups = ApproverGroups(client, ["S0LEGAL"], refresh_every=0.05)
    task = asyncio.create_task(groups.run())
    try:
        await slack.wait_for_call("usergroups.users.list", after=2, timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_change_during_a_refresh_is_asked_again(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    """A change Slack reports while the group is being asked may not be in that answer: the
    group is due again at once."""
    clock = Clock()
    groups = ApproverGroups(client, ["S0LEGAL"], monotonic=clock)
    slack.fail_method("usergroups.users.list", Fault(delay=0.3))
    refreshing = asyncio.create_task(groups.refresh())
    await slack.wait_for_call("usergroups.users.list", answered=False, timeout=10)
    groups.changed("S0LEGAL")
    await refreshing
    assert groups.next_due() == 0.0
