"""A Slack user group's members changed (`subteam_members_changed`, scope usergroups:read)."""

from __future__ import annotations

from typing import Any

from handlers.approver_groups import ApproverGroups


async def handle_subteam_members_changed(
    event: dict[str, Any], approver_groups: ApproverGroups
) -> None:
    """An approver group changed: ask Slack for its members at once (the event only carries
    the delta, so the list is read again rather than patched)."""
    group = event.get("subteam_id")
    if isinstance(group, str):
        approver_groups.changed(group)
