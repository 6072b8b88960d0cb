"""Cards, notices and App Home tabs through Slack's Web API, and what Slack's answers mean.

Used by the card and notice jobs (the retry table is the only retry layer for these sends:
the Web client given here must have no retry handlers of its own) and by App Home's refreshes.
Slack's answers are sorted into transient (try again later, honouring Retry-After) and
permanent failures.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from datetime import datetime
from decimal import Decimal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks import messages
from handlers.blocks.card import approval_card, generation_failed_notice
from handlers.blocks.home import home_view
from services.approvals import ApprovalState
from services.checks import ContentPolicy, check_async
from services.errors import SocialpostError
from services.events import ChannelNotice, Notice
from services.models import CardRef, Post
from services.overview import HomeData
from services.platforms.base import retry_after_seconds

# Slack errors that waiting can fix; anything else needs a person (scopes, channel, token).
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)

PLAIN_REASONS = {
    "not_in_channel": "the bot isn't a member of the channel: invite it",
    "channel_not_found": "the channel doesn't exist or the bot can't see it",
    "is_archived": "the channel is archived",
    "invalid_auth": "the bot token is wrong",
    "token_revoked": "the bot token was revoked",
    "account_inactive": "the bot token belongs to a deactivated app",
    "missing_scope": "the app lacks a permission scope",
    "ratelimited": "Slack rate limit",
}


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


def delivery_error(exc: BaseException) -> DeliveryError:
    """What a failed Web API call means for the retry table."""
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error") or "")
        status = exc.response.status_code
        headers = {str(k).lower(): v for k, v in (exc.response.headers or {}).items()}
        retry_after = retry_after_seconds(headers.get("retry-after"))
        transient = status == 429 or status >= 500 or error in TRANSIENT_ERRORS
        reason = PLAIN_REASONS.get(error, error or f"HTTP {status}")
        return DeliveryError(f"Slack: {reason}", transient=transient, retry_after=retry_after)
    return DeliveryError(f"Slack unreachable ({type(exc).__name__})", transient=True)


class SlackDelivery:
    """Posts and updates approval cards in the approval channel; sends private notices;
    publishes App Home tabs."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        approval_channel: str,
        dry_run_platforms: Collection[str],
        scrub: Callable[[str], str] = str,
        policy: ContentPolicy | None = None,
    ) -> None:
        self._client = client
        self._policy = policy or ContentPolicy()
        self._scrub = scrub
        self._channel = approval_channel
        self._dry_run = frozenset(dry_run_platforms)
        # Slack's rate limits are per method and workspace. After a 429 on a message (a card
        # or a notice) every send waits, App Home refreshes included: they must not spend
        # Slack's patience while cards are held back. A 429 on views.publish pauses only the
        # App Home refreshes, so they can never hold up a card (nor the publish behind it).
        self._messages_paused_until = 0.0
        self._home_paused_until = 0.0

    @staticmethod
    def _check_pause(until: float) -> None:
        wait = until - time.monotonic()
        if wait > 0:
            raise DeliveryError(
                "Slack rate limit", transient=True, retry_after=wait, attempted=False
            )

    @staticmethod
    def _pause_after(exc: BaseException, error: DeliveryError) -> float | None:
        """Until when (monotonic) Slack asked us to hold back, if `exc` was a 429."""
        if isinstance(exc, SlackApiError) and (
            exc.response.status_code == 429 or exc.response.get("error") == "ratelimited"
        ):
            return time.monotonic() + (error.retry_after if error.retry_after is not None else 1.0)
        return None

    def _failed(self, exc: BaseException) -> DeliveryError:
        error = delivery_error(exc)
        if (until := self._pause_after(exc, error)) is not None:
            self._messages_paused_until = max(self._messages_paused_until, until)
        return error

    async def show_card(self, post: Post, approvals: ApprovalState | None = None) -> CardRef:
        """Post the card (with the approvals collected so far), or update it in place; a card
        deleted by someone is posted again. Returns where the card is (channel id and message
        ts)."""
        self._check_pause(self._messages_paused_until)
        if post.failure_reason:
            # Failure reasons quote third parties; make sure no secret rides along.
            post = post.model_copy(update={"failure_reason": self._scrub(post.failure_reason)})
        # Checked off the event loop (the card builder then finds the measurement cached).
        verdict = await check_async(
            post.platform, post.message or "", self._policy, thread=post.thread
        )
        problems = [finding.problem for finding in verdict.policy_findings]
        text, blocks = approval_card(
            post,
            dry_run=post.platform in self._dry_run,
            approvals=approvals,
            policy_problems=problems,
        )
        try:
            if post.channel and post.message_ts:
                try:
                    await self._client.chat_update(
                        channel=post.channel, ts=post.message_ts, text=text, blocks=blocks
                    )
                    return CardRef(place=post.channel, id=post.message_ts)
                except SlackApiError as exc:
                    if exc.response.get("error") != "message_not_found":
                        raise
            response = await self._client.chat_postMessage(
                channel=self._channel, text=text, blocks=blocks, unfurl_links=False
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            raise self._failed(exc) from exc
        return CardRef(place=str(response["channel"]), id=str(response["ts"]))

    async def show_home(self, user_id: str, data: HomeData) -> None:
        """Publish the user's App Home tab, unless Slack asked us to hold back."""
        self._check_pause(max(self._messages_paused_until, self._home_paused_until))
        try:
            await self._client.views_publish(user_id=user_id, view=home_view(data))
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            error = delivery_error(exc)
            if (until := self._pause_after(exc, error)) is not None:
                self._home_paused_until = max(self._home_paused_until, until)
            raise error from exc

    async def send_channel_notice(self, notice: ChannelNotice, detail: str) -> None:
        """A message to the approvers, in the approval channel."""
        self._check_pause(self._messages_paused_until)
        detail = self._scrub(detail)
        if notice == ChannelNotice.BUDGET_WARNING:
            figures = json.loads(detail)
            text = messages.budget_warning(Decimal(figures["spent"]), Decimal(figures["budget"]))
        elif notice == ChannelNotice.IDEAS_FAILED:
            text = messages.ideas_failed(detail)
        else:
            text = messages.ideas_skipped(detail)
        try:
            await self._client.chat_postMessage(channel=self._channel, text=text)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            raise self._failed(exc) from exc

    async def send_notice(
        self, user_id: str, notice: Notice, post: Post | None, detail: str | None
    ) -> None:
        """A direct message to `user_id`."""
        self._check_pause(self._messages_paused_until)
        if notice == Notice.APPROVAL_REMINDER:
            await self._remind(post, detail or "")
            return
        blocks: list[dict[str, object]] | None = None
        if notice == Notice.GENERATION_FAILED:
            text, blocks = generation_failed_notice(post)
        else:
            reason = self._scrub(detail or "unknown error")
            text = messages.card_undeliverable(self._channel, reason)
        try:
            await self._client.chat_postMessage(channel=user_id, text=text, blocks=blocks)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            raise self._failed(exc) from exc

    async def _remind(self, post: Post | None, detail: str) -> None:
        """The approval reminder: a reply in the card's thread naming the approvers."""
        if post is None or not post.channel or not post.message_ts:
            return  # no card to reply under (deleted, or never delivered): nothing to remind
        since, *approvers = detail.split()
        text = messages.approval_reminder(approvers, datetime.fromisoformat(since))
        try:
            await self._client.chat_postMessage(
                channel=post.channel, thread_ts=post.message_ts, text=text
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            raise self._failed(exc) from exc
