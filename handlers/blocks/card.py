"""The approval card: one message per post, updated in place through the post's whole life."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from handlers import ids
from handlers.blocks.approvals import approval_lines
from handlers.blocks.cost import spend_text
from handlers.blocks.markup import Mrkdwn, User, clip, fit, join, md
from handlers.blocks.messages import (
    EXPIRED_CARD,
    GENERATION_FAILED,
    policy_finding,
    retry_reason_words,
    via_api,
)
from handlers.blocks.pieces import cut
from handlers.blocks.times import slack_date
from services.api_intake import api_caller
from services.approvals import ApprovalState
from services.models import Post, PostStatus
from services.platforms import Measurement, measure_draft, spec_for, thread_parts
from services.scheduling.rules import ON_TIME_TOLERANCE

Block = dict[str, Any]

SECTION_TEXT_MAX = 3000
CONTEXT_ELEMENTS_MAX = 10
MESSAGE_BLOCKS_MAX = 50
BRIEF_SHOWN = 600
TITLE_SHOWN = 200
REASON_SHOWN = 500
# The notification shows the start of the draft; the card's sections show all of it.
TEXT_DRAFT_SHOWN = 1000


def _article(name: str) -> str:
    return "an" if name[:1].upper() in "AEIOUX" else "a"


def mrkdwn(text: Mrkdwn) -> Block:
    """A section of mrkdwn text (cut, and saying so, past Slack's 3000 characters)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": fit(text, SECTION_TEXT_MAX)}}


def context(*parts: Mrkdwn) -> Block:
    """A context line of mrkdwn parts (Slack takes 10 elements: any more share the tenth)."""
    if len(parts) > CONTEXT_ELEMENTS_MAX:
        last = CONTEXT_ELEMENTS_MAX - 1
        parts = (*parts[:last], join(" · ", parts[last:]))
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": fit(part, SECTION_TEXT_MAX)} for part in parts],
    }


def button(
    text: str, action_id: str, value: str, style: str | None = None, *, url: str | None = None
) -> Block:
    """A button whose value is a post id."""
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    if url:
        element["url"] = url
    return element


def draft_section(text: str, block_id: str = "draft") -> Block:
    """Draft text exactly as it will be published (plain text: no mrkdwn formatting applies);
    at most a section's 3000 characters (`pieces.cut` makes them fit)."""
    return {
        "type": "section",
        "block_id": block_id,
        "text": {"type": "plain_text", "text": text or " ", "emoji": False},
    }


def _draft_units(post: Post) -> list[list[str]]:
    """The draft's section texts, grouped by what a reader counts: one group per post of a
    thread, one per section of a single post."""
    message = post.message or ""
    if post.thread:
        parts = thread_parts(post.platform, message)
        return [[p.text for p in cut(part, SECTION_TEXT_MAX)] for part in parts]
    return [[piece.text] for piece in cut(message, SECTION_TEXT_MAX)]


def _not_shown(post: Post, hidden: list[list[str]]) -> Mrkdwn:
    if post.thread:
        return md(
            ":scissors: {count} more posts of this thread are not shown: the thread is too "
            "long for one Slack message.",
            count=len(hidden),
        )
    characters = sum(len(text) for unit in hidden for text in unit)
    return md(
        ":scissors: {count:,} more characters of this draft are not shown: it is too long "
        "for one Slack message.",
        count=characters,
    )


def draft_sections(post: Post, budget: int = MESSAGE_BLOCKS_MAX) -> list[Block]:
    """The draft as it will be published, in at most `budget` blocks: as many sections as its
    text needs (each post of a thread in its own), and a note saying what didn't fit."""
    units = _draft_units(post) or [[""]]
    shown: list[str] = []
    for index, unit in enumerate(units):
        room = budget - len(shown) - (1 if index < len(units) - 1 else 0)
        if len(unit) > room:
            blocks = [_draft_block(n, text) for n, text in enumerate(shown)]
            return [*blocks, context(_not_shown(post, units[index:]))]
        shown += unit
    return [_draft_block(n, text) for n, text in enumerate(shown)]


