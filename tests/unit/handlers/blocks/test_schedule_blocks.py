"""Time on the card: date tokens, the Schedule… modal, "Post at", and the card's time states."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers import ids
from handlers.blocks import messages
from handlers.blocks.card import (
    approval_card,
    expired_blocks,
    late_note,
    missed_blocks,
    requested_line,
    retrying_blocks,
    retrying_line,
    scheduled_blocks,
)
from handlers.blocks.home import home_view
from handlers.blocks.modal import (
    datetime_value,
    new_post_modal,
    schedule_modal,
    suggested_time,
)
from handlers.blocks.status import status_blocks
from handlers.blocks.times import slack_date
from services.lifecycle import Action
from services.models import Post, PostStatus
from services.overview import HomeData, Listed
from services.scheduling.rules import PostAtProblem

NOW = datetime(2026, 12, 2, 9, 30, 15, tzinfo=UTC)
DATE_TOKEN = re.compile(r"<!date\^(\d+)\^\{date_short_pretty\} at \{time\}\|([^<>|]+)>")
HOSTILE = "<!channel> <@U1> <https://evil.example|bank login> & more"


def post(**changes: Any) -> Post:
    """A pending X post; `changes` override its values."""
    values: dict[str, Any] = {
        "id": "post-1",
        "status": PostStatus.PENDING,
        "platform": "x",
        "message": "Hello world",
        "requester": "U1",
        "brief": "Say hello",
        "version": 3,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    values.update(changes)
    return Post.model_validate(values)


def buttons(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """Each button's text -> (action_id, value)."""
    return {
        element["text"]["text"]: (element["action_id"], element["value"])
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    }


def texts(blocks: list[dict[str, Any]]) -> str:
    """Every mrkdwn text of the blocks, one per line."""
    found = []
    for block in blocks:
        if block["type"] == "section":
            found.append(block["text"]["text"])
        if block["type"] == "context":
            found += [element["text"] for element in block["elements"]]
    return "\n".join(found)


def without_date_tokens(text: str) -> str:
    return DATE_TOKEN.sub("", text)


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7)), timezone(timedelta(0))]),
    )
)
def test_a_date_token_carries_the_moment_and_a_utc_fallback(moment: datetime) -> None:
    """Any aware moment becomes Slack's date token: its epoch second and the UTC fallback."""
    token = slack_date(moment)
    found = DATE_TOKEN.fullmatch(token)
    assert found is not None
    assert int(found.group(1)) == int(moment.timestamp())
    shown = datetime.strptime(found.group(2), "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
    assert timedelta(0) <= moment - shown < timedelta(minutes=1)


def test_a_naive_time_is_refused() -> None:
    """A time without a zone can't be shown: its hour would be a guess."""
    with pytest.raises(ValueError, match="aware"):
        slack_date(datetime(2026, 12, 2, 9, 30))


def test_the_schedule_modal_has_one_post_at_picker() -> None:
    """Schedule… opens a modal with one required datetimepicker labelled "Post at", starting
    at a time ahead, and remembers the card and version it was opened on."""
    view = schedule_modal(post(), channel="C1", message_ts="1.2", now=NOW)
    assert view["callback_id"] == ids.SCHEDULE_VIEW
    [block] = view["blocks"]
    assert block["type"] == "input" and block["label"]["text"] == "Post at"
    assert block["optional"] is False
    element = block["element"]
    assert element["type"] == "datetimepicker" and element["action_id"] == ids.POST_AT
    assert element["initial_date_time"] > NOW.timestamp()
    metadata = json.loads(view["private_metadata"])
    assert metadata == {"post_id": "post-1", "version": 3, "channel": "C1", "message_ts": "1.2"}


def test_the_schedule_modal_starts_at_the_requested_time_while_ahead() -> None:
    """A requester's "Post at" still ahead is where the picker starts; a past one is not."""
    ahead = NOW + timedelta(days=2)
    view = schedule_modal(post(requested_for=ahead), channel=None, message_ts=None, now=NOW)
    assert view["blocks"][0]["element"]["initial_date_time"] == int(ahead.timestamp())
    past = NOW - timedelta(hours=1)
    view = schedule_modal(post(requested_for=past), channel=None, message_ts=None, now=NOW)
    assert view["blocks"][0]["element"]["initial_date_time"] > NOW.timestamp()


@given(st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)))
def test_the_suggested_time_is_a_whole_hour_at_least_ten_minutes_ahead(now: datetime) -> None:
    """Whatever the time, the picker starts on a whole hour, 10 to 70 minutes ahead."""
    if now > datetime(9999, 12, 31, 20, tzinfo=UTC):
        return
    suggested = suggested_time(now)
    assert suggested.minute == suggested.second == suggested.microsecond == 0
    assert timedelta(minutes=10) <= suggested - now <= timedelta(minutes=70)


