"""SOCIALPOST_REQUIRED_APPROVALS and approver groups in SOCIALPOST_APPROVERS."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings

MINIMAL = {
    "SLACK_BOT_TOKEN": "xoxb-1-abc",
    "SLACK_APP_TOKEN": "xapp-1-abc",
    "SOCIALPOST_APPROVAL_CHANNEL": "C0APPROVALS",
}


def _load(monkeypatch: pytest.MonkeyPatch, **values: str) -> object:
    for name, value in {**MINIMAL, **values}.items():
        monkeypatch.setenv(name, value)
    return load_settings(env_file=None)


def test_one_approval_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset, a single approval publishes (the first-stage behaviour)."""
    settings = _load(monkeypatch)
    assert settings.approval.required_approvals == 1  # type: ignore[attr-defined]


def test_required_approvals_and_groups_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """SOCIALPOST_REQUIRED_APPROVALS is a count; user group IDs are accepted as approvers."""
    settings = _load(
        monkeypatch, SOCIALPOST_REQUIRED_APPROVALS="2", SOCIALPOST_APPROVERS="U0ANN, S0LEGAL"
    )
    assert settings.approval.required_approvals == 2  # type: ignore[attr-defined]
    assert settings.approval.approvers == ("U0ANN", "S0LEGAL")  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "21"])
def test_a_bad_count_is_named(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """A count below one, above twenty, or not a whole number stops start-up naming the
    variable."""
    with pytest.raises(SettingsError) as raised:
        _load(monkeypatch, SOCIALPOST_REQUIRED_APPROVALS=value)
    assert [p.split(":")[0] for p in raised.value.problems] == ["SOCIALPOST_REQUIRED_APPROVALS"]
