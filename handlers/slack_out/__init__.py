"""Slack output: the domain's events turned into cards, direct messages and App Home tabs.

    delivery.py  SlackDelivery: the Web API calls (cards, notices, App Home) and what Slack's
                 answers mean (transient or permanent)
    cards.py     the `sync_card` and `notify_user` jobs, and the listeners that queue them
    home.py      AppHome: viewers' tabs, refreshed (debounced) as the queue changes

`SlackOut.attach` subscribes to the domain's events (a `PostChanged` queues the post's card
update, a `TellUser` a direct message, a `TellChannel` a message in the approval channel,
inside the emitting transaction) and registers those job kinds with the worker.
"""

from __future__ import annotations

import functools

from handlers.slack_out.cards import (
    CardJobs,
    ChannelNoticeJobs,
    NoticeJobs,
    queue_card,
    queue_channel_notice,
    queue_notice,
)
from handlers.slack_out.delivery import SlackDelivery
from handlers.slack_out.home import AppHome
from services.cards import Cards
from services.clock import Clock
from services.events import EventBus, PostChanged, TellChannel, TellUser
from services.jobs import JobQueue, Worker

__all__ = ["AppHome", "SlackDelivery", "SlackOut"]


class SlackOut:
    """Everything socialpost shows in Slack on its own initiative."""

    def __init__(self, slack: SlackDelivery, cards: Cards, home: AppHome, *, clock: Clock) -> None:
        self.slack = slack
        self.home = home
        self._cards = CardJobs(cards, slack, clock, on_change=home.changed)
        self._notices = NoticeJobs(cards, slack, clock)
        self._channel_notices = ChannelNoticeJobs(slack, clock)

    def attach(self, events: EventBus, queue: JobQueue, worker: Worker) -> None:
        """Listen to the domain's events and run the jobs they queue. The card listener
        subscribes first: a move's first queued job is its card update."""
        events.subscribe(PostChanged, functools.partial(queue_card, queue))
        events.subscribe(TellUser, functools.partial(queue_notice, queue))
        events.subscribe(TellChannel, functools.partial(queue_channel_notice, queue))
        worker.register(self._cards.job_type())
        worker.register(self._notices.job_type())
        worker.register(self._channel_notices.job_type())