def test_the_new_post_modal_has_an_optional_post_at() -> None:
    """The new-post form ends with an optional "Post at" datetimepicker."""
    view = new_post_modal(platforms=["x"])
    block = next(b for b in view["blocks"] if b.get("block_id") == ids.POST_AT)
    assert block["optional"] is True and block["label"]["text"] == "Post at"
    assert block["element"]["type"] == "datetimepicker"
    assert "initial_date_time" not in block["element"]


def test_a_submitted_time_reads_back_as_aware_utc() -> None:
    """The picker's epoch seconds read back as the same moment in UTC; no choice is None."""
    chosen = {"type": "datetimepicker", "selected_date_time": 1796203800}
    state = {ids.POST_AT: {ids.POST_AT: chosen}}
    assert datetime_value(state, ids.POST_AT) == datetime.fromtimestamp(1796203800, UTC)
    empty = {ids.POST_AT: {ids.POST_AT: {"type": "datetimepicker", "selected_date_time": None}}}
    assert datetime_value(empty, ids.POST_AT) is None
    assert datetime_value({}, ids.POST_AT) is None
    absurd = {ids.POST_AT: {ids.POST_AT: {"selected_date_time": 10**20}}}
    assert datetime_value(absurd, ids.POST_AT) is None


def test_every_post_at_problem_has_words() -> None:
    """Each refused time is explained in the field with the bot's own sentence."""
    assert messages.post_at_problem(PostAtProblem.PAST) == messages.POST_AT_PAST
    assert messages.post_at_problem(PostAtProblem.TOO_FAR) == messages.POST_AT_TOO_FAR
    assert messages.post_at_problem(PostAtProblem.MISSING) == messages.POST_AT_MISSING


def test_requested_for_is_a_date_token() -> None:
    """A requested time reads "Requested for <time>", the time as a date token."""
    line = requested_line(NOW)
    assert line.startswith(":calendar: Requested for <!date^")
    assert DATE_TOKEN.search(line)


def test_a_scheduled_card_names_its_time_and_approver_with_post_now_and_unschedule() -> None:
    """ "Scheduled for <time> by @approver" with Post now and Unschedule for the post."""
    blocks = scheduled_blocks("post-1", NOW, "U2")
    shown = texts(blocks)
    assert "*Scheduled for <!date^" in shown and "* by <@U2>" in shown
    assert buttons(blocks) == {
        "Post now": (ids.POST_NOW, "post-1"),
        "Unschedule": (ids.UNSCHEDULE, "post-1"),
    }


def test_a_retrying_card_says_why_and_when_with_retry_now_and_discard() -> None:
    """ "Retrying: X <reason in plain words>. Next try <time>." with Retry now and Discard."""
    blocks = retrying_blocks("post-1", "x", "platform down", "HTTP 503", NOW)
    line = without_date_tokens(texts(blocks))
    assert line == ":repeat: Retrying: X is not answering (HTTP 503). Next try ."
    assert buttons(blocks) == {
        "Retry now": (ids.RETRY_NOW, "post-1"),
        "Discard": (ids.DISCARD, "post-1"),
    }


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("rate limit", "is rate limiting us"),
        ("cooldown", "failed several times in a row; socialpost is giving it a rest"),
        ("something new", "failed"),
    ],
)
def test_retry_reasons_are_plain_words(reason: str, words: str) -> None:
    """Each reason to wait reads as a sentence about the platform; an unknown one as failed."""
    line = without_date_tokens(retrying_line("linkedin", reason, None, NOW))
    assert line == f"Retrying: LinkedIn {words}. Next try ."


def test_a_platforms_words_in_a_retry_reason_are_escaped() -> None:
    """A platform's error text can't mention, link or ping from the card."""
    line = retrying_line("x", "platform down", HOSTILE, NOW)
    assert "<!channel>" not in line and "<@U1>" not in line and "<https://" not in line
    assert "&lt;!channel&gt;" in line


def test_a_missed_card_offers_retry_and_discard() -> None:
    """A post that missed its time says so, that nothing was published, with Retry/Discard."""
    blocks = missed_blocks("post-1", NOW)
    shown = without_date_tokens(texts(blocks))
    assert shown.startswith(":warning: Missed its time: it was scheduled for ,")
    assert "Nothing was published." in shown
    assert buttons(blocks) == {
        "Retry": (ids.RETRY, "post-1"),
        "Discard": (ids.DISCARD, "post-1"),
    }


def test_a_late_post_says_it_went_out_late() -> None:
    """A post published after its time says so, with both times."""
    block = late_note(NOW, NOW + timedelta(minutes=20))
    line = texts([block])
    assert "Went out late" in line and len(DATE_TOKEN.findall(line)) == 2


def test_an_expired_card_says_nothing_was_published_and_offers_revive() -> None:
    """The expired card has SPEC's sentence and one button, Revive."""
    blocks = expired_blocks("post-1")
    assert "Expired: nobody approved it in time. Nothing was published." in texts(blocks)
    assert buttons(blocks) == {"Revive": (ids.REVIVE, "post-1")}


def test_the_private_answers_have_specs_words() -> None:
    """An old button on an expired post is answered with SPEC's exact sentence."""
    assert messages.EXPIRED == "The post has expired."
    assert messages.EXPIRED_CARD == "Expired: nobody approved it in time. Nothing was published."


