"""A post's life: the transition table, and the one `move` that walks it.

    generating -> pending (drafted, or a regeneration failed: the previous version is back)
               |  failed_generation (no LLM answered)
    pending    -> approved (approve; the publish is queued) | rejected (reject)
               |  generating (regenerate) | pending (edit, make_thread: a new version / shape)
               |  failed_approval_send (its card could not be delivered)
    approved   -> posted (published) | failed_post (the publish failed for good)
    failed_post -> approved (retry) ; failed_generation -> generating (retry)
    failed_approval_send -> failed_approval_send (retry: the card is sent again)
                         |  pending (the card got through)
    failed_*   -> rejected (discard)

Time on the card (SPEC 7.2, `services.scheduling`):

    pending    -> scheduled (schedule: approved for a time; its publish job waits for it)
               |  expired (nobody decided within SOCIALPOST_APPROVAL_TTL)
    scheduled  -> pending (unschedule) | approved (post now; or its time came: due)
               |  missed (its time passed more than SOCIALPOST_SCHEDULE_GRACE ago, unpublished)
    missed     -> approved (retry: post now) | rejected (discard)
    expired    -> pending (revive: approvers and the requester)
    approved   -> rejected (discard, while its publish waits for an automatic retry)

`TRANSITIONS` is that table: for each edge its source statuses, the action, the target, who
may take it (socialpost itself, an approver, or an editor: an approver or the requester),
whether it is bound to the version the actor was shown, and whether the self-approval rule
applies (whoever wrote the current version may not approve it unless
SOCIALPOST_ALLOW_SELF_APPROVAL). `services.policy` answers who may take which edge now.

`Lifecycle.move` is the only code that changes a post's status: it checks the edge is in the
table (and that the actor may take it), runs one conditional UPDATE (`WHERE id AND status IN
(...)`, and `AND version = ?` for a version-bound edge) so two clicks can never both win,
records a person's decision in the audit log, and emits `PostChanged` (whose listeners queue
the card update) — all in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import structlog

from services.clock import Clock, SystemClock
from services.errors import IllegalTransition
from services.events import EventBus, PostChanged, PostMoved
from services.jobs.queue import JobQueue
from services.models import Actor, Outcome, Verdict
from storage import Store, Transaction
from storage.models import FAILED_STATUSES, NewPost, Post, PostStatus

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from services.policy import Policy

log = structlog.get_logger(__name__)


class Role(StrEnum):
    """Who may take an edge."""

    SYSTEM = "system"  # socialpost itself: drafting, publishing, delivering cards
    APPROVER = "approver"  # SOCIALPOST_APPROVERS (everyone when it is empty)
    EDITOR = "editor"  # an approver, or the post's requester


class Action(StrEnum):
    """What can happen to a post (and, for `RETRY_JOB`, to a dead job)."""

    APPROVE = "approve"
    REJECT = "reject"
    EDIT = "edit"
    REGENERATE = "regenerate"
    MAKE_THREAD = "make_thread"
    RETRY = "retry"
    DISCARD = "discard"
    RETRY_JOB = "retry_job"
    DRAFTED = "drafted"
    DRAFT_FAILED = "draft_failed"
    REGENERATION_FAILED = "regeneration_failed"
    PUBLISHED = "published"
    PUBLISH_FAILED = "publish_failed"
    CARD_UNDELIVERABLE = "card_undeliverable"
    CARD_DELIVERED = "card_delivered"
    SCHEDULE = "schedule"
    UNSCHEDULE = "unschedule"
    POST_NOW = "post_now"
    RETRY_NOW = "retry_now"
    REVIVE = "revive"
    DUE = "due"
    MISS = "miss"
    EXPIRE = "expire"


@dataclass(frozen=True)
class Edge:
    """One transition: `action` takes a post in one of `sources` to `target`.

    `versioned`: only for the version the actor was shown. `self_approval`: whoever wrote the
    current version may not take it unless self-approval is allowed. `outcome`: what the audit
    log says it did (default: the target status). `announce`: whether the change is emitted
    as `PostChanged` (not when the card itself reported it: showing it again would undo the
    report or repeat it).
    """

    sources: frozenset[PostStatus]
    action: Action
    target: PostStatus
    role: Role
    versioned: bool = False
    self_approval: bool = False
    outcome: str | None = None
    announce: bool = True

    @property
    def done(self) -> str:
        """The audit log's outcome of the edge taken."""
        return self.outcome or self.target.value


