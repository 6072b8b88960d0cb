"""What the services need from Slack, as an interface the Slack layer implements.

The services decide *that* a card must show a post's new state or that a user must be told
something; `handlers.slack_notifier.SlackNotifier` decides *how* (Block Kit, Web API calls).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from services.errors import SocialpostError
from storage.models import Post

if TYPE_CHECKING:
    from services.home import HomeData


class DeliveryError(SocialpostError):
    """Slack did not take a message; `transient` says whether trying again may work.

    `attempted` is False when nothing was sent (Slack asked us to hold back until
    `retry_after`): such a wait doesn't count as an attempt.
    """

    def __init__(
        self,
        reason: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        attempted: bool = True,
    ) -> None:
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        self.attempted = attempted
        super().__init__(reason)


class Notice(StrEnum):
    """Private messages the services ask the Slack layer to send."""

    GENERATION_FAILED = "generation_failed"
    CARD_UNDELIVERABLE = "card_undeliverable"


class Notifier(Protocol):
    """Sends the approval cards and private notices."""

    async def show_card(self, post: Post) -> tuple[str, str]:
        """Post the post's card, or update it in place if it has one; returns (channel, ts)."""

    async def send_notice(
        self, user_id: str, notice: Notice, post: Post | None, detail: str | None
    ) -> None:
        """Tell one user something privately (a direct message from the bot)."""

    async def show_home(self, user_id: str, data: HomeData) -> None:
        """Publish `user_id`'s App Home tab."""