def card(**changes: Any) -> tuple[str, list[dict[str, Any]]]:
    """The approval card of a post with `changes`."""
    return approval_card(post(**changes), dry_run=False)


def test_a_pending_card_offers_schedule_beside_approve_for_the_version_shown() -> None:
    """Schedule… sits right after Approve & post and carries the version, like Approve."""
    _, blocks = card()
    shown = buttons(blocks)
    assert shown["Schedule…"] == (ids.SCHEDULE, "post-1:v3")
    assert list(shown)[:2] == ["Approve & post", "Schedule…"]


def test_a_pending_card_says_the_requested_time() -> None:
    """A requester's "Post at" shows as "Requested for <time>" on the pending card."""
    _, blocks = card(requested_for=NOW)
    assert "Requested for <!date^" in texts(blocks)
    _, plain_card = card()
    assert "Requested for" not in texts(plain_card)


def test_the_scheduled_card_replaces_the_decision_buttons() -> None:
    """A scheduled post shows its time and approver, and only Post now and Unschedule."""
    text, blocks = card(status=PostStatus.SCHEDULED, scheduled_for=NOW, approved_by="U2")
    assert text.startswith("Scheduled for <!date^")
    assert set(buttons(blocks)) == {"Post now", "Unschedule"}


def test_an_approved_post_waiting_for_a_retry_never_says_publishing() -> None:
    """With a next try set, the card and its text say Retrying, not Publishing..."""
    text, blocks = card(
        status=PostStatus.APPROVED,
        approved_by="U2",
        retry_reason="platform down: HTTP 503",
        next_try_at=NOW,
    )
    assert "Publishing" not in text and "Publishing" not in texts(blocks)
    assert without_date_tokens(text) == "Retrying: X is not answering (HTTP 503). Next try ."
    assert set(buttons(blocks)) == {"Retry now", "Discard"}
    publishing, blocks = card(status=PostStatus.APPROVED, approved_by="U2")
    assert "Publishing" in publishing and not buttons(blocks)


def test_a_post_that_went_out_late_says_so_and_one_on_time_does_not() -> None:
    """Posted a minute after its time: the late note; posted within seconds: none."""
    _, late = card(
        status=PostStatus.POSTED,
        approved_by="U2",
        scheduled_for=NOW,
        posted_at=NOW + timedelta(minutes=1),
    )
    assert "Went out late" in texts(late)
    _, on_time = card(
        status=PostStatus.POSTED,
        approved_by="U2",
        scheduled_for=NOW,
        posted_at=NOW + timedelta(seconds=2),
    )
    assert "Went out late" not in texts(on_time)


def test_missed_and_expired_cards_say_nothing_was_published() -> None:
    """Missed: Retry and Discard; expired: SPEC's sentence and Revive only."""
    text, blocks = card(status=PostStatus.MISSED, scheduled_for=NOW)
    assert "Missed its time" in text and set(buttons(blocks)) == {"Retry", "Discard"}
    text, blocks = card(status=PostStatus.EXPIRED)
    assert text.startswith(messages.EXPIRED_CARD)
    assert set(buttons(blocks)) == {"Revive"}


def test_app_home_lists_scheduled_posts_soonest_first_with_their_buttons() -> None:
    """The Home tab's Scheduled section keeps the order it is given (soonest first), shows
    each time as a date token, and offers the buttons the viewer may use."""
    soon = post(id="soon", status=PostStatus.SCHEDULED, scheduled_for=NOW)
    later = post(id="later", status=PostStatus.SCHEDULED, scheduled_for=NOW + timedelta(days=1))
    data = HomeData(
        viewer="U2",
        pending=[],
        failed=[],
        dead_jobs=[],
        posted=[],
        pending_total=0,
        failed_total=0,
        dead_jobs_total=0,
        scheduled=[
            Listed(soon, frozenset({Action.POST_NOW, Action.UNSCHEDULE})),
            Listed(later, frozenset()),
        ],
        scheduled_total=2,
    )
    blocks = home_view(data)["blocks"]
    headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
    assert "Scheduled (2)" in headers
    ids_in_order = [b.get("block_id") for b in blocks if b.get("block_id", "").startswith("sched")]
    assert ids_in_order == ["scheduled_soon", "scheduled_actions_soon", "scheduled_later"]
    shown = texts(blocks)
    assert shown.index(f"<!date^{int(NOW.timestamp())}^") < shown.index(
        f"<!date^{int((NOW + timedelta(days=1)).timestamp())}^"
    )
    assert set(buttons(blocks)) == {"Post now", "Unschedule"}


def test_status_lists_scheduled_posts_with_their_times() -> None:
    """`/socialpost status` has a Scheduled section with each post's time."""
    text, blocks = status_blocks(
        [], [], scheduled=[post(status=PostStatus.SCHEDULED, scheduled_for=NOW)]
    )
    assert "1 scheduled" in text
    assert "*Scheduled (1)*" in texts(blocks) and "<!date^" in texts(blocks)
