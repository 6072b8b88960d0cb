"""API keys by name, compared in constant time; the client address, spoof-proof by default."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from handlers.api.auth import ApiKeys, bearer_token, client_address

KEYS = ApiKeys({"ci": SecretStr("k_8f3a"), "zapier": SecretStr("k_1c:x")})


def test_each_key_is_known_by_its_name() -> None:
    """The Bearer token of a configured key gives that key's name."""
    assert KEYS.name_for("Bearer k_8f3a") == "ci"
    assert KEYS.name_for("bearer  k_1c:x ") == "zapier"


def test_anything_else_is_nobody() -> None:
    """Missing header, other schemes, empty tokens, prefixes and near misses match no key."""
    headers = [None, "", "Bearer", "Bearer ", "Basic k_8f3a", "k_8f3a", "Bearer k_8f3"]
    for header in [*headers, "Bearer k_8f3ab"]:
        assert KEYS.name_for(header) is None, header


def test_no_keys_configured_refuses_every_token() -> None:
    """Without SOCIALPOST_API_KEYS no token is accepted."""
    assert not ApiKeys({})
    assert ApiKeys({}).name_for("Bearer anything") is None


# Keys as settings give them: trimmed, no spaces or control characters inside.
TOKENS = st.text(st.characters(exclude_categories=("Z", "C")), min_size=1, max_size=20)


@given(
    keys=st.dictionaries(st.text("abcdefgh", min_size=1, max_size=5), TOKENS, max_size=5),
    other=TOKENS,
)
def test_a_token_names_exactly_the_key_it_is(keys: dict[str, str], other: str) -> None:
    """Any configured key is found by name; any other token is nobody."""
    api_keys = ApiKeys({name: SecretStr(key) for name, key in keys.items()})
    by_key = {key: name for name, key in keys.items()}
    for key in by_key:
        assert api_keys.name_for(f"Bearer {key}") in {n for n, k in keys.items() if k == key}
    if other not in by_key:
        assert api_keys.name_for(f"Bearer {other}") is None


def test_bearer_token() -> None:
    """The token after the Bearer scheme, trimmed; None for anything else."""
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("BEARER abc ") == "abc"
    assert bearer_token("Token abc") is None


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted() -> None:
    """Without SOCIALPOST_TRUST_PROXY a client can't pick its address with the header."""
    assert client_address("10.0.0.9", "1.2.3.4", trust_proxy=False) == "10.0.0.9"


def test_trusted_proxy_gives_the_address_it_saw() -> None:
    """With a trusted proxy the last X-Forwarded-For entry counts (earlier ones are the
    client's own words); a malformed header falls back to the peer."""
    assert client_address("10.0.0.1", "6.6.6.6, 203.0.113.7", trust_proxy=True) == "203.0.113.7"
    assert client_address("10.0.0.1", "2001:db8::1", trust_proxy=True) == "2001:db8::1"
    assert client_address("10.0.0.1", "not-an-ip", trust_proxy=True) == "10.0.0.1"
    assert client_address("10.0.0.1", None, trust_proxy=True) == "10.0.0.1"
    assert client_address(None, None, trust_proxy=False) == "unknown"


@given(spoofed=st.lists(st.ip_addresses().map(str), max_size=4), seen=st.ip_addresses())
def test_nothing_a_client_prepends_changes_its_address(spoofed: list[str], seen: object) -> None:
    """Whatever a client writes before the proxy's entry, the proxy's entry is its address."""
    header = ", ".join([*spoofed, str(seen)])
    assert client_address("10.0.0.1", header, trust_proxy=True) == str(seen)
