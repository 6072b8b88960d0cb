"""The schedule area: SOCIALPOST_SCHEDULE_GRACE, SOCIALPOST_APPROVAL_REMINDER, _TTL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.settings import SettingsError, load_settings

MINIMAL = {
    "SLACK_BOT_TOKEN": "xoxb-1-abc",
    "SLACK_APP_TOKEN": "xapp-1-abc",
    "SOCIALPOST_APPROVAL_CHANNEL": "C0APPROVALS",
}


@pytest.fixture(autouse=True)
def _minimal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in MINIMAL.items():
        monkeypatch.setenv(name, value)


def test_defaults_are_an_hour_a_day_and_a_week() -> None:
    """Unset, the grace is 3600 s, the reminder 86400 s and the TTL 604800 s."""
    schedule = load_settings(env_file=None).schedule
    assert schedule.grace == timedelta(hours=1)
    assert schedule.reminder == timedelta(days=1)
    assert schedule.ttl == timedelta(days=7)


def test_zero_turns_reminders_and_expiry_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reminder or TTL of 0 means none; a grace of 0 is a grace of nothing."""
    monkeypatch.setenv("SOCIALPOST_APPROVAL_REMINDER", "0")
    monkeypatch.setenv("SOCIALPOST_APPROVAL_TTL", "0")
    monkeypatch.setenv("SOCIALPOST_SCHEDULE_GRACE", "0")
    schedule = load_settings(env_file=None).schedule
    assert schedule.reminder is None
    assert schedule.ttl is None
    assert schedule.grace == timedelta(0)


def test_short_values_for_tests_are_read_in_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fractions of a second are accepted, so tests can use short settings."""
    monkeypatch.setenv("SOCIALPOST_APPROVAL_REMINDER", "0.5")
    monkeypatch.setenv("SOCIALPOST_APPROVAL_TTL", "2")
    schedule = load_settings(env_file=None).schedule
    assert schedule.reminder == timedelta(seconds=0.5)
    assert schedule.ttl == timedelta(seconds=2)


def test_negative_or_malformed_values_are_named_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every bad value of the area is named in one error, by its variable."""
    monkeypatch.setenv("SOCIALPOST_SCHEDULE_GRACE", "-1")
    monkeypatch.setenv("SOCIALPOST_APPROVAL_REMINDER", "daily")
    monkeypatch.setenv("SOCIALPOST_APPROVAL_TTL", "-5")
    with pytest.raises(SettingsError) as raised:
        load_settings(env_file=None)
    names = sorted(problem.split(":")[0] for problem in raised.value.problems)
    assert names == [
        "SOCIALPOST_APPROVAL_REMINDER",
        "SOCIALPOST_APPROVAL_TTL",
        "SOCIALPOST_SCHEDULE_GRACE",
    ]
