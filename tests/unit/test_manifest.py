"""The Slack app manifest agrees with the code."""

from __future__ import annotations

from pathlib import Path

import yaml

from handlers import ids

MANIFEST = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "manifest.yml").read_text(encoding="utf-8")
)


def test_command_and_socket_mode() -> None:
    """The manifest declares /socialpost with a usage hint, Socket Mode and interactivity."""
    (command,) = MANIFEST["features"]["slash_commands"]
    assert command["command"] == ids.COMMAND
    assert command["usage_hint"]
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True


def test_scopes_and_app_home() -> None:
    """Bot scopes cover commands, posting anywhere public and DMs; App Home is on."""
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "chat:write.public", "im:write"} <= scopes
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in MANIFEST["settings"]["event_subscriptions"]["bot_events"]


def test_approver_groups_can_be_read() -> None:
    """Approver groups need usergroups:read, and the bot hears when their members change."""
    assert "usergroups:read" in MANIFEST["oauth_config"]["scopes"]["bot"]
    assert "subteam_members_changed" in MANIFEST["settings"]["event_subscriptions"]["bot_events"]