def _draft_block(index: int, text: str) -> Block:
    return draft_section(text, "draft" if index == 0 else f"draft_{index + 1}")


def _brief(post: Post) -> Block:
    return context(md("*Brief:* {brief}", brief=clip(post.brief or "", BRIEF_SHOWN)))


def _about(post: Post) -> list[Block]:
    """The brief, below the idea's title when the bot proposed the post (SPEC 7.6)."""
    if not post.title:
        return [_brief(post)]
    return [context(md("*Idea:* {title}", title=clip(post.title, TITLE_SHOWN))), _brief(post)]


def _measure_line(post: Post, measurement: Measurement) -> Mrkdwn:
    unit = spec_for(post.platform).unit
    if not measurement.within_limit:
        return md(":warning: {problems}", problems="; ".join(measurement.problems))
    if post.thread and measurement.parts > 1:
        return md(
            "Thread of {parts} posts, each within {limit} {unit}",
            parts=measurement.parts,
            limit=measurement.limit,
            unit=unit,
        )
    return md(
        "{length}/{limit} {unit}", length=measurement.length, limit=measurement.limit, unit=unit
    )


def _pending_buttons(post: Post, measurement: Measurement) -> list[Block]:
    # Each decision is for the version this card shows.
    value = ids.versioned(post.id, post.version)
    elements = [
        button("Approve & post", ids.APPROVE, value, "primary"),
        button("Schedule…", ids.SCHEDULE, value),
        button("Edit", ids.EDIT, value),
        button("Regenerate", ids.REGENERATE, value),
        button("Suggest changes…", ids.SUGGEST_CHANGES, value),
        button("Reject", ids.REJECT, value, "danger"),
    ]
    can_thread = spec_for(post.platform).threads is not None
    if can_thread and not post.thread and not measurement.within_limit:
        elements.insert(1, button("Post as a thread", ids.MAKE_THREAD, value))
    return elements


def _model_line(post: Post) -> Mrkdwn | None:
    if not post.llm_model:
        return None
    answered = post.llm_model
    if post.llm_provider and not answered.startswith(f"{post.llm_provider}/"):
        answered = f"{post.llm_provider}/{answered}"
    configured = post.llm_deployment or answered
    if "/" not in configured and post.llm_provider:
        configured = f"{post.llm_provider}/{configured}"
    line = md("Written by {model}", model=configured)
    if answered != configured:
        # Providers answer with the model an alias resolved to (…-latest -> a dated one).
        line = md("{line} (answered as {model})", line=line, model=post.llm_model)
    if post.llm_fallback:
        line = md("{line} (fallback: the first choice was unavailable)", line=line)
    return line


def _cost_line(post: Post) -> Mrkdwn | None:
    """What drafting the post has cost so far (every draft, re-prompt and regeneration)."""
    spend = post.spend
    if not spend.calls:
        return None
    if spend.unknown == spend.calls:
        return md("LLM {cost}", cost=spend_text(spend))
    return md("LLM cost: {cost}", cost=spend_text(spend))


def _policy_blocks(post: Post, problems: Sequence[str]) -> list[Block]:
    """The content policy's findings, while they can still stop a decision."""
    if not problems or post.status not in (PostStatus.PENDING, PostStatus.FAILED_APPROVAL_SEND):
        return []
    lines = join("\n", (md(":no_entry: {line}", line=policy_finding(p)) for p in problems))
    return [mrkdwn(lines)]


def _version_line(post: Post) -> Mrkdwn:
    line = md("Version {version}", version=post.version)
    if post.edited_by:
        line = md("{line}, edited by {editor}", line=line, editor=User(post.edited_by))
    return line


def _who(post: Post) -> Mrkdwn:
    caller = api_caller(post.requester)
    if caller is not None:
        return via_api(caller, post.requested_by)
    return User(post.requester).render() if post.requester else md("a teammate")


