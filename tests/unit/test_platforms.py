"""Length rules, measured the way each platform measures."""

from __future__ import annotations

from services.platforms import PLATFORMS, rules_for


def test_x_counts_links_as_23_and_emoji_as_2() -> None:
    """X's weighted count: a URL of any length is 23, an emoji 2, a CJK character 2."""
    x = rules_for("x")
    assert x.length("a" * 10) == 10
    assert x.length("see https://example.com/" + "a" * 100) == 4 + 23
    assert x.length("\U0001f600") == 2
    assert x.length("日本") == 4


def test_x_limit_is_280_weighted() -> None:
    """280 weighted characters fit; 141 CJK characters (282) don't."""
    x = rules_for("x")
    assert x.measure("a" * 280).within_limit
    over = x.measure("日" * 141)
    assert not over.within_limit and over.length == 282
    assert "282/280" in over.problems[0]


def test_instagram_caps_length_and_hashtags() -> None:
    """Instagram: 2200 characters and at most 30 hashtags."""
    instagram = rules_for("instagram")
    assert instagram.measure(" ".join(f"#tag{i}" for i in range(30))).within_limit
    too_many = instagram.measure(" ".join(f"#tag{i}" for i in range(31)))
    assert not too_many.within_limit and "31 hashtags" in too_many.problems[0]
    assert not instagram.measure("a" * 2201).within_limit
    assert instagram.needs_image


def test_linkedin_limit_is_3000_characters() -> None:
    """LinkedIn: 3000 characters."""
    linkedin = rules_for("linkedin")
    assert linkedin.measure("a" * 3000).within_limit
    assert not linkedin.measure("a" * 3001).within_limit


def test_limits_match_the_seeded_platform_table() -> None:
    """The rules agree with social_platforms as seeded by the first migration."""
    assert {slug: rules.limit for slug, rules in PLATFORMS.items()} == {
        "x": 280,
        "linkedin": 3000,
        "instagram": 2200,
    }
