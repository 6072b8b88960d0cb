"""Webhook messages: built once per event, signed the Standard Webhooks way (SPEC 7.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.webhooks.signing import EventType, Signer, WebhookMessage, new_message, secret_key
from services.webhooks.view import PostView

AT = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
VIEW = PostView(
    id="p-1",
    platform="x",
    status="posted",
    message="Hello “world” ✨",
    url="https://x.com/i/web/status/1",
    external_id="1",
    requested_by="via API: ci",
    approved_by="U0APPROVER",
    scheduled_for=None,
    created_at=AT,
    updated_at=AT,
)


def expected_signature(key: bytes, msg_id: str, timestamp: str, body: str) -> str:
    """SPEC's words, computed by hand: v1,<base64 HMAC-SHA256 of "id.timestamp.body">."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def test_message_body_is_type_timestamp_and_the_post() -> None:
    """The body is {"type", "timestamp", "data"} with data as GET /posts/{id} shows it."""
    message = new_message(EventType.POSTED, VIEW, AT)
    body = json.loads(message.body)
    assert body == {
        "type": "post.posted",
        "timestamp": "2026-12-01T12:00:00Z",
        "data": json.loads(VIEW.model_dump_json()),
    }
    assert message.id.startswith("msg_") and message.type is EventType.POSTED


def test_each_event_gets_its_own_id_and_a_stored_message_keeps_it() -> None:
    """Two events never share an id; a message read back from its job payload is the same."""
    first, second = (new_message(EventType.PENDING, VIEW, AT) for _ in range(2))
    assert first.id != second.id
    assert WebhookMessage.from_payload(first.to_payload()) == first


def test_plain_secret_is_its_utf8_bytes() -> None:
    """A secret without whsec_ signs with its UTF-8 bytes (the library alone would base64 it)."""
    secret = "plain-sécret"
    message = new_message(EventType.FAILED, VIEW, AT)
    headers = Signer(secret).headers(message, AT)
    timestamp = str(int(AT.timestamp()))
    assert headers["webhook-timestamp"] == timestamp
    assert headers["webhook-id"] == message.id
    assert headers["webhook-signature"] == expected_signature(
        secret.encode(), message.id, timestamp, message.body
    )


def test_whsec_secret_is_base64_after_the_prefix() -> None:
    """A whsec_ secret signs with the bytes its base64 stands for, padded or not."""
    key = b"0123456789abcdef0123456789abcdef"
    encoded = base64.b64encode(key).decode()
    assert secret_key("whsec_" + encoded) == key
    assert secret_key("whsec_" + encoded.rstrip("=")) == key
    with pytest.raises(ValueError, match="base64"):
        secret_key("whsec_***")


def test_receivers_verify_with_the_standardwebhooks_library() -> None:
    """A receiver using the library with the same whsec_ secret accepts the delivery."""
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    message = new_message(EventType.REJECTED, VIEW, datetime.now(UTC))
    headers = Signer(secret).headers(message, datetime.now(UTC))
    assert Webhook(secret).verify(message.body.encode(), headers)["type"] == "post.rejected"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(message.body.replace("rejected", "posted"), headers)


def test_attempt_time_in_any_zone_signs_the_same_instant() -> None:
    """An attempt time with another UTC offset signs the same timestamp (the library would
    read its wall clock as UTC)."""
    message = new_message(EventType.PENDING, VIEW, AT)
    elsewhere = AT.astimezone(timezone(timedelta(hours=-5)))
    signer = Signer("plain-secret")
    assert signer.headers(message, elsewhere) == signer.headers(message, AT)


@given(
    secret=st.text(min_size=1).filter(lambda s: not s.startswith("whsec_")),
    body=st.text(),
    msg_id=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1),
    seconds=st.integers(min_value=0, max_value=2**33),
)
def test_signature_is_the_spec_hmac_for_any_input(
    secret: str, body: str, msg_id: str, seconds: int
) -> None:
    """For any secret, id, body and time, the signature is exactly SPEC's HMAC."""
    at = datetime.fromtimestamp(seconds, UTC)
    message = WebhookMessage(id=msg_id, type=EventType.POSTED, body=body)
    headers = Signer(secret).headers(message, at)
    assert headers["webhook-signature"] == expected_signature(
        secret.encode(), msg_id, str(seconds), body
    )