def card_text(post: Post) -> Mrkdwn:
    """The message's `text`: what notifications and screen readers show (read as mrkdwn)."""
    name = spec_for(post.platform).name
    who = _who(post)
    match post.status:
        case PostStatus.GENERATING:
            return md(
                "Drafting {article} {name} post for {who}...",
                article=_article(name),
                name=name,
                who=who,
            )
        case PostStatus.PENDING | PostStatus.FAILED_APPROVAL_SEND:
            return md(
                "{name} draft from {who} awaiting approval: {draft}",
                name=name,
                who=who,
                draft=clip(post.message or "", TEXT_DRAFT_SHOWN),
            )
        case PostStatus.APPROVED:
            if post.next_try_at is not None:
                reason, detail = _retry_parts(post)
                return retrying_line(post.platform, reason, detail, post.next_try_at)
            return md(
                "Publishing... {name} post approved by {approver}",
                name=name,
                approver=User(post.approved_by),
            )
        case PostStatus.SCHEDULED:
            return md(
                "Scheduled for {time} by {approver}: {name} post from {who}",
                time=_when(post.scheduled_for),
                approver=User(post.approved_by),
                name=name,
                who=who,
            )
        case PostStatus.MISSED:
            return md(
                "{line} ({name} post from {who})",
                line=missed_line(post.scheduled_for or post.updated_at),
                name=name,
                who=who,
            )
        case PostStatus.EXPIRED:
            return md(
                "{expired} ({name} post from {who})", expired=md(EXPIRED_CARD), name=name, who=who
            )
        case PostStatus.POSTED:
            return _posted_line(post, name)
        case PostStatus.REJECTED:
            return md(
                "Rejected by {rejecter}: {name} post from {who}",
                rejecter=User(post.rejected_by),
                name=name,
                who=who,
            )
        case PostStatus.FAILED_POST:
            return md("Failed to post to {name}: {reason}", name=name, reason=_reason(post))
        case PostStatus.FAILED_GENERATION:
            return md(
                "{failed} ({name} post for {who})", failed=GENERATION_FAILED, name=name, who=who
            )


def _when(moment: datetime | None) -> Mrkdwn:
    return slack_date(moment) if moment is not None else md("a time not recorded")


def _retry_parts(post: Post) -> tuple[str, str | None]:
    """The stored retry reason as (reason, the platform's detail): "platform down: HTTP 503"."""
    reason, _, detail = (post.retry_reason or "").partition(": ")
    return reason, detail or None


def _reason(post: Post) -> Mrkdwn:
    return clip(post.failure_reason or "unknown error", REASON_SHOWN)


def _posted_line(post: Post, name: str) -> Mrkdwn:
    approver = User(post.approved_by)
    if post.dry_run:
        return md(
            "Posted to {name} by {approver} (dry run: nothing was sent to {name})",
            name=name,
            approver=approver,
        )
    line = md("Posted to {name} by {approver}", name=name, approver=approver)
    if post.external_url:
        line = md("{line}: {url}", line=line, url=post.external_url)
    return line


def _actions(*elements: Block) -> Block:
    return {"type": "actions", "block_id": "actions", "elements": list(elements)}


