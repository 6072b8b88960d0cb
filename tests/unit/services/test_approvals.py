"""Approvers (users and groups) and the rule of collected approvals, without mocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.approvals import (
    ApprovalRule,
    ApprovalState,
    ApproverEntries,
    Approvers,
    CarriedTime,
    Step,
    Tally,
    approval_state,
    carried_time,
    is_group,
)
from storage.models import Approval

T0 = datetime(2026, 1, 1, tzinfo=UTC)

USERS = st.sampled_from(["U1", "U2", "U3", "U4", "W5", "U6"])
GROUPS = st.sampled_from(["S1", "S2", "S3"])


@dataclass
class Directory:
    """Group members as a Slack resolver would hold them (None: never answered)."""

    known: dict[str, frozenset[str] | None] = field(default_factory=dict)

    def members_of(self, group_id: str) -> frozenset[str] | None:
        """The members last known for the group."""
        return self.known.get(group_id)


def test_entries_starting_with_s_are_groups() -> None:
    """SOCIALPOST_APPROVERS entries starting with S are user groups, the rest user IDs,
    each kept once in the order given."""
    entries = ApproverEntries.parse(["U1", "S1", "W2", "U1", "S1", "S2"])
    assert entries == ApproverEntries(users=("U1", "W2"), groups=("S1", "S2"))
    assert is_group("S0ABC") and not is_group("U0ABC")
    assert ApproverEntries.parse([]).everyone
    assert not ApproverEntries.parse(["S1"]).everyone


def test_no_approvers_means_everyone() -> None:
    """With nothing configured anyone who sees the card approves (as before groups)."""
    approvers = Approvers.of([])
    assert approvers.everyone
    assert approvers.is_approver("U9")


def test_group_members_approve_once_known() -> None:
    """A member of an approver group approves once Slack gave the members; others don't."""
    directory = Directory({"S1": frozenset({"U2", "U3"})})
    approvers = Approvers.of(["U1", "S1"], directory)
    assert [approvers.is_approver(u) for u in ("U1", "U2", "U3", "U4")] == [
        True,
        True,
        True,
        False,
    ]
    assert approvers.known() == {"U1", "U2", "U3"}


def test_a_group_never_resolved_lets_nobody_in() -> None:
    """While Slack never answered for a group, nobody approves through it: a configuration
    of groups only is never read as 'everyone may approve'."""
    approvers = Approvers.of(["S1"], Directory())
    assert not approvers.everyone
    assert not approvers.is_approver("U1")
    assert approvers.unresolved_groups() == ("S1",)
    assert approvers.known() == frozenset()


def test_membership_is_asked_on_every_question() -> None:
    """A refresh of the group is seen by the next question, without rebuilding anything."""
    directory = Directory({"S1": frozenset({"U2"})})
    approvers = Approvers.of(["S1"], directory)
    assert approvers.is_approver("U2")
    directory.known["S1"] = frozenset({"U3"})
    assert not approvers.is_approver("U2")
    assert approvers.is_approver("U3")


@given(
    users=st.lists(USERS, max_size=4),
    groups=st.lists(GROUPS, max_size=3),
    known=st.dictionaries(GROUPS, st.none() | st.frozensets(USERS, max_size=4)),
    who=USERS,
)
def test_is_approver_is_named_or_known_member(
    users: list[str],
    groups: list[str],
    known: dict[str, frozenset[str] | None],
    who: str,
) -> None:
    """Property: a person approves exactly when nothing is configured, they are named, or
    they are a last known member of a configured group."""
    approvers = Approvers.of([*users, *groups], Directory(dict(known)))
    member = any(who in (known.get(group) or ()) for group in groups)
    expected = (not users and not groups) or who in users or member
    assert approvers.is_approver(who) == expected
    if users or groups:
        assert approvers.is_approver(who) == (who in approvers.known())


def test_required_approvals_must_be_positive() -> None:
    """A rule needing no approval at all can't be built."""
    with pytest.raises(ValueError, match="at least one"):
        ApprovalRule(required=0)


def test_distinct_approvers_are_counted_in_order() -> None:
    """The tally counts each approver once, first approval first."""
    tally = ApprovalRule(required=3).tally(["U1", "U2", "U1", "U3", "U2"])
    assert tally == Tally(("U1", "U2", "U3"), 3)
    assert tally.complete and tally.missing == 0


def test_writers_never_count_unless_self_approval() -> None:
    """The requester and the last editor don't count, unless self-approval is allowed."""
    writers = ("U1", "U2")
    assert ApprovalRule(2).tally(["U1", "U2", "U3"], writers).approvers == ("U3",)
    allowed = ApprovalRule(2, allow_self_approval=True)
    assert allowed.tally(["U1", "U2", "U3"], writers).approvers == ("U1", "U2", "U3")
    assert ApprovalRule(2).step([], "U1", writers)[0] == Step.OWN_POST


def test_only_current_approvers_count() -> None:
    """An approval by someone who is no longer an approver (left the group) doesn't count."""
    rule = ApprovalRule(required=2)
    still = {"U2", "U3"}.__contains__
    assert rule.tally(["U1", "U2"], eligible=still).approvers == ("U2",)
    assert rule.step(["U1", "U2"], "U3", eligible=still)[0] == Step.COMPLETE
    assert rule.step(["U1"], "U2", eligible=still)[0] == Step.RECORDED


