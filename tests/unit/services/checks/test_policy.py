"""The content policy: blocked terms as whole words in any case, links only to allowed domains."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.checks.policy import (
    ContentPolicy,
    fold,
    host_of,
    normalize_domain,
    to_ascii_domain,
)

CRYPTO = ContentPolicy(blocked_terms=("crypto", "buy now", "Straße", "暗号", "c++", "$scam"))


@pytest.mark.parametrize(
    "text",
    [
        "Crypto is here",
        "CRYPTO",
        "all about crypto.",
        "#crypto",
        "crypto's moment",
        "crypto\u2019s moment",
        "(crypto)",
        "crypto-friendly",
        "«crypto»",
        "\uff43\uff52\uff59\uff50\uff54\uff4f",  # full-width letters are the same word under NFKC
        "cry\u200bpto",  # a zero-width space can't hide a term
        "cryp\u00adto",  # nor a soft hyphen
        "\uff23\uff32\uff39\uff30\uff34\uff2f!",  # and in upper case
    ],
)
def test_a_blocked_term_matches_in_any_case_and_beside_punctuation(text: str) -> None:
    """ "Crypto", "CRYPTO", "crypto." and disguised spellings all contain the term "crypto"."""
    assert CRYPTO.blocked_terms_in(text) == ["crypto"]


@pytest.mark.parametrize(
    "text",
    [
        "cryptography",
        "Cryptocurrency",
        "encrypto",
        "crypto_currency",
        "crypto2",
        "cryptó",  # a different letter
        "crypto\u0301",  # an accent on its last letter makes it another word
        "",
    ],
)
def test_a_blocked_term_inside_a_longer_word_does_not_match(text: str) -> None:
    """ "cryptography" and other longer words don't contain the whole word "crypto"."""
    assert "crypto" not in CRYPTO.blocked_terms_in(text)


def test_phrases_match_across_any_whitespace_and_case() -> None:
    """A phrase matches with any run of whitespace (line breaks too) between its words."""
    assert CRYPTO.blocked_terms_in("Please BUY\n  NOW!") == ["buy now"]
    assert CRYPTO.blocked_terms_in("buy nowhere") == []
    assert CRYPTO.blocked_terms_in("buy, now") == []


def test_case_folding_is_unicode_aware() -> None:
    """ "STRASSE" is "Straße" case-folded; the term is reported as configured."""
    assert CRYPTO.blocked_terms_in("Die STRASSE ist frei") == ["Straße"]
    assert CRYPTO.blocked_terms_in("die straße") == ["Straße"]


def test_terms_in_scripts_without_spaces_are_found_inside_longer_runs() -> None:
    """Han text has no spaces between words: "暗号" is found inside "暗号通貨"."""
    assert CRYPTO.blocked_terms_in("暗号通貨です") == ["暗号"]


def test_terms_starting_or_ending_with_symbols_match_on_their_word_side_only() -> None:
    """ "c++" must start a word but may be followed by anything; "$scam" likewise at its end."""
    assert CRYPTO.blocked_terms_in("we love c++11") == ["c++"]
    assert CRYPTO.blocked_terms_in("abc++") == []
    assert CRYPTO.blocked_terms_in("no$scam here") == ["$scam"]
    assert CRYPTO.blocked_terms_in("a $scams b") == []


def test_every_term_found_is_reported_once_in_configuration_order() -> None:
    """Several terms are each reported once, in the order they were configured."""
    text = "buy now: crypto, CRYPTO, c++ and crypto again"
    assert CRYPTO.blocked_terms_in(text) == ["crypto", "buy now", "c++"]


def test_blank_and_repeated_terms_are_ignored() -> None:
    """Empty or invisible terms never match everything; duplicates count once."""
    policy = ContentPolicy(blocked_terms=("", "  ", "\u200b", "spam", "spam"))
    assert policy.blocked_terms_in("any text at all") == []
    assert policy.blocked_terms_in("spam spam") == ["spam"]
    assert ContentPolicy().is_empty


# Letters whose upper and lower case fold to the same text (not so the Turkish dotless i,
# U+0131, whose capital is the ordinary "I": Unicode's case folding is not Turkish).
letters = st.text(alphabet=st.characters(categories=("Ll", "Lu")), min_size=1, max_size=12).filter(
    lambda word: fold(word).isalpha() and fold(word.upper()) == fold(word) == fold(word.lower())
)
separators = st.sampled_from([" ", ".", ",", "!", "?", "#", "(", ")", "\n", "—", "'", '"', ":"])


