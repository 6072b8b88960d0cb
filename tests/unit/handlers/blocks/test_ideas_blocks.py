"""What people see of ideas: the idea's title on its card, the run history in status."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from handlers.blocks.card import approval_card
from handlers.blocks.messages import help_text, ideas_failed, ideas_skipped
from handlers.blocks.status import idea_run_line, slack_time, status_blocks
from services.ideas.runs import IDEAS_REQUESTER
from services.models import PostStatus
from storage.models import IdeaRun, IdeaRunStatus
from tests.unit.handlers.blocks.test_blocks import post

NINE = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", [PostStatus.GENERATING, PostStatus.PENDING])
def test_an_idea_card_shows_its_title_and_who_asked(status: PostStatus) -> None:
    """A post the schedule proposed shows "Idea: <title>" above the brief, and its requester
    as the words "socialpost ideas" (no mention, no "someone")."""
    idea = post(status=status, requester=IDEAS_REQUESTER, title="Why we <pair> & why")
    text, blocks = approval_card(idea, dry_run=False)
    shown = json.dumps(blocks)
    assert "*Idea:* Why we &lt;pair&gt; &amp; why" in shown
    assert shown.index("*Idea:*") < shown.index("*Brief:*")
    assert "socialpost ideas" in text and "<@" not in text


def test_a_card_without_a_title_is_unchanged() -> None:
    """A teammate's post has no idea line."""
    _text, blocks = approval_card(post(), dry_run=False)
    assert "*Idea:*" not in json.dumps(blocks)


def run(status: IdeaRunStatus, **fields: object) -> IdeaRun:
    values: dict[str, object] = {
        "key": "ideas:x",
        "scheduled_for": NINE,
        "status": status,
        "created_at": NINE,
        "updated_at": NINE,
    }
    values.update(fields)
    return IdeaRun.model_validate(values)


def test_run_history_lines_say_when_how_many_and_what_failed() -> None:
    """Each run: its time as a Slack date token, scheduled or by whom, and its outcome."""
    token = slack_time(NINE)
    assert token == (
        f"<!date^{int(NINE.timestamp())}^{{date_short_pretty}} at {{time}}|2026-12-02 09:00 UTC>"
    )
    done = idea_run_line(run(IdeaRunStatus.DONE, drafted=3, dropped=2))
    assert done == f"{token} (scheduled): 3 ideas drafted, 2 dropped as duplicates"
    asked = idea_run_line(
        run(IdeaRunStatus.FAILED, scheduled_for=None, requested_by="U0REQ", detail="no <JSON>")
    )
    assert asked.endswith("(on request by <@U0REQ>): failed: no &lt;JSON&gt;")
    assert idea_run_line(run(IdeaRunStatus.QUEUED)).endswith("(scheduled): due")
    skipped = idea_run_line(run(IdeaRunStatus.DONE, drafted=1, detail="• “A”: limit"))
    assert skipped.endswith("1 ideas drafted (some skipped)")


def test_status_lists_the_runs_after_the_posts() -> None:
    """/socialpost status gets an "Ideas runs" section when there are runs."""
    _text, blocks = status_blocks([], [], idea_runs=[run(IdeaRunStatus.MISSED, detail="late")])
    shown = json.dumps(blocks)
    assert "*Ideas runs*" in shown and "missed: late" in shown
    _text, without = status_blocks([], [])
    assert "Ideas runs" not in json.dumps(without)


def test_help_and_channel_messages_mention_ideas() -> None:
    """Help explains `ideas [topic]`; the channel's messages say what failed, escaped."""
    assert "`/socialpost ideas [topic]`" in help_text("/socialpost")
    assert ideas_failed("no <b>answer</b>.") == (
        ":warning: Ideas run failed: no &lt;b&gt;answer&lt;/b&gt;. Nothing was drafted."
    )
    assert ideas_skipped("• “A”: rate limit").endswith("• “A”: rate limit")
