"""Ideas settings (SPEC 7.6): defaults, start-up validation with one clear message, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from tests.unit.bot import test_settings as shared
from tests.unit.bot.test_settings import MINIMAL


def settings_with(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    """The settings from the minimal environment plus `values`."""
    loaded = shared.settings_with(monkeypatch, **MINIMAL, **values)
    assert isinstance(loaded, Settings)
    return loaded


def problems(monkeypatch: pytest.MonkeyPatch, **values: str) -> list[str]:
    """The problems load_settings reports for the minimal environment plus `values`."""
    return shared.problems(monkeypatch, **MINIMAL, **values)


def test_defaults_are_off_utc_three_ideas_for_x(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset, there is no schedule, the zone is UTC, 3 ideas are asked for, for X."""
    ideas = settings_with(monkeypatch).ideas
    assert ideas.schedule is None
    assert ideas.timezone == "UTC"
    assert ideas.count == 3
    assert ideas.platforms == ("x",)
    assert ideas.topics is None


def test_a_valid_schedule_in_a_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 5-field cron in an IANA zone is read, with spaces around it and between fields."""
    ideas = settings_with(
        monkeypatch,
        SOCIALPOST_IDEAS_SCHEDULE="  0  9 * * 1-5 ",
        SOCIALPOST_TIMEZONE="Europe/Berlin",
        SOCIALPOST_IDEAS_COUNT="5",
        SOCIALPOST_IDEAS_PLATFORMS="X, LinkedIn,x",
    ).ideas
    assert ideas.schedule is not None
    assert ideas.schedule.expression == "0 9 * * 1-5"
    assert ideas.schedule.zone.key == "Europe/Berlin"
    assert ideas.count == 5
    assert ideas.platforms == ("x", "linkedin")


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("0 9 * *", "expected 5 cron fields"),
        ("0 0 9 * * *", "expected 5 cron fields"),
        ("@daily", "expected 5 cron fields"),
        ("61 9 * * *", "not a valid cron expression"),
        ("0 9 * * funday", "not a valid cron expression"),
        ("0 9 31 2 *", "never fires"),
    ],
)
def test_a_malformed_schedule_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, expression: str, says: str
) -> None:
    """A cron expression croniter refuses (or that never fires) is one problem line naming
    SOCIALPOST_IDEAS_SCHEDULE and what is wrong, not a traceback."""
    found = problems(monkeypatch, SOCIALPOST_IDEAS_SCHEDULE=expression)
    assert len(found) == 1
    assert found[0].startswith("SOCIALPOST_IDEAS_SCHEDULE: ")
    assert says in found[0]


def test_every_ideas_problem_is_listed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad zone, count, platform and schedule are all named in one error."""
    found = problems(
        monkeypatch,
        SOCIALPOST_TIMEZONE="Mars/Olympus_Mons",
        SOCIALPOST_IDEAS_COUNT="0",
        SOCIALPOST_IDEAS_PLATFORMS="x,myspace",
        SOCIALPOST_IDEAS_SCHEDULE="every morning",
    )
    assert sorted(p.split(":")[0] for p in found) == [
        "SOCIALPOST_IDEAS_COUNT",
        "SOCIALPOST_IDEAS_PLATFORMS",
        "SOCIALPOST_IDEAS_SCHEDULE",
        "SOCIALPOST_TIMEZONE",
    ]
    assert any("not an IANA time zone name" in p for p in found)
    assert any("unknown platform myspace" in p for p in found)


def test_platforms_that_need_an_image_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Instagram needs an image, which an idea has none of: it can't be an ideas platform."""
    found = problems(monkeypatch, SOCIALPOST_IDEAS_PLATFORMS="instagram")
    assert found == [
        "SOCIALPOST_IDEAS_PLATFORMS: Instagram posts need an image, which ideas don't have; "
        "leave it out of the ideas platforms"
    ]


def test_topics_from_text_or_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """SOCIALPOST_IDEAS_TOPICS is the topics text, or a path to a file holding it (read once
    at start-up)."""
    assert settings_with(monkeypatch, SOCIALPOST_IDEAS_TOPICS="CI, hiring").ideas.topics == (
        "CI, hiring"
    )
    topics = tmp_path / "topics.md"
    topics.write_text("Our CI\nOur hiring\n", encoding="utf-8")
    ideas = settings_with(monkeypatch, SOCIALPOST_IDEAS_TOPICS=str(topics)).ideas
    topics.unlink()
    assert ideas.topics == "Our CI\nOur hiring"
