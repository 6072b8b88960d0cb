"""Who is calling: the API key in `Authorization: Bearer <key>`, and the client's address."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping

from pydantic import SecretStr


class ApiKeys:
    """The configured keys (SOCIALPOST_API_KEYS), each known by its name."""

    def __init__(self, keys: Mapping[str, SecretStr]) -> None:
        self._keys = [(name, _digest(key.get_secret_value())) for name, key in keys.items()]

    def __bool__(self) -> bool:
        return bool(self._keys)

    def name_for(self, authorization: str | None) -> str | None:
        """The name of the key an `Authorization` header carries, or None.

        Every configured key is compared, each in constant time (`hmac.compare_digest`, on
        SHA-256 digests so that lengths are equal too), and the loop never stops early: how
        long a refusal takes says nothing about any key.
        """
        presented = bearer_token(authorization)
        if presented is None:
            return None
        candidate = _digest(presented)
        found: str | None = None
        for name, key in self._keys:
            if hmac.compare_digest(candidate, key) and found is None:
                found = name
        return found


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of `Bearer <token>` (the scheme in any case), or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def client_address(peer: str | None, forwarded_for: str | None, *, trust_proxy: bool) -> str:
    """The address a request is counted against.

    Without a trusted proxy it is the TCP peer: a client can't choose it. With
    `SOCIALPOST_TRUST_PROXY=true` it is the last address in `X-Forwarded-For`, the one the
    proxy in front of the bot saw (every address before it came from the client, who may
    have written anything there). A missing or malformed header falls back to the peer.
    """
    if trust_proxy and forwarded_for:
        last = forwarded_for.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass
    return peer or "unknown"
