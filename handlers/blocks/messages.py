"""Words the bot says to people. SPEC section 3 fixes some of them exactly.

Templates here are filled with `markup.md`, which escapes what goes into them.
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from handlers.blocks.cost import budget_usd, usd
from handlers.blocks.markup import Channel, Mrkdwn, User, join, md
from handlers.blocks.times import slack_date
from services import platforms
from services.errors import BudgetExhausted, RateLimited
from services.scheduling.rules import PostAtProblem

ALREADY_APPROVED = "The post has already been approved."
ALREADY_REJECTED = "The post has already been rejected."
NOT_APPROVER = "Only approvers can approve or reject posts."
OWN_POST = "You can't approve your own post."
STALE_VERSION = "This draft has changed since this card was shown. Check the new version first."
GENERATION_FAILED = "Unable to generate content right now. Please try again"
RATE_LIMITED = "You're drafting too fast. Try again in {seconds} seconds."
WORKSPACE_RATE_LIMITED = (
    "The team has used its drafting budget for now. Try again in {seconds} seconds."
)
NOT_FOUND = "That post no longer exists."
WRONG_CARD = "That button doesn't belong to this post's card."
NOT_READY = "The draft isn't ready yet: wait for it to appear on the card."
NOT_EDITABLE = "Only a pending draft can be changed."
NOT_EDITOR = "Only approvers and the requester can change this draft."
NOT_FAILED = "There is nothing to retry: the post hasn't failed."
DISCARDED = "There is nothing to retry: the post was discarded."
OVER_LIMIT = "{platform} won't take this draft: {measure}. Edit or regenerate it before approving."
UNEXPECTED_ERROR = (
    "Something went wrong on our side, and nothing was published. Please try again; "
    "if it keeps happening, tell whoever runs socialpost."
)
CARD_UNDELIVERABLE = (
    "I couldn't post your draft to the approval channel {channel} ({reason}). "
    "Your request is saved: an admin can retry it from socialpost's App Home."
)
RETRY_QUEUED = "Trying again."
APPROVED_BY_YOU = "You have already approved this post."
APPROVED_SO_FAR = "Approved by {approvers} ({count} of {required})"
APPROVED_FOR = "{approver} approved it for {time}: the last approval schedules it then."
APPROVALS_CLEARED = (
    "Approvals cleared: the draft changed after {approvers} approved it, "
    "so this version starts again (0 of {required})."
)
IDEAS_QUEUED = "Proposing ideas now: they will appear as cards in the approval channel."
IDEAS_FAILED = ":warning: Ideas run failed: {reason}. Nothing was drafted."
IDEAS_SKIPPED = ":warning: Ideas run: some ideas were not drafted.\n{reasons}"
POLICY_FINDING = "Policy: {problem}"
POLICY_REFUSAL = "This draft breaks the content policy: {problem}. Edit it first."
BUDGET_EXHAUSTED = "This month's LLM budget ({budget}) is used up."
BUDGET_WARNING = (
    ":warning: This month's LLM spend is {spent}, {share}% of the {budget} budget. New drafts "
    "and regenerations stop when it is used up (until the 1st, UTC)."
)

# Time on the card (SPEC section 7.2).
EXPIRED = "The post has expired."
EXPIRED_CARD = "Expired: nobody approved it in time. Nothing was published."
ALREADY_SCHEDULED = "The post has already been scheduled for {time}."
NOT_SCHEDULED = "The post isn't scheduled any more."
ALREADY_PUBLISHING = "The post is already being published."
NOT_RETRYING = "The post isn't waiting for a retry any more."
NOT_EXPIRED = "The post hasn't expired: there is nothing to revive."
POST_AT_MISSING = "Pick a date and a time."
POST_AT_PAST = "That time has passed. Pick a time in the future."
POST_AT_TOO_FAR = "Pick a time within a year from now."
RETRY_NOW_QUEUED = "Trying again now."


RETRY_REASONS: dict[str, str] = {
    "rate limit": "is rate limiting us",
    "platform down": "is not answering",
    "cooldown": "failed several times in a row; socialpost is giving it a rest",
    "expired or wrong credentials": "refused the credentials",
    "refused by the platform": "refused the post",
}
"""A publish's reason to wait, as the end of "Retrying: <platform> ..." (by failure reason)."""