def _outcome_blocks(post: Post, name: str, dry_run: bool, measurement: Measurement) -> list[Block]:
    """What the card says below the draft, for the post's status."""
    match post.status:
        case PostStatus.PENDING | PostStatus.FAILED_APPROVAL_SEND:
            blocks = []
            if post.failure_reason:
                blocks.append(
                    context(
                        md(
                            ":warning: {failed}. This is the previous version.",
                            failed=GENERATION_FAILED,
                        )
                    )
                )
            if dry_run:
                blocks.append(
                    context(
                        md(
                            ":test_tube: This is a dry run: approving will not post to {name}.",
                            name=name,
                        )
                    )
                )
            if post.requested_for is not None:
                blocks.append(context(requested_line(post.requested_for)))
            return [*blocks, _actions(*_pending_buttons(post, measurement))]
        case PostStatus.APPROVED if post.next_try_at is not None:
            reason, detail = _retry_parts(post)
            return retrying_blocks(post.id, post.platform, reason, detail, post.next_try_at)
        case PostStatus.SCHEDULED:
            return scheduled_blocks(
                post.id, post.scheduled_for or post.updated_at, post.approved_by
            )
        case PostStatus.MISSED:
            return missed_blocks(post.id, post.scheduled_for or post.updated_at)
        case PostStatus.EXPIRED:
            return expired_blocks(post.id)
        case PostStatus.APPROVED:
            return [
                mrkdwn(
                    md(
                        ":rocket: *Publishing...* (approved by {approver})",
                        approver=User(post.approved_by),
                    )
                )
            ]
        case PostStatus.POSTED:
            posted = mrkdwn(md(":white_check_mark: {line}", line=_posted_line(post, name)))
            if post.scheduled_for and post.posted_at and went_out_late(post):
                return [posted, late_note(post.scheduled_for, post.posted_at)]
            return [posted]
        case PostStatus.REJECTED:
            return [
                mrkdwn(
                    md(":no_entry_sign: Rejected by {rejecter}", rejecter=User(post.rejected_by))
                )
            ]
        case PostStatus.FAILED_POST:
            return [
                mrkdwn(
                    md(":x: *Failed to post to {name}:* {reason}", name=name, reason=_reason(post))
                ),
                _actions(
                    button("Retry", ids.RETRY, post.id, "primary"),
                    button("Discard", ids.DISCARD, post.id, "danger"),
                ),
            ]
        case _:
            return []


def _approvals(post: Post, approvals: ApprovalState | None) -> list[Block]:
    """A pending card's approvals so far ("Approved by @a (1 of 2)"), or that an edit
    cleared them; nothing when there is nothing to say."""
    if approvals is None or post.status not in (
        PostStatus.PENDING,
        PostStatus.FAILED_APPROVAL_SEND,
    ):
        return []
    return approvals_context(approvals)


def approvals_context(approvals: ApprovalState) -> list[Block]:
    """The approvals collected so far as one context line (none when there is nothing to
    say): on a pending card, and beside the post in App Home."""
    lines = approval_lines(approvals)
    return (
        [context(*(md(":ballot_box_with_check: {line}", line=line) for line in lines))]
        if lines
        else []
    )


def approval_card(
    post: Post,
    *,
    dry_run: bool,
    approvals: ApprovalState | None = None,
    policy_problems: Sequence[str] = (),
) -> tuple[Mrkdwn, list[Block]]:
    """The card's text and blocks for the post's current status.

    `dry_run` says whether approving will call the platform (shown before the decision);
    `approvals`, who approved the pending version so far (several approvals needed).
    `policy_problems` are what the content policy finds in the draft (`services.checks`), in
    plain words.
    """
    name = spec_for(post.platform).name
    who = _who(post)
    text = card_text(post)
    if post.status == PostStatus.GENERATING:
        return text, [mrkdwn(md(":hourglass_flowing_sand: {text}", text=text)), *_about(post)]
    if post.status == PostStatus.FAILED_GENERATION:
        return text, [
            mrkdwn(
                md(
                    ":warning: *{failed}* ({name} post for {who})",
                    failed=GENERATION_FAILED,
                    name=name,
                    who=who,
                )
            ),
            *_about(post),
            _actions(
                button("Retry", ids.RETRY, post.id, "primary"),
                button("Discard", ids.DISCARD, post.id),
            ),
        ]

    kind = "thread" if post.thread else "draft"
    head = [mrkdwn(md("*{name} {kind}* from {who}", name=name, kind=kind, who=who))]
    measurement = measure_draft(post.platform, post.message or "", thread=post.thread)
    details = [_measure_line(post, measurement), _version_line(post)]
    if model := _model_line(post):
        details.append(model)
    if cost := _cost_line(post):
        details.append(cost)
    tail = [
        *_policy_blocks(post, policy_problems),
        context(*details),
        *_about(post),
        *_approvals(post, approvals),
        *_outcome_blocks(post, name, dry_run, measurement),
    ]
    draft = draft_sections(post, MESSAGE_BLOCKS_MAX - len(head) - len(tail))
    return text, [*head, *draft, *tail]