@given(term=letters, before=separators, after=separators, upper=st.booleans())
def test_a_term_between_separators_always_matches(
    term: str, before: str, after: str, upper: bool
) -> None:
    """Any alphabetic term, upper- or lower-cased, matches between punctuation or spaces."""
    policy = ContentPolicy(blocked_terms=(term,))
    written = term.upper() if upper else term.lower()
    assert policy.blocked_terms_in(f"x{before}{written}{after}y") == [term]


@given(term=letters, prefix=st.sampled_from(["a", "z", "é", "ж", "7", "_"]))
def test_a_term_glued_to_a_letter_never_matches(term: str, prefix: str) -> None:
    """A term preceded by a letter, digit or underscore is part of a longer word."""
    policy = ContentPolicy(blocked_terms=(term,))
    assert policy.blocked_terms_in(f"{prefix}{term}") == []
    assert policy.blocked_terms_in(f"{term}{prefix}") == []


@given(st.text(max_size=40))
def test_folding_is_idempotent(text: str) -> None:
    """Folded text folds to itself, so terms and texts meet in one form."""
    assert fold(fold(text)) == fold(text)


# --- links --------------------------------------------------------------------------------

EXAMPLE = ContentPolicy(allowed_domains=("example.com", "bücher.de"))


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com",
        "example.com",
        "EXAMPLE.COM/path",
        "www.example.com",
        "https://deep.sub.example.com:8443/x?y=1",
        "example.com.",
        "https://xn--bcher-kva.de/buch",
        "bücher.de",
        "http://user@example.com/",
    ],
)
def test_links_to_an_allowed_domain_or_its_subdomains_pass(url: str) -> None:
    """The allowed domain and every subdomain of it pass, in any case, with or without a
    scheme, port or path, in Unicode or punycode."""
    assert EXAMPLE.disallowed_hosts([url]) == []


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("example.net", "example.net"),
        ("https://evilexample.com/", "evilexample.com"),
        ("example.com.evil.net/x", "example.com.evil.net"),
        ("https://example.com@evil.net/", "evil.net"),
        ("https://Evil.NET/x", "evil.net"),
        ("http://[::1]/", "::1"),
    ],
)
def test_links_elsewhere_are_named_by_their_host(url: str, host: str) -> None:
    """A lookalike, a suffix trick or a user-info trick is named by the host it really
    reaches."""
    assert EXAMPLE.disallowed_hosts([url]) == [host]


def test_each_disallowed_host_is_named_once_in_text_order() -> None:
    """Two links to one host are one finding; hosts are listed in the order they appear."""
    urls = ["b.net/1", "example.com", "a.org", "B.net/2"]
    assert EXAMPLE.disallowed_hosts(urls) == ["b.net", "a.org"]


def test_unrestricted_links_are_never_judged() -> None:
    """Without SOCIALPOST_ALLOWED_LINK_DOMAINS every link passes; an empty list allows none."""
    assert ContentPolicy().disallowed_hosts(["evil.net"]) == []
    assert ContentPolicy(allowed_domains=()).disallowed_hosts(["example.com"]) == ["example.com"]


@pytest.mark.parametrize(
    ("entry", "domain"),
    [
        ("example.com", "example.com"),
        (" Example.COM ", "example.com"),
        ("*.example.com", "example.com"),
        (".example.com", "example.com"),
        ("https://example.com/", "example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("example.com.", "example.com"),
    ],
)
def test_allowed_domain_entries_are_read_leniently(entry: str, domain: str) -> None:
    """A setting entry written as a URL, a wildcard or in Unicode is the domain it names."""
    assert normalize_domain(entry) == domain


@pytest.mark.parametrize("entry", ["", "com", "exa mple.com", "-bad.com", "a..b", "x" * 300])
def test_what_is_not_a_domain_is_refused(entry: str) -> None:
    """Entries that can't be a domain name are refused (and the setting names them)."""
    assert normalize_domain(entry) is None


def test_hosts_of_links_without_a_scheme() -> None:
    """A link written without a scheme is read as http, so its host is found."""
    assert host_of("example.net/x") == "example.net"
    assert host_of("https://a.example.net:99") == "a.example.net"
    assert host_of("http://[bad") is None


@given(st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,3}", fullmatch=True))
def test_every_subdomain_of_an_allowed_domain_is_allowed(labels: str) -> None:
    """Whatever labels go before an allowed domain, the host is allowed; glued, it is not."""
    assert EXAMPLE.allows_host(f"{labels}.example.com")
    assert not EXAMPLE.allows_host(f"{labels}example.com")


def test_ascii_domain_form() -> None:
    """Host names compare in lower-case punycode; impossible names have no form."""
    assert to_ascii_domain("BÜCHER.de.") == "xn--bcher-kva.de"
    assert to_ascii_domain("a_b.com") is None