def _edge(
    sources: Collection[PostStatus], action: Action, target: PostStatus, role: Role, **rules: Any
) -> Edge:
    return Edge(frozenset(sources), action, target, role, **rules)


_S = PostStatus
_A = Action
TRANSITIONS: tuple[Edge, ...] = (
    _edge([_S.GENERATING], _A.DRAFTED, _S.PENDING, Role.SYSTEM),
    _edge([_S.GENERATING], _A.REGENERATION_FAILED, _S.PENDING, Role.SYSTEM),
    _edge([_S.GENERATING], _A.DRAFT_FAILED, _S.FAILED_GENERATION, Role.SYSTEM),
    _edge([_S.PENDING], _A.APPROVE, _S.APPROVED, Role.APPROVER, versioned=True, self_approval=True),
    _edge([_S.PENDING], _A.REJECT, _S.REJECTED, Role.APPROVER, versioned=True),
    _edge([_S.PENDING], _A.EDIT, _S.PENDING, Role.EDITOR, versioned=True, outcome="edited"),
    _edge([_S.PENDING], _A.REGENERATE, _S.GENERATING, Role.EDITOR, versioned=True),
    _edge([_S.PENDING], _A.MAKE_THREAD, _S.PENDING, Role.EDITOR, versioned=True, outcome="thread"),
    # The card reports these itself: it has just shown the post, or can't be shown at all.
    _edge(
        [_S.PENDING], _A.CARD_UNDELIVERABLE, _S.FAILED_APPROVAL_SEND, Role.SYSTEM, announce=False
    ),
    _edge([_S.FAILED_APPROVAL_SEND], _A.CARD_DELIVERED, _S.PENDING, Role.SYSTEM, announce=False),
    _edge([_S.APPROVED], _A.PUBLISHED, _S.POSTED, Role.SYSTEM),
    _edge([_S.APPROVED], _A.PUBLISH_FAILED, _S.FAILED_POST, Role.SYSTEM),
    _edge([_S.FAILED_POST], _A.RETRY, _S.APPROVED, Role.APPROVER),
    _edge([_S.FAILED_GENERATION], _A.RETRY, _S.GENERATING, Role.EDITOR),
    _edge(
        [_S.FAILED_APPROVAL_SEND],
        _A.RETRY,
        _S.FAILED_APPROVAL_SEND,
        Role.EDITOR,
        outcome="card_requeued",
    ),
    _edge(FAILED_STATUSES, _A.DISCARD, _S.REJECTED, Role.APPROVER),
    # Time on the card. Scheduling approves (the same rules as Approve); a post waiting for
    # an automatic retry may be discarded (`services.scheduling` cancels its publish first).
    _edge(
        [_S.PENDING], _A.SCHEDULE, _S.SCHEDULED, Role.APPROVER, versioned=True, self_approval=True
    ),
    _edge([_S.SCHEDULED], _A.UNSCHEDULE, _S.PENDING, Role.APPROVER, outcome="unscheduled"),
    _edge([_S.SCHEDULED], _A.POST_NOW, _S.APPROVED, Role.APPROVER),
    _edge([_S.SCHEDULED], _A.DUE, _S.APPROVED, Role.SYSTEM),
    _edge([_S.SCHEDULED], _A.MISS, _S.MISSED, Role.SYSTEM),
    _edge([_S.MISSED], _A.RETRY, _S.APPROVED, Role.APPROVER),
    _edge([_S.MISSED], _A.DISCARD, _S.REJECTED, Role.APPROVER),
    _edge([_S.APPROVED], _A.DISCARD, _S.REJECTED, Role.APPROVER),
    _edge([_S.APPROVED], _A.RETRY_NOW, _S.APPROVED, Role.APPROVER, outcome="retry_now"),
    _edge([_S.PENDING], _A.EXPIRE, _S.EXPIRED, Role.SYSTEM),
    _edge([_S.EXPIRED], _A.REVIVE, _S.PENDING, Role.EDITOR, outcome="revived"),
)

_BY_SOURCE: dict[tuple[Action, PostStatus], Edge] = {
    (edge.action, source): edge for edge in TRANSITIONS for source in edge.sources
}

