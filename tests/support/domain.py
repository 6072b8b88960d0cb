"""The domain without Slack or a running worker, wired as `bot.runtime` wires it: jobs only
queue up, and a changed post queues its card update as the Slack layer's listener does."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from handlers.slack_out.cards import queue_card, queue_notice
from services.clock import Clock, SystemClock
from services.decisions import Decisions
from services.drafting.drafter import Drafter
from services.drafting.job import Drafting
from services.drafting.llm import LLMClient
from services.editing import Editing
from services.events import EventBus, PostChanged, TellUser
from services.intake import Intake
from services.jobs import JobQueue
from services.lifecycle import Lifecycle
from services.models import Deployment
from services.policy import Policy
from services.ratelimit import RateLimiter
from storage import Store


@dataclass(frozen=True)
class Domain:
    """The services over one store."""

    store: Store
    queue: JobQueue
    events: EventBus
    policy: Policy
    lifecycle: Lifecycle
    drafting: Drafting
    editing: Editing
    decisions: Decisions
    intake: Intake


def domain_of(
    store: Store,
    *approvers: str,
    allow_self_approval: bool = False,
    drafter: Drafter | None = None,
    clock: Clock | None = None,
) -> Domain:
    """The domain over `store`; without `approvers`, everyone is one. Its LLM answers nobody
    unless a `drafter` is given."""
    clock = clock or SystemClock()
    queue = JobQueue(store, clock=clock)
    events = EventBus()
    events.subscribe(PostChanged, functools.partial(queue_card, queue))
    events.subscribe(TellUser, functools.partial(queue_notice, queue))
    policy = Policy.of(approvers, allow_self_approval=allow_self_approval)
    lifecycle = Lifecycle(store, queue, events, policy, clock=clock)
    if drafter is None:
        llm = LLMClient([Deployment(name="unused", model="openai/unused")], timeout=1, cooldown=1)
        drafter = Drafter(llm, brand_voice=None)
    drafting = Drafting(store, lifecycle, events, queue, drafter)
    limiter = RateLimiter(
        user_capacity=5, user_per_seconds=60, workspace_capacity=100, workspace_per_seconds=60
    )
    editing = Editing(lifecycle, drafting, limiter)
    return Domain(
        store=store,
        queue=queue,
        events=events,
        policy=policy,
        lifecycle=lifecycle,
        drafting=drafting,
        editing=editing,
        decisions=Decisions(store, lifecycle, queue, editing),
        intake=Intake(store, lifecycle, drafting, limiter, offered_platforms=["x", "linkedin"]),
    )