def generation_failed_notice(post: Post | None) -> tuple[Mrkdwn, list[Block]]:
    """The direct message to a requester whose draft could not be written, with Retry."""
    text = md(GENERATION_FAILED)
    if post is None:
        return text, [mrkdwn(text)]
    name = spec_for(post.platform).name
    blocks = [
        mrkdwn(md(":warning: {failed} (your {name} post).", failed=GENERATION_FAILED, name=name)),
        _brief(post),
        context(md("Your brief is saved: Retry drafts it again.")),
        _actions(button("Retry", ids.RETRY, post.id, "primary")),
    ]
    return text, blocks


# Time on the card (SPEC 7.2): each state below the draft, from plain values.


def requested_line(requested_for: datetime) -> Mrkdwn:
    """The pending card's note of the time its requester asked for."""
    return md(":calendar: Requested for {time}", time=slack_date(requested_for))


def scheduled_blocks(post_id: str, scheduled_for: datetime, approver: str | None) -> list[Block]:
    """An approved post waiting for its time, with Post now and Unschedule."""
    return [
        mrkdwn(
            md(
                ":alarm_clock: *Scheduled for {time}* by {approver}",
                time=slack_date(scheduled_for),
                approver=User(approver),
            )
        ),
        _actions(
            button("Post now", ids.POST_NOW, post_id, "primary"),
            button("Unschedule", ids.UNSCHEDULE, post_id),
        ),
    ]


def retrying_line(platform: str, reason: str, detail: str | None, next_try: datetime) -> Mrkdwn:
    """What a publish waiting for its next automatic try says: the platform, why in plain
    words, and when it tries again."""
    words = retry_reason_words(reason)
    if detail:
        words = md("{words} ({detail})", words=words, detail=clip(detail, REASON_SHOWN))
    return md(
        "Retrying: {platform} {words}. Next try {time}.",
        platform=spec_for(platform).name,
        words=words,
        time=slack_date(next_try),
    )


def retrying_blocks(
    post_id: str, platform: str, reason: str, detail: str | None, next_try: datetime
) -> list[Block]:
    """A publish waiting out a backoff or a platform's cool-down, with Retry now and Discard."""
    return [
        mrkdwn(md(":repeat: {line}", line=retrying_line(platform, reason, detail, next_try))),
        _actions(
            button("Retry now", ids.RETRY_NOW, post_id, "primary"),
            button("Discard", ids.DISCARD, post_id, "danger"),
        ),
    ]


def missed_line(scheduled_for: datetime) -> Mrkdwn:
    """A scheduled post that wasn't published: socialpost was down past the grace."""
    return md(
        "Missed its time: it was scheduled for {time}, and socialpost wasn't running then. "
        "Nothing was published.",
        time=slack_date(scheduled_for),
    )


def missed_blocks(post_id: str, scheduled_for: datetime) -> list[Block]:
    """The missed-time state, with Retry (post now) and Discard."""
    return [
        mrkdwn(md(":warning: {line}", line=missed_line(scheduled_for))),
        _actions(
            button("Retry", ids.RETRY, post_id, "primary"),
            button("Discard", ids.DISCARD, post_id, "danger"),
        ),
    ]


def went_out_late(post: Post) -> bool:
    """Whether a scheduled post was published noticeably after its time (after downtime
    within the grace, or after automatic retries)."""
    if post.scheduled_for is None or post.posted_at is None:
        return False
    return post.posted_at - post.scheduled_for > ON_TIME_TOLERANCE


def late_note(scheduled_for: datetime, published_at: datetime) -> Block:
    """Below a posted card: it went out later than it was scheduled for."""
    return context(
        md(
            ":turtle: Went out late: it was scheduled for {time} and published {published}.",
            time=slack_date(scheduled_for),
            published=slack_date(published_at),
        )
    )


def expired_blocks(post_id: str) -> list[Block]:
    """A draft nobody decided on within SOCIALPOST_APPROVAL_TTL, with Revive."""
    return [
        mrkdwn(md(":hourglass: {expired}", expired=md(EXPIRED_CARD))),
        _actions(button("Revive", ids.REVIVE, post_id)),
    ]
