"""What a pending card says about the approvals collected so far (SPEC section 7.5).

"Approved by @a (1 of 2)" while more approvals are needed (the card keeps its buttons), the
time an approver's Schedule… chose (the last approval schedules the post then), and, after an
Edit or a Regenerate, that the approvals of the previous version were cleared. With one
approval needed (the default) nothing is said: the first approval moves the post on.
"""

from __future__ import annotations

from handlers.blocks.markup import Mrkdwn, User, join, md
from handlers.blocks.messages import APPROVALS_CLEARED, APPROVED_FOR, APPROVED_SO_FAR
from handlers.blocks.times import slack_date
from services.approvals import ApprovalState, CarriedTime, Tally


def _people(user_ids: tuple[str, ...]) -> Mrkdwn:
    return join(", ", [User(user_id).render() for user_id in user_ids])


def approved_so_far(tally: Tally) -> Mrkdwn | None:
    """ "Approved by @a, @b (2 of 3)"; None before anyone approved."""
    if not tally.approvers:
        return None
    return md(
        APPROVED_SO_FAR,
        approvers=_people(tally.approvers),
        count=tally.count,
        required=tally.required,
    )


def approvals_cleared(state: ApprovalState) -> Mrkdwn | None:
    """That the previous version's approvals were cleared by a change; None when none were."""
    if not state.cleared:
        return None
    return md(APPROVALS_CLEARED, approvers=_people(state.cleared), required=state.tally.required)


def approved_for(carried: CarriedTime | None) -> Mrkdwn | None:
    """ "@a approved it for <time>: the last approval schedules it then."; None without a
    Schedule… among the approvals."""
    if carried is None:
        return None
    return md(APPROVED_FOR, approver=User(carried.by), time=slack_date(carried.at))


def approval_lines(state: ApprovalState) -> list[Mrkdwn]:
    """The card's lines about approvals, in reading order (none when there is nothing to say)."""
    lines = [approvals_cleared(state), approved_so_far(state.tally), approved_for(state.carried)]
    return [line for line in lines if line is not None]