def test_steps_to_two_approvals() -> None:
    """First approval is recorded (1 of 2), the same approver again changes nothing, a
    second approver completes it."""
    rule = ApprovalRule(required=2)
    step, tally = rule.step([], "U1", ["U9"])
    assert (step, tally) == (Step.RECORDED, Tally(("U1",), 2))
    step, tally = rule.step(["U1"], "U1", ["U9"])
    assert (step, tally) == (Step.ALREADY_APPROVED, Tally(("U1",), 2))
    step, tally = rule.step(["U1"], "U2", ["U9"])
    assert (step, tally) == (Step.COMPLETE, Tally(("U1", "U2"), 2))


def test_one_approval_completes_at_once() -> None:
    """With the default of one approval the first click completes it (the old behaviour)."""
    assert ApprovalRule().step([], "U1")[0] == Step.COMPLETE


@given(
    required=st.integers(1, 5),
    clicks=st.lists(USERS, max_size=20),
    writers=st.lists(USERS, max_size=2),
    allow_self=st.booleans(),
)
def test_clicks_complete_exactly_when_enough_distinct_approvers(
    required: int, clicks: list[str], writers: list[str], allow_self: bool
) -> None:
    """Property: replaying clicks one by one (each on what was recorded before it), the post
    completes once, on the click that brings the distinct eligible approvers to the count;
    repeats are refused as already approved and writers as their own post."""
    rule = ApprovalRule(required, allow_self_approval=allow_self)
    recorded: list[str] = []
    completions = 0
    for who in clicks:
        if completions:
            break  # the post moved on: no more approve clicks reach a pending post
        step, tally = rule.step(recorded, who, writers)
        if step == Step.OWN_POST:
            assert who in writers and not allow_self
            continue
        if step == Step.ALREADY_APPROVED:
            assert who in recorded
            continue
        recorded.append(who)
        assert tally.approvers == tuple(recorded)
        completions += step == Step.COMPLETE
        assert (step == Step.COMPLETE) == (len(recorded) == required)
    eligible = [w for w in dict.fromkeys(clicks) if allow_self or w not in writers]
    assert completions == (1 if len(eligible) >= required else 0)
    assert len(recorded) == min(required, len(eligible))


def _approval(version: int, approver: str, cleared: int | None = None) -> Approval:
    return Approval(
        post_id="p1",
        version=version,
        approver=approver,
        approved_at=T0,
        cleared_at=None if cleared is None else T0 + timedelta(seconds=cleared),
    )


def test_card_state_shows_the_approvals_the_last_change_cleared() -> None:
    """After an edit, the approvals it cleared are shown as cleared until someone approves
    the new version; cleared approvals never count."""
    rule = ApprovalRule(required=2)
    history = [_approval(1, "U1", cleared=1), _approval(2, "U2", cleared=2), _approval(2, "U3", 2)]
    assert approval_state(rule, history, 3) == ApprovalState(Tally((), 2), ("U2", "U3"))
    now = [*history, _approval(3, "U4")]
    assert approval_state(rule, now, 3) == ApprovalState(Tally(("U4",), 2))
    assert approval_state(rule, [_approval(1, "U1")], 1) == ApprovalState(Tally(("U1",), 2))
    assert not approval_state(rule, [], 1).shown


def test_a_regeneration_that_failed_keeps_its_approvals_cleared() -> None:
    """A regeneration that failed brings the same version back: what it cleared stays
    cleared (an approval is for text nobody changed since)."""
    rule = ApprovalRule(required=2)
    state = approval_state(rule, [_approval(1, "U1", cleared=1)], 1)
    assert state == ApprovalState(Tally((), 2), ("U1",))


@given(
    approvals=st.lists(
        st.tuples(st.integers(1, 4), USERS, st.none() | st.integers(0, 3)), max_size=8
    ),
    version=st.integers(1, 4),
    required=st.integers(1, 4),
)
def test_only_standing_approvals_of_the_version_count(
    approvals: list[tuple[int, str, int | None]], version: int, required: int
) -> None:
    """Property: the tally is made of the version's standing approvals only, each person
    once; the cleared list only of cleared ones, shown only while nothing stands."""
    records = [_approval(v, who, cleared) for v, who, cleared in approvals]
    state = approval_state(ApprovalRule(required), records, version)
    standing = {who for v, who, cleared in approvals if v == version and cleared is None}
    assert set(state.tally.approvers) == standing
    assert len(state.tally.approvers) == len(standing)
    assert set(state.cleared) <= {who for _, who, cleared in approvals if cleared is not None}
    assert not (state.cleared and state.tally.approvers)


def test_the_time_carried_is_the_latest_schedule_among_the_approvals_that_count() -> None:
    """Only standing approvals of the version that count carry a time; a later Schedule…
    wins over an earlier one; none carries nothing."""
    at1, at2 = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    history = [
        _approval(1, "U1").model_copy(update={"post_at": at2}),  # an older version
        _approval(2, "U2").model_copy(update={"post_at": at1}),
        _approval(2, "U3"),
        _approval(2, "U4").model_copy(update={"post_at": at2}),
        _approval(2, "U5", cleared=1).model_copy(update={"post_at": at1}),
    ]
    assert carried_time(history, 2, {"U2", "U3", "U4"}) == CarriedTime(at2, "U4")
    assert carried_time(history, 2, {"U2", "U3"}) == CarriedTime(at1, "U2")
    assert carried_time(history, 2, {"U3"}) is None
    assert carried_time(history, 3, {"U1", "U2", "U3", "U4"}) is None
    state = approval_state(ApprovalRule(required=3), history, 2)
    assert state.carried == CarriedTime(at2, "U4")
