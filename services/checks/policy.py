"""The content policy (SPEC section 7.4): blocked terms and the domains a post may link to.

Blocked terms match whole words or phrases in any case, the Unicode way: the text and the terms
are compared in NFKC case-folded form ("Crypto", "CRYPTO", "crypto." and "crypto" in full-width
letters are all "crypto"; "STRASSE" is "Straße"), with invisible format characters (zero-width
spaces, soft hyphens) removed first so that they can't hide a term, and a boundary is a letter,
mark, digit or underscore on neither side ("cryptography" doesn't contain "crypto", "#crypto"
and "crypto's" do), except beside letters of scripts written without spaces between words (Han,
kana, Thai, ...), where a term is found inside a longer run. A phrase matches with any run of
whitespace between its words.

Links are found by the platform's own rules (`PlatformSpec.find_links`); here only their hosts
are judged: a host is allowed when it is an allowed domain or a subdomain of one, compared in
IDNA (punycode) form so that "bücher.de" and "xn--bcher-kva.de" are one domain.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import regex

# Letters, marks, digits and connectors: a blocked term must not touch one of these.
_WORD_CHARACTER = r"[\p{L}\p{M}\p{N}\p{Pc}]"
# Scripts written without spaces between words: a term ending in one of their letters is
# found inside a longer run of them ("暗号" in "暗号通貨").
_UNSPACED_SCRIPT = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]"
)
_WHITESPACE = regex.compile(r"\s+")
_FORMAT_CHARACTERS = regex.compile(r"\p{Cf}+")
_SCHEME = regex.compile(r"^[a-z][a-z0-9+.\-]*://", regex.IGNORECASE)
_DOMAIN_LABEL = regex.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LONGEST_DOMAIN = 253


def fold(text: str) -> str:
    """`text` as blocked terms are compared: NFKC, case-folded, without format characters."""
    without_format = _FORMAT_CHARACTERS.sub("", text)
    return unicodedata.normalize("NFKC", without_format).casefold()


def _needs_boundary(edge: str) -> bool:
    """Whether a term's first or last character must not touch another word character."""
    return bool(regex.match(_WORD_CHARACTER, edge)) and not _UNSPACED_SCRIPT.match(edge)


def _term_pattern(term: str) -> regex.Pattern[str]:
    folded = _WHITESPACE.sub(" ", fold(term).strip())
    body = r"\s+".join(regex.escape(word) for word in folded.split(" "))
    before = f"(?<!{_WORD_CHARACTER})" if _needs_boundary(folded[0]) else ""
    after = f"(?!{_WORD_CHARACTER})" if _needs_boundary(folded[-1]) else ""
    return regex.compile(before + body + after)


def to_ascii_domain(host: str) -> str | None:
    """A host name in lower-case IDNA (punycode) form, or None when it isn't one."""
    host = unicodedata.normalize("NFKC", host).strip().rstrip(".").casefold()
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None
    labels = ascii_host.split(".")
    if len(ascii_host) > _LONGEST_DOMAIN or not all(_DOMAIN_LABEL.match(x) for x in labels):
        return None
    return ascii_host


def normalize_domain(value: str) -> str | None:
    """An allowed-domain setting entry as a domain ("https://Example.com/", "*.example.com"
    and ".example.com" are all "example.com"), or None when it is not a domain name."""
    value = _SCHEME.sub("", value.strip())
    value = value.split("/", 1)[0].removeprefix("*.").removeprefix(".")
    if not value or "." not in value.strip("."):
        return None
    return to_ascii_domain(value)


def host_of(url: str) -> str | None:
    """The host a link found in a text points at ("example.net/x" is at example.net)."""
    candidate = url if _SCHEME.match(url) else f"http://{url}"
    try:
        host = urlsplit(candidate).hostname
    except ValueError:
        return None
    return host or None


@dataclass(frozen=True)
class ContentPolicy:
    """Blocked terms (as configured) and the allowed link domains (None: any domain)."""

    blocked_terms: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] | None = None
    _patterns: tuple[tuple[str, regex.Pattern[str]], ...] = field(
        init=False, repr=False, compare=False
    )
    _allowed: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        terms = [term.strip() for term in self.blocked_terms if fold(term).strip()]
        unique = list(dict.fromkeys(terms))
        object.__setattr__(self, "_patterns", tuple((t, _term_pattern(t)) for t in unique))
        allowed = [normalize_domain(d) for d in self.allowed_domains or ()]
        object.__setattr__(self, "_allowed", tuple(d for d in allowed if d is not None))

    @property
    def checks_links(self) -> bool:
        """Whether links are restricted at all."""
        return self.allowed_domains is not None

    @property
    def is_empty(self) -> bool:
        """Whether the policy allows everything."""
        return not self._patterns and not self.checks_links

    def blocked_terms_in(self, text: str) -> list[str]:
        """The blocked terms `text` contains, as configured, in configuration order."""
        if not self._patterns:
            return []
        folded = fold(text)
        return [term for term, pattern in self._patterns if pattern.search(folded)]

    def allows_host(self, host: str) -> bool:
        """Whether a link to `host` is allowed (always, when links aren't restricted)."""
        if not self.checks_links:
            return True
        ascii_host = to_ascii_domain(host)
        if ascii_host is None:
            return False
        return any(ascii_host == d or ascii_host.endswith(f".{d}") for d in self._allowed)

    def disallowed_hosts(self, urls: Iterable[str]) -> list[str]:
        """The hosts among `urls` that the policy doesn't allow, once each, in text order
        (a link whose host can't even be read is shown as written)."""
        if not self.checks_links:
            return []
        hosts: dict[str, None] = {}
        for url in urls:
            host = host_of(url)
            if host is None or not self.allows_host(host):
                hosts[(host or url).casefold()] = None
        return list(hosts)