PEOPLES_ACTIONS: tuple[Action, ...] = tuple(
    dict.fromkeys(edge.action for edge in TRANSITIONS if edge.role != Role.SYSTEM)
)
"""The actions people take on posts, in table order."""


def edge_for(action: Action, status: PostStatus) -> Edge | None:
    """The edge `action` takes from `status`, if the table has one."""
    return _BY_SOURCE.get((action, status))


def edges_of(action: Action) -> list[Edge]:
    """Every edge of `action`."""
    return [edge for edge in TRANSITIONS if edge.action == action]


def decided_verdict(status: PostStatus) -> Verdict | None:
    """The answer to a click on a post already decided: approved (published or failed since
    counts) or rejected; None while undecided."""
    if status in (PostStatus.APPROVED, PostStatus.POSTED, PostStatus.FAILED_POST):
        return Verdict.ALREADY_APPROVED
    if status == PostStatus.MISSED:
        return Verdict.ALREADY_APPROVED
    if status == PostStatus.SCHEDULED:
        return Verdict.ALREADY_SCHEDULED
    if status == PostStatus.REJECTED:
        return Verdict.ALREADY_REJECTED
    if status == PostStatus.EXPIRED:
        return Verdict.EXPIRED
    return None


def _from_card_or_private(actor: Actor, post: Post) -> bool:
    """Whether a request came from the post's own card or from a private place.

    A button elsewhere carrying this post's id (a forged or copied payload) is refused.
    """
    if actor.card is None or post.channel is None or post.message_ts is None:
        # Private, or the card was just posted and its place not stored yet.
        return True
    return (actor.card.place, actor.card.id) == (post.channel, post.message_ts)


@dataclass(frozen=True)
class Moved:
    """A move that happened: the post as it is now, and the jobs the change's listeners
    queued (in subscription order: the card update first)."""

    post: Post
    queued: tuple[int, ...]


FollowUp = Callable[[Transaction, "Moved"], Awaitable[Post | None]]
"""More work in a move's transaction (a publish, a new version); may return the post as it
is then."""


