"""`/socialpost status`: pending and failed posts, for the person who asked."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from handlers.blocks.card import SECTION_TEXT_MAX, context, mrkdwn
from handlers.blocks.cost import budget_usd, usd
from handlers.blocks.markup import Channel, Mrkdwn, User, clip, escape, join, lines_within, md
from handlers.blocks.times import slack_date
from services.models import Post, PostStatus, Spend
from services.platforms import spec_for
from storage.models import IdeaRun, IdeaRunStatus

PREVIEW = 80
REASON_PREVIEW = 200

_FAILURES = {
    PostStatus.FAILED_POST: "failed to post",
    PostStatus.FAILED_GENERATION: "no draft: generation failed",
    PostStatus.FAILED_APPROVAL_SEND: "approval card not delivered",
    PostStatus.MISSED: "missed its scheduled time: not published",
}


def preview(text: str | None, length: int = PREVIEW) -> Mrkdwn:
    """The start of a draft, on one line, safe in mrkdwn (cut before escaping, so never inside
    an entity; the ellipsis says it goes on)."""
    flat = " ".join((text or "").split())
    return escape(flat if len(flat) <= length else flat[: length - 1] + "…")


def post_line(post: Post) -> Mrkdwn:
    """One post in a list: platform, requester, what happened, the start of the draft."""
    name = spec_for(post.platform).name
    parts = [
        md("*{name}*", name=name),
        md("from {who}", who=User(post.requester)) if post.requester else md("from a teammate"),
    ]
    if post.status in _FAILURES:
        reason = md("{what}", what=_FAILURES[post.status])
        if post.failure_reason and post.status == PostStatus.FAILED_POST:
            why = clip(post.failure_reason, REASON_PREVIEW)
            reason = md("{reason}: {why}", reason=reason, why=why)
        parts.append(reason)
    if post.message:
        parts.append(md("“{start}”", start=preview(post.message)))
    if post.channel:
        parts.append(md("in {channel}", channel=Channel(post.channel)))
    return join(" · ", parts)


def scheduled_line(post: Post) -> Mrkdwn:
    """A scheduled post in a list: when it goes out, then the post as any list shows it."""
    when = slack_date(post.scheduled_for) if post.scheduled_for else md("(no time)")
    return md("{when} · {line}", when=when, line=post_line(post))


def more_in_app_home(count: int) -> Mrkdwn:
    """The closing line of a list cut short."""
    return md("_…and {count} more: see the whole queue in socialpost's App Home._", count=count)


def _section(
    title: str,
    posts: Sequence[Post],
    total: int,
    line: Callable[[Post], Mrkdwn] = post_line,
) -> list[dict[str, Any]]:
    """A titled list of `posts`, of `total` in all; what doesn't fit says how many more."""
    if not total:
        return []
    lines = [md("• {line}", line=line(post)) for post in posts]
    head = md("*{title} ({total})*", title=title, total=total)
    unlisted = max(0, total - len(posts))
    text = lines_within(head, lines, SECTION_TEXT_MAX, more_in_app_home, unlisted=unlisted)
    return [mrkdwn(text)]


def status_blocks(
    pending: Sequence[Post],
    failed: Sequence[Post],
    *,
    pending_total: int | None = None,
    failed_total: int | None = None,
    dead_jobs: Mapping[str, int] | None = None,
    idea_runs: Sequence[IdeaRun] = (),
    month_spend: Spend | None = None,
    budget: Decimal | None = None,
    scheduled: Sequence[Post] = (),
    scheduled_total: int | None = None,
) -> tuple[Mrkdwn, list[Any]]:
    """The status answer's text and blocks: the newest `pending` and `failed` posts, of
    `pending_total` and `failed_total` in all (default: the lists are all there is), and
    this month's LLM spend against the budget, when given."""
    pending_count = len(pending) if pending_total is None else pending_total
    failed_count = len(failed) if failed_total is None else failed_total
    text = md(
        "{pending} pending approval, {failed} failed", pending=pending_count, failed=failed_count
    )
    scheduled_count = len(scheduled) if scheduled_total is None else scheduled_total
    blocks = _section("Pending approval", pending, pending_count) + _section(
        "Failed", failed, failed_count
    )
    if dead_jobs:
        lines = [md("• {label}: {count}", label=label, count=n) for label, n in dead_jobs.items()]
        head = md("*Failed for good (retry them in App Home)*")
        blocks.append(mrkdwn(join("\n", [head, *lines])))
    blocks += _section("Scheduled", scheduled, scheduled_count, scheduled_line)
    if scheduled_count:
        text = md("{text}, {count} scheduled", text=text, count=scheduled_count)
    if not blocks:
        blocks = [mrkdwn(md("Nothing is pending or failed. :tada:"))]
    if idea_runs:
        lines = [md("• {line}", line=idea_run_line(run)) for run in idea_runs]
        blocks.append(mrkdwn(md("*Ideas runs*\n{lines}", lines=join("\n", lines))))
    if month_spend is not None:
        blocks.append(context(spend_line(month_spend, budget)))
    return text, blocks


def slack_time(moment: datetime) -> Mrkdwn:
    """`moment` as a Slack date token: each reader sees it in their own time zone."""
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Mrkdwn(f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>")


def idea_run_line(run: IdeaRun) -> Mrkdwn:
    """One run of the ideas schedule: when, how many ideas, how many dropped, what failed."""
    when = slack_time(run.scheduled_for or run.created_at)
    how = (
        md("scheduled")
        if run.scheduled_for
        else md("on request by {who}", who=User(run.requested_by))
    )
    dropped = md(", {n} dropped as duplicates", n=run.dropped) if run.dropped else md("")
    match run.status:
        case IdeaRunStatus.QUEUED:
            outcome = md("due")
        case IdeaRunStatus.RUNNING:
            outcome = md("running: {n} ideas{dropped}", n=len(run.ideas or []), dropped=dropped)
        case IdeaRunStatus.DONE:
            outcome = md("{n} ideas drafted{dropped}", n=run.drafted, dropped=dropped)
        case IdeaRunStatus.FAILED | IdeaRunStatus.MISSED:
            outcome = md(
                "{status}: {why}{dropped}",
                status=run.status.value,
                why=clip(run.detail or "unknown", REASON_PREVIEW),
                dropped=dropped,
            )
    if run.status == IdeaRunStatus.DONE and run.detail:
        outcome = md("{outcome} (some skipped)", outcome=outcome)
    return md("{when} ({how}): {outcome}", when=when, how=how, outcome=outcome)


def spend_line(spend: Spend, budget: Decimal | None) -> Mrkdwn:
    """This month's LLM spend: "LLM spend this month (UTC): $1.23 of the $50 budget"."""
    line = md("LLM spend this month (UTC): {spent}", spent=usd(spend.known))
    if spend.unknown:
        calls = "call" if spend.unknown == 1 else "calls"
        line = md(
            "{line} ({count} {calls} of unknown cost)", line=line, count=spend.unknown, calls=calls
        )
    if budget is not None:
        line = md("{line} of the {budget} budget", line=line, budget=budget_usd(budget))
    return line
