"""The card's approval lines: "Approved by @a (1 of 2)", the time a Schedule… approval chose,
and approvals cleared by a change; and the same lines beside a pending post in App Home."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from handlers import ids
from handlers.blocks.approvals import (
    approval_lines,
    approvals_cleared,
    approved_for,
    approved_so_far,
)
from handlers.blocks.card import approval_card
from handlers.blocks.home import home_view
from services.approvals import ApprovalState, CarriedTime, Tally
from services.lifecycle import Action
from services.models import PostStatus
from services.overview import HomeData, Listed
from tests.unit.handlers.blocks.test_blocks import post

USER_IDS = st.lists(st.from_regex(r"U[A-Z0-9]{2,10}", fullmatch=True), unique=True, max_size=6)


def test_approved_so_far_names_the_approvers_and_the_count() -> None:
    """One approval of two reads exactly as SPEC words it."""
    assert approved_so_far(Tally(("U0ANN",), 2)) == "Approved by <@U0ANN> (1 of 2)"
    assert (
        approved_so_far(Tally(("U0ANN", "U0BOB"), 3)) == "Approved by <@U0ANN>, <@U0BOB> (2 of 3)"
    )
    assert approved_so_far(Tally((), 2)) is None


def test_cleared_approvals_are_said() -> None:
    """After an edit or a regeneration the card says whose approvals were cleared and that
    the new version starts again."""
    line = approvals_cleared(ApprovalState(Tally((), 2), ("U0ANN",)))
    assert line == (
        "Approvals cleared: the draft changed after <@U0ANN> approved it, "
        "so this version starts again (0 of 2)."
    )
    assert approvals_cleared(ApprovalState(Tally((), 2))) is None


def test_nothing_is_said_with_nothing_collected() -> None:
    """With no approvals and none cleared (the default single approval), the card has no
    approval line, as before several approvals existed."""
    assert approval_lines(ApprovalState(Tally((), 1))) == []


def test_an_id_that_is_not_a_user_is_not_markup() -> None:
    """A stored approver that isn't a Slack user ID is shown as text, never as a mention."""
    line = approved_so_far(Tally(("<!channel>",), 2))
    assert line is not None and "<!channel>" not in line and "&lt;!channel&gt;" in line


@given(approvers=USER_IDS, cleared=USER_IDS, required=st.integers(1, 20))
def test_every_approver_is_mentioned_once(
    approvers: list[str], cleared: list[str], required: int
) -> None:
    """Property: the lines mention each approver of the current version once, with the count
    against the required number, and each cleared approver once in the cleared line."""
    state = ApprovalState(Tally(tuple(approvers), required), tuple(cleared))
    lines = approval_lines(state)
    assert len(lines) == bool(approvers) + bool(cleared)
    text = "\n".join(lines)
    for user in {*approvers, *cleared}:
        assert text.count(f"<@{user}>") == (user in approvers) + (user in cleared)
    if approvers:
        assert re.search(rf"\({len(approvers)} of {required}\)$", lines[-1])


def _card_text(blocks: list[dict[str, object]]) -> str:
    return json.dumps(blocks)


def test_a_pending_card_shows_the_approvals_and_keeps_its_buttons() -> None:
    """A pending card with one approval of two says so above its buttons, which stay."""
    state = ApprovalState(Tally(("U0ANN",), 2))
    _text, blocks = approval_card(post(), dry_run=False, approvals=state)
    assert "Approved by <@U0ANN> (1 of 2)" in _card_text(blocks)
    assert blocks[-1]["type"] == "actions"
    assert any(e["action_id"] == ids.APPROVE for e in blocks[-1]["elements"])  # type: ignore[index]
    _text, plain = approval_card(post(), dry_run=False)
    assert "Approved by" not in _card_text(plain)


def test_a_decided_card_shows_no_approval_count() -> None:
    """Once published or rejected, the card says who decided, not a count."""
    state = ApprovalState(Tally(("U0ANN", "U0BOB"), 2))
    for status in (PostStatus.APPROVED, PostStatus.POSTED, PostStatus.REJECTED):
        _text, blocks = approval_card(
            post(status=status, approved_by="U0BOB", rejected_by="U0BOB"),
            dry_run=False,
            approvals=state,
        )
        assert "(2 of 2)" not in _card_text(blocks)


AT = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def test_a_schedule_before_the_last_approval_says_its_time() -> None:
    """A Schedule… that wasn't the last approval needed: the card says who chose which time
    and that the last approval schedules the post then."""
    line = approved_for(CarriedTime(AT, "U0ANN"))
    assert line is not None
    assert line.startswith("<@U0ANN> approved it for <!date^")
    assert line.endswith(": the last approval schedules it then.")
    assert approved_for(None) is None
    state = ApprovalState(Tally(("U0ANN",), 2), carried=CarriedTime(AT, "U0ANN"))
    _text, blocks = approval_card(post(), dry_run=False, approvals=state)
    shown = _card_text(blocks)
    assert "Approved by <@U0ANN> (1 of 2)" in shown
    assert f"<!date^{int(AT.timestamp())}^" in shown


def _home(listed: Listed) -> str:
    data = HomeData(
        viewer="U0BOB",
        pending=[listed],
        failed=[],
        dead_jobs=[],
        posted=[],
        pending_total=1,
        failed_total=0,
        dead_jobs_total=0,
    )
    return json.dumps(home_view(data)["blocks"])


def test_app_home_shows_the_approvals_collected_beside_a_pending_post() -> None:
    """App Home lists a pending post with "Approved by @a (1 of 2)" (and a Schedule…'s
    time), keeping its buttons; without approvals to tell, the post's line stands alone."""
    actions = frozenset({Action.APPROVE, Action.REJECT})
    state = ApprovalState(Tally(("U0ANN",), 2), carried=CarriedTime(AT, "U0ANN"))
    shown = _home(Listed(post(), actions, state))
    assert "Approved by <@U0ANN> (1 of 2)" in shown
    assert "the last approval schedules it then" in shown
    assert "Approve & post" in shown and "Reject" in shown
    plain = _home(Listed(post(), actions))
    assert "Approved by" not in plain
    assert "Approved by" not in _home(Listed(post(), actions, ApprovalState(Tally((), 2))))