class Lifecycle:
    """Walks posts through `TRANSITIONS`, with the audit trail and the events they need."""

    def __init__(
        self,
        store: Store,
        queue: JobQueue,
        events: EventBus,
        policy: Policy,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._queue = queue
        self._events = events
        self.policy = policy
        self.clock = clock or SystemClock()

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A write transaction whose queued jobs wake the worker once it commits."""
        return self._queue.transaction()

    async def begin(self, tx: Transaction, new: NewPost) -> tuple[Post, bool]:
        """Store a new post, `generating` (its request may have stored it already: then that
        one is returned, with False) and announce it."""
        if new.status != PostStatus.GENERATING:
            raise IllegalTransition(f"a post starts generating, not {new.status}")
        post, created = await tx.posts.create(new)
        if created:
            await self._events.emit(tx, PostChanged(post.id, new=True))
        return post, created

    async def move(
        self,
        tx: Transaction,
        post: Post,
        action: Action,
        actor: Actor | None = None,
        **fields: Any,
    ) -> Moved | None:
        """Take `action`'s edge from the post's status as `post` shows it (and, for a
        version-bound edge, at its version), setting `fields` too. None when a concurrent
        change got there first. A person's move is audited.

        Raises `IllegalTransition` when the table has no such edge or the actor may not take
        it (callers check first, and tell the user).
        """
        edge = edge_for(action, post.status)
        if edge is None:
            raise IllegalTransition(f"{action} is not a move from {post.status}")
        if (edge.role == Role.SYSTEM) != (actor is None):
            raise IllegalTransition(f"{action} is taken by {edge.role}, not by {actor}")
        if actor is not None and (refused := self.policy.refusal(action, actor, post)):
            raise IllegalTransition(f"{actor.user_id} may not {action} now: {refused}")
        moved = await tx.posts.transition(
            post.id,
            [post.status],
            edge.target,
            version=post.version if edge.versioned else None,
            **fields,
        )
        if actor is not None:
            await self.audit(tx, actor, action, post.id, edge.done if moved else "lost")
        if moved is None:
            return None
        queued = await self._events.emit(tx, PostChanged(post.id)) if edge.announce else []
        await self._events.emit(tx, PostMoved(moved, action.value, post.status))
        log.info("post_moved", action=action, post_id=post.id, to=edge.target)
        return Moved(moved, tuple(queued))

    async def hold(self, tx: Transaction, post: Post) -> Post | None:
        """Hold the post for the rest of the transaction, as `post` shows it (status and
        version), without moving it: one conditional UPDATE, so concurrent steps on the post
        take turns and each sees what the ones before it committed (approvals counted one
        after another, on any backend). None when a change got there first."""
        return await tx.posts.update(post.id, only_if=[post.status], version=post.version)

    async def announce(self, tx: Transaction, post_id: str) -> tuple[int, ...]:
        """Say the post changed without a move (an approval recorded): its card is updated."""
        return tuple(await self._events.emit(tx, PostChanged(post_id)))

    async def changed(self, tx: Transaction, post_id: str) -> list[int]:
        """Announce a change that moved no status (a publish waiting for its next try, or
        trying again): whatever shows the post shows it again."""
        return await self._events.emit(tx, PostChanged(post_id))

    async def act(
        self,
        post: Post,
        action: Action,
        actor: Actor,
        *,
        then: FollowUp | None = None,
        **fields: Any,
    ) -> Outcome:
        """A person's `move` in a transaction of its own, with `then` in the same one; the
        answer for them (a lost race says what won)."""
        async with self.transaction() as tx:
            moved = await self.move(tx, post, action, actor, **fields)
            result = moved.post if moved else None
            if moved is not None and then is not None:
                result = await then(tx, moved) or moved.post
        if result is None:
            return await self.lost_race(post.id, actor)
        return Outcome(Verdict.DONE, result)

    async def audit(
        self,
        tx: Transaction,
        actor: Actor,
        action: str,
        post_id: str | None,
        outcome: str,
        detail: str | None = None,
    ) -> None:
        """Record what `actor` did or tried, from where."""
        card = actor.card
        await tx.audit.record(
            actor=actor.user_id,
            action=action,
            post_id=post_id,
            outcome=outcome,
            channel=card.place if card else None,
            message_ts=card.id if card else None,
            detail=detail,
        )

    async def refuse(
        self,
        action: str,
        actor: Actor,
        post_id: str,
        verdict: Verdict,
        post: Post | None = None,
        *,
        detail: str | None = None,
    ) -> Outcome:
        """Audit a refused request and answer it; a stale card is shown again."""
        async with self.transaction() as tx:
            await self.audit(tx, actor, action, post_id or None, f"refused:{verdict}", detail)
            if verdict == Verdict.STALE_VERSION:
                # The clicker's card is behind: show them the version they would decide on.
                await self._events.emit(tx, PostChanged(post_id))
        log.info("action_refused", action=action, user=actor.user_id, post_id=post_id, why=verdict)
        return Outcome(verdict, post)

    async def load(self, action: Action, post_id: str, actor: Actor) -> Post | Outcome:
        """The post, or the refusal when it doesn't exist or the request came from another
        post's card."""
        post = await self._store.posts.get(post_id)
        if post is None:
            return await self.refuse(action, actor, post_id, Verdict.NOT_FOUND)
        if not _from_card_or_private(actor, post):
            return await self.refuse(action, actor, post_id, Verdict.WRONG_CARD, post)
        return post

    async def check(self, action: Action, post_id: str, actor: Actor) -> Post | Outcome:
        """The post if `actor` may take `action` on it now, else the (audited) refusal."""
        loaded = await self.load(action, post_id, actor)
        if isinstance(loaded, Outcome):
            return loaded
        if verdict := self.policy.refusal(action, actor, loaded):
            return await self.refuse(action, actor, post_id, verdict, loaded)
        return loaded

    async def lost_race(self, post_id: str, actor: Actor) -> Outcome:
        """The answer when another change got to the post between our read and our UPDATE."""
        post = await self._store.posts.get(post_id)
        if post is None:
            return Outcome(Verdict.NOT_FOUND)
        if post.status == PostStatus.PENDING and post.version != actor.seen_version:
            # An edit or a regeneration got there first (it queued its own card update).
            return Outcome(Verdict.STALE_VERSION, post)
        return Outcome(decided_verdict(post.status) or Verdict.NOT_READY, post)
