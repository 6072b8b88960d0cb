"""Who the approvers are, and when a post has collected enough approvals (SPEC section 7.5).

Approvers: `SOCIALPOST_APPROVERS` lists Slack user IDs and user groups. An entry starting with
`S` is a user group; its members are looked up in Slack by the handlers layer
(`handlers.approver_groups`), which hands them here through the `GroupMembers` protocol, so
this module knows no Slack client. An empty list means anyone who can see the card approves
(warned about at start-up). A list that names groups is never empty in that sense: while a
group's members are unknown (Slack has not answered yet), nobody approves through it, and when
Slack stops answering the last members it gave stay in force.

Approvals: `SOCIALPOST_REQUIRED_APPROVALS` distinct approvers must approve the version a post
is at before it is published (or scheduled). An approval belongs to one version: an Edit or a
Regenerate makes a new version, and the approvals of the old one no longer count (the card
says they were cleared). The same person approving twice counts once. Whoever wrote the
current version (the requester or its last editor) never counts unless self-approval is
allowed.

A Schedule… counts as an approval carrying its time: while more approvals are needed the time
waits with it, and the last approval needed, even a plain Approve & post, schedules the post
for the latest time the counted approvals chose (`carried_time`). An Edit or a Regenerate
clears the time with the approvals.

Everything here is pure: the storage of approvals and the race between two final clicks are
the decisions service's and storage's business.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from storage.models import Approval

GROUP_PREFIX = "S"


def is_group(entry: str) -> bool:
    """Whether an approvers entry names a Slack user group (`S...`) rather than a user."""
    return entry.startswith(GROUP_PREFIX)


@dataclass(frozen=True)
class ApproverEntries:
    """SOCIALPOST_APPROVERS split into user IDs and user-group IDs, in the order given."""

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> ApproverEntries:
        """The entries, each once: `S...` are groups, the rest users."""
        users: list[str] = []
        groups: list[str] = []
        for entry in entries:
            bucket = groups if is_group(entry) else users
            if entry not in bucket:
                bucket.append(entry)
        return cls(tuple(users), tuple(groups))

    @property
    def everyone(self) -> bool:
        """Whether no approver is configured at all: anyone who sees the card approves."""
        return not self.users and not self.groups


class GroupMembers(Protocol):
    """The last known members of Slack user groups (the handlers layer keeps them fresh)."""

    def members_of(self, group_id: str) -> frozenset[str] | None:
        """The group's members as last known, or None while Slack has never answered."""
        ...


class NoGroups:
    """Group members for a configuration without groups: none are known."""

    def members_of(self, group_id: str) -> frozenset[str] | None:
        """Always unknown."""
        return None


@dataclass(frozen=True)
class Approvers:
    """The answer to "may this person approve?", with groups resolved through `members`.

    The members are asked on every question, so a refresh in the background is seen by the
    next click without rebuilding anything.
    """

    entries: ApproverEntries
    members: GroupMembers

    @classmethod
    def of(cls, entries: Iterable[str], members: GroupMembers | None = None) -> Approvers:
        """The approvers named by SOCIALPOST_APPROVERS' entries."""
        return cls(ApproverEntries.parse(entries), members or NoGroups())

    @property
    def everyone(self) -> bool:
        """Whether anyone who sees the card approves (nothing configured)."""
        return self.entries.everyone

    def is_approver(self, user_id: str) -> bool:
        """Whether the user approves: named directly, or a last known member of a group."""
        if self.everyone:
            return True
        if user_id in self.entries.users:
            return True
        for group in self.entries.groups:
            known = self.members.members_of(group)
            if known is not None and user_id in known:
                return True
        return False

    def known(self) -> frozenset[str]:
        """Every user known to approve now (named, or a known group member); empty for
        `everyone`, which names nobody."""
        found = set(self.entries.users)
        for group in self.entries.groups:
            found |= self.members.members_of(group) or frozenset()
        return frozenset(found)

    def unresolved_groups(self) -> tuple[str, ...]:
        """The groups whose members Slack has never given (nobody approves through them)."""
        return tuple(g for g in self.entries.groups if self.members.members_of(g) is None)


@dataclass(frozen=True)
class Tally:
    """The distinct people whose approval of one version counts, in the order they approved,
    against how many are needed."""

    approvers: tuple[str, ...]
    required: int

    @property
    def count(self) -> int:
        """How many approvals count."""
        return len(self.approvers)

    @property
    def complete(self) -> bool:
        """Whether enough people approved for the post to move on."""
        return self.count >= self.required

    @property
    def progress(self) -> str:
        """`1 of 2`."""
        return f"{self.count} of {self.required}"

    @property
    def missing(self) -> int:
        """How many more approvals are needed (0 once complete)."""
        return max(0, self.required - self.count)