def retry_reason_words(reason: str) -> Mrkdwn:
    """Why a publish waits for its next try, in plain words."""
    return md(RETRY_REASONS.get(reason, "failed"))


def post_at_problem(problem: PostAtProblem) -> str:
    """What the "Post at" field says about a time it can't take."""
    match problem:
        case PostAtProblem.MISSING:
            return POST_AT_MISSING
        case PostAtProblem.PAST:
            return POST_AT_PAST
        case PostAtProblem.TOO_FAR:
            return POST_AT_TOO_FAR


def approval_reminder(approvers: Sequence[str], since: datetime) -> Mrkdwn:
    """The one reminder under a card nobody has decided on, naming the approvers."""
    waiting = md("This draft has been waiting for approval since {time}.", time=slack_date(since))
    if not approvers:
        return md("{waiting} Anyone in this channel can approve it.", waiting=waiting)
    names = join(" ", [User(approver).render() for approver in approvers])
    return md("{names}: {waiting}", names=names, waiting=waiting)


def rate_limited(seconds: float, scope: str) -> Mrkdwn:
    """The refusal for a drafting request over the rate limit, with the real wait."""
    whole = max(1, int(-(-seconds // 1)))
    template = RATE_LIMITED if scope == "user" else WORKSPACE_RATE_LIMITED
    return md(template, seconds=whole)


def policy_finding(problem: str) -> Mrkdwn:
    """A content-policy problem as the card shows it (SPEC section 7.4)."""
    return md(POLICY_FINDING, problem=problem)


def policy_refusal(problem: str) -> Mrkdwn:
    """The private answer to Approve or Schedule while the draft breaks the policy."""
    return md(POLICY_REFUSAL, problem=problem)


def budget_exhausted(budget: Decimal) -> Mrkdwn:
    """The private refusal of a draft or regeneration once the month's budget is used up."""
    return md(BUDGET_EXHAUSTED, budget=budget_usd(budget))


def drafting_refused(refusal: RateLimited | BudgetExhausted) -> Mrkdwn:
    """The private refusal of a draft or regeneration: too fast, or over the budget."""
    if isinstance(refusal, RateLimited):
        return rate_limited(refusal.retry_after, refusal.scope)
    return budget_exhausted(refusal.budget)


def budget_warning(spent: Decimal, budget: Decimal) -> Mrkdwn:
    """The one message a month in the approval channel once 80% of the budget is spent."""
    share = int(spent / budget * 100) if budget else 100
    return md(BUDGET_WARNING, spent=usd(spent), share=share, budget=budget_usd(budget))


def card_undeliverable(channel: str, reason: str) -> Mrkdwn:
    """The direct message to a requester whose card couldn't reach the approval channel."""
    return md(CARD_UNDELIVERABLE, channel=Channel(channel), reason=reason)


def help_text(command: str) -> Mrkdwn:
    """What `/socialpost help` answers."""
    return md(
        "*{command}* drafts a social post with AI and sends it for approval.\n"
        "• `{command}` opens the form; `{command} some text` opens it with the brief filled in.\n"
        "• Pick one or more platforms ({platforms}): each gets its own draft and its "
        "own card in the approval channel.\n"
        "• Nothing is published until an approver clicks *Approve &amp; post* on the card.\n"
        "• `{command} status` lists pending and failed posts (only you see it).\n"
        "• `{command} ideas [topic]` asks for fresh post ideas now (optionally on a topic); "
        "each becomes a card in the approval channel.\n"
        "• `{command} help` shows this message.",
        command=command,
        platforms=", ".join(platforms.names()),
    )


VIA_API = "via API: {name}"
VIA_API_FOR = "via API: {name} (requested by {who})"


def via_api(name: str, requested_by: str | None) -> Mrkdwn:
    """The requester of an API post: the key's name, and who asked if the request said."""
    if requested_by:
        return md(VIA_API_FOR, name=name, who=requested_by)
    return md(VIA_API, name=name)


def ideas_failed(reason: str) -> Mrkdwn:
    """The approval channel's message about an ideas run that drafted nothing."""
    return md(IDEAS_FAILED, reason=reason.rstrip("."))


def ideas_skipped(reasons: str) -> Mrkdwn:
    """The approval channel's message about ideas a run could not draft (one per line)."""
    return md(IDEAS_SKIPPED, reasons=reasons)
