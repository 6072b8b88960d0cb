"""Webhook messages and their Standard Webhooks signature.

A message is built once, when its event happens, and stored with its delivery job: every
retry sends the same `webhook-id` and the same body, so a receiver can drop duplicates by id.
Only `webhook-timestamp` (and so the signature) is new on each attempt, as the standard asks.

Signing is the `standardwebhooks` library's. Its one difference from SPEC: it reads any text
secret as base64 (with or without `whsec_`), where SPEC reads a secret without `whsec_` as
its UTF-8 bytes; so the library is always given the key's bytes, decoded here.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from standardwebhooks.webhooks import Webhook

from services.webhooks.view import PostView

SECRET_PREFIX = "whsec_"
"""A secret starting with this is base64 after it (Standard Webhooks' own shape)."""


class EventType(StrEnum):
    """The `type` of a webhook message (SPEC section 7.3)."""

    PENDING = "post.pending"
    SCHEDULED = "post.scheduled"
    POSTED = "post.posted"
    FAILED = "post.failed"
    REJECTED = "post.rejected"
    EXPIRED = "post.expired"


def secret_key(secret: str) -> bytes:
    """The HMAC key a secret stands for: base64 after `whsec_` (padding optional, as the
    library allows), any other secret its UTF-8 bytes. `ValueError` for bad base64."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError("a secret starting whsec_ must be base64 after it") from None
    if not key:
        raise ValueError("a secret starting whsec_ must not be empty after it")
    return key


@dataclass(frozen=True)
class WebhookMessage:
    """One event for the receiver: its id (the same on every retry), type and JSON body."""

    id: str
    type: EventType
    body: str

    def to_payload(self) -> dict[str, Any]:
        """As stored in the delivery job's payload."""
        return {"webhook_id": self.id, "type": self.type.value, "body": self.body}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> WebhookMessage:
        """Back from a delivery job's payload."""
        return cls(
            id=str(payload["webhook_id"]),
            type=EventType(payload["type"]),
            body=str(payload["body"]),
        )


def new_message(event: EventType, post: PostView, at: datetime) -> WebhookMessage:
    """The message for `event` about `post`, happening `at`, with a fresh id."""
    body = {
        "type": event.value,
        "timestamp": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": post.model_dump(mode="json"),
    }
    return WebhookMessage(
        id=f"msg_{uuid.uuid4().hex}",
        type=event,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    )


class Signer:
    """Signs messages with one secret."""

    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret_key(secret))

    def headers(self, message: WebhookMessage, at: datetime) -> dict[str, str]:
        """The headers of one delivery attempt made `at`."""
        # The library reads the timestamp's wall clock as UTC whatever its zone: give it UTC.
        at = at.astimezone(UTC)
        return {
            "content-type": "application/json",
            "webhook-id": message.id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": self._webhook.sign(message.id, at, message.body),
        }
