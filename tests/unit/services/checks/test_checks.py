"""The one verdict on a text: the platform's rules and the content policy, links found the way
each platform finds them."""

from __future__ import annotations

import pytest
import twitter_text
from hypothesis import given, settings
from hypothesis import strategies as st

from services.checks import LINKS_TOO_COMPLEX, ContentPolicy, Rule, check, check_async
from services.platforms import PLATFORMS
from services.platforms.links import LONGEST_TOKEN
from services.platforms.links import find_links as linkify_links
from services.platforms.x.links import find_links as x_links

POLICY = ContentPolicy(blocked_terms=("crypto",), allowed_domains=("example.com",))


@pytest.mark.parametrize("slug", list(PLATFORMS))
def test_a_clean_text_is_publishable_everywhere(slug: str) -> None:
    """A short text with no blocked term and only allowed links has no findings."""
    verdict = check(slug, "Read more at https://blog.example.com/post", POLICY)
    assert verdict.publishable
    assert verdict.findings == ()
    assert verdict.policy_problem is None


@pytest.mark.parametrize("slug", list(PLATFORMS))
def test_policy_findings_are_worded_as_the_spec_says(slug: str) -> None:
    """A blocked term and a bare-domain link to elsewhere are both findings, in SPEC's words."""
    verdict = check(slug, "Crypto news at example.net today", POLICY)
    assert not verdict.publishable
    assert verdict.problems == (
        "contains the blocked term “crypto”",
        "links to example.net, which is not allowed",
    )
    assert [finding.rule for finding in verdict.findings] == [Rule.BLOCKED_TERM, Rule.LINK]
    assert verdict.policy_problem == (
        "contains the blocked term “crypto”; links to example.net, which is not allowed"
    )


def test_the_platform_rules_join_the_policy_in_one_verdict() -> None:
    """An over-limit text with a blocked term has both findings, the platform's first."""
    verdict = check("x", "crypto " * 60, POLICY)
    assert [finding.rule for finding in verdict.findings] == [Rule.PLATFORM, Rule.BLOCKED_TERM]
    assert "over the limit" in verdict.findings[0].problem
    assert not verdict.findings[0].is_policy
    assert verdict.measurement.length > verdict.measurement.limit
    assert verdict.policy_findings == verdict.findings[1:]


def test_without_a_policy_only_the_platform_rules_count() -> None:
    """With nothing configured, any word and any link may be published."""
    assert check("linkedin", "crypto at example.net", ContentPolicy()).publishable


async def test_checking_from_the_event_loop_runs_off_it() -> None:
    """`check_async` gives the same verdict as `check`."""
    verdict = await check_async("x", "crypto", POLICY)
    assert verdict == check("x", "crypto", POLICY)


def test_x_finds_bare_domains_as_twitter_text_does() -> None:
    """On X a bare domain ("example.net") is a link, an email address is not."""
    assert x_links("see example.net, or bit.ly/x") == ("example.net", "bit.ly/x")
    assert x_links("mail me@example.net") == ()
    assert x_links("") == ()


def test_other_platforms_find_links_with_linkify() -> None:
    """Elsewhere bare domains with any real top-level domain are links; emails are not."""
    assert linkify_links("new at example.dev and https://a.example.org/x") == (
        "example.dev",
        "https://a.example.org/x",
    )
    assert linkify_links("mail me@example.net") == ()
    assert linkify_links("no links. at all") == ()


def test_a_text_too_complex_to_search_is_a_finding_not_a_pass() -> None:
    """A whitespace-free run longer than any URL can't be searched: the verdict says so."""
    hostile = "a." * (LONGEST_TOKEN // 2 + 1)
    assert linkify_links(hostile) is None
    verdict = check("linkedin", hostile, POLICY)
    assert LINKS_TOO_COMPLEX in verdict.problems
    # Without link rules the same text is judged by its length alone.
    assert LINKS_TOO_COMPLEX not in check("linkedin", hostile, ContentPolicy()).problems


domain_pieces = st.lists(
    st.sampled_from(
        [
            "example.net",
            "https://a.example.com/x",
            "www.test.org",
            "bit.ly/abc",
            "me@x.com",
            "a.b",
            "foo.",
            ".com",
            "x",
            " ",
            "\n",
            "(",
            ")",
            ",",
            "日本.jp",
            "é",
            "t.co/",
            "#tag",
            "http://",
            "example.co.uk/p?q=1",
            "😀",
            ":",
        ]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=300)
@given(domain_pieces)
def test_x_links_are_exactly_twitter_texts(text: str) -> None:
    """The bounded token-by-token search finds exactly the URLs twitter-text's extract_urls
    finds in the whole text."""
    assert x_links(text) == tuple(twitter_text.extract_urls(text))


@given(domain_pieces)
def test_every_found_link_is_judged(text: str) -> None:
    """A text is flagged for links exactly when one of its links leaves the allowed domains."""
    for slug in PLATFORMS:
        links = PLATFORMS[slug].find_links(text)
        assert links is not None
        hosts = POLICY.disallowed_hosts(links)
        flagged = [f.subject for f in check(slug, text, POLICY).findings if f.rule is Rule.LINK]
        assert flagged == hosts
