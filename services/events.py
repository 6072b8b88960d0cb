"""Domain events: what the domain announces, for whoever shows it to people.

The domain says *that* something happened (a post changed, a user must be told something); a
listener decides what follows. Slack's layer (`handlers.slack_out`) listens today: a changed
post gets its card updated, a notice becomes a direct message. Webhooks will listen the same
way.

Listeners run inside the emitting transaction and only queue jobs there (they never call
out), so the change and what carries it to people commit together or not at all. Each
listener returns the id of the job it queued (or None); `emit` returns them in subscription
order, so a caller can make later work wait for them (a publish waits for the card update
that says "Publishing...").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from storage import Transaction
from storage.models import Post, PostStatus


class Notice(StrEnum):
    """What a user may be told privately."""

    GENERATION_FAILED = "generation_failed"
    CARD_UNDELIVERABLE = "card_undeliverable"
    # Not private: a reply in the card's thread naming the approvers (`user` is the
    # requester; `detail` the approvers' ids, space-separated, and when the wait began).
    APPROVAL_REMINDER = "approval_reminder"


@dataclass(frozen=True)
class PostChanged:
    """The post's state changed (or it is new): whatever shows it must show it again."""

    post_id: str
    new: bool = False
    """The post was just created (it is `generating`, and nothing was ever shown of it)."""


@dataclass(frozen=True)
class TellUser:
    """Tell `user` privately about `notice` (about the post `post_id`, with `detail`)."""

    user: str
    notice: Notice
    post_id: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class PostMoved:
    """The post took a lifecycle edge: `action` from `source` to `post.status` (for whoever
    reports a post's stages outside Slack: webhooks, metrics). Emitted after `PostChanged`."""

    post: Post
    action: str
    source: PostStatus


class ChannelNotice(StrEnum):
    """What the approvers may be told in the approval channel."""

    IDEAS_FAILED = "ideas_failed"
    """An ideas run drafted nothing: `detail` says why."""
    IDEAS_SKIPPED = "ideas_skipped"
    """An ideas run left some ideas undrafted: `detail` lists them with the reasons."""
    BUDGET_WARNING = "budget_warning"
    """This month's LLM spend reached 80% of the budget (detail: spent and budget, JSON)."""


@dataclass(frozen=True)
class TellChannel:
    """Tell the approvers, in the approval channel, about `notice` (with `detail`)."""

    notice: ChannelNotice
    detail: str


Event = PostChanged | TellUser | PostMoved | TellChannel
E = TypeVar("E", PostChanged, TellUser, PostMoved, TellChannel)
Listener = Callable[[Transaction, E], Awaitable[int | None]]


class EventBus:
    """Delivers each event to the listeners of its type, in the order they subscribed."""

    def __init__(self) -> None:
        self._listeners: dict[type[Any], list[Listener[Any]]] = {}

    def subscribe(self, event_type: type[E], listener: Listener[E]) -> None:
        """Call `listener(tx, event)` for every `event_type` emitted from now on."""
        self._listeners.setdefault(event_type, []).append(listener)

    async def emit(self, tx: Transaction, event: Event) -> list[int]:
        """Run the event's listeners inside `tx`; the ids of the jobs they queued."""
        queued = []
        for listener in self._listeners.get(type(event), []):
            job_id = await listener(tx, event)
            if job_id is not None:
                queued.append(job_id)
        return queued