class Step(StrEnum):
    """What one more approval click does."""

    RECORDED = "recorded"  # counted; the post still waits for more
    COMPLETE = "complete"  # counted, and it was the last one needed: the post moves on
    ALREADY_APPROVED = "already_approved"  # this person's approval is already counted
    OWN_POST = "own_post"  # whoever wrote this version doesn't count


@dataclass(frozen=True)
class ApprovalRule:
    """SOCIALPOST_REQUIRED_APPROVALS and SOCIALPOST_ALLOW_SELF_APPROVAL, applied."""

    required: int = 1
    allow_self_approval: bool = False

    def __post_init__(self) -> None:
        if self.required < 1:
            raise ValueError("at least one approval is required")

    def counts(self, approver: str, writers: Collection[str | None]) -> bool:
        """Whether `approver`'s approval counts for a version written by `writers` (the
        requester and the last editor)."""
        return self.allow_self_approval or approver not in writers

    def tally(
        self,
        approvals: Iterable[str],
        writers: Collection[str | None] = (),
        eligible: Callable[[str], bool] | None = None,
    ) -> Tally:
        """The approvals of one version that count: each person once, first approval first,
        the writers left out unless self-approval is allowed, and (with `eligible`) only
        people who are approvers now (someone who left the approver group no longer counts)."""
        counted: list[str] = []
        for approver in approvals:
            if approver in counted or not self.counts(approver, writers):
                continue
            if eligible is None or eligible(approver):
                counted.append(approver)
        return Tally(tuple(counted), self.required)

    def step(
        self,
        approvals: Iterable[str],
        approver: str,
        writers: Collection[str | None] = (),
        eligible: Callable[[str], bool] | None = None,
    ) -> tuple[Step, Tally]:
        """What `approver` approving does, given the approvals already recorded for the same
        version, and the tally after it."""
        before = self.tally(approvals, writers, eligible)
        if not self.counts(approver, writers):
            return Step.OWN_POST, before
        if approver in before.approvers:
            return Step.ALREADY_APPROVED, before
        after = Tally((*before.approvers, approver), self.required)
        return (Step.COMPLETE if after.complete else Step.RECORDED), after


@dataclass(frozen=True)
class CarriedTime:
    """The time a Schedule… approval chose, and who chose it."""

    at: datetime
    by: str


def carried_time(
    approvals: Iterable[Approval], version: int, counted: Collection[str]
) -> CarriedTime | None:
    """The time the standing approvals of `version` carry: the one chosen by the latest
    Schedule… among the approvals that count (`counted`, a tally's approvers); None when none
    of them chose a time."""
    found: CarriedTime | None = None
    for approval in approvals:  # oldest first: a later Schedule… wins
        standing = approval.version == version and approval.cleared_at is None
        if standing and approval.post_at is not None and approval.approver in counted:
            found = CarriedTime(approval.post_at, approval.approver)
    return found


@dataclass(frozen=True)
class ApprovalState:
    """What the card says about approvals: the tally of the current version, the time its
    approvals carry (a Schedule… before the last approval), and who had approved the version
    before it (cleared when the draft changed)."""

    tally: Tally
    cleared: tuple[str, ...] = ()
    carried: CarriedTime | None = None

    @property
    def shown(self) -> bool:
        """Whether the card has anything to say (nothing with one approval needed and none
        collected, which is how the card looked before several approvals existed)."""
        return bool(self.tally.approvers or self.cleared)


def approval_state(
    rule: ApprovalRule,
    approvals: Iterable[Approval],
    version: int,
    writers: Collection[str | None] = (),
    eligible: Callable[[str], bool] | None = None,
) -> ApprovalState:
    """The card's approvals for a post at `version`, from every approval recorded for it.

    Only the standing approvals of `version` count. Until someone approves it, the card
    shows whose approvals the latest change (an Edit, a Regenerate) cleared; with a single
    approval needed nothing is ever cleared (that approval moved the post on).
    """
    records = list(approvals)
    standing = [a.approver for a in records if a.version == version and a.cleared_at is None]
    tally = rule.tally(standing, writers, eligible)
    cleared: tuple[str, ...] = ()
    stamps = [a.cleared_at for a in records if a.cleared_at is not None]
    if not tally.approvers and stamps:
        latest = max(stamps)
        cleared = tuple(dict.fromkeys(a.approver for a in records if a.cleared_at == latest))
    return ApprovalState(tally, cleared, carried_time(records, version, tally.approvers))
