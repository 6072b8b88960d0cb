"""What `GET /metrics` shows, in Prometheus' text format (SPEC section 7.3).

One `Metrics` per process, built with the runtime and handed to what counts (no module-level
registry: two bots in one test process count apart). Each process serves its own `/metrics`
and Prometheus scrapes each instance; sum over instances in queries. Counters count what
happened in this process since it started (Prometheus handles restarts with `rate()`);
`socialpost_jobs` is read from the database at each scrape, so every instance shows the same
queue, the whole team's.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from services.events import EventBus, PostMoved
from storage import Transaction

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The media type of `render()`'s text."""

ACK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
"""Seconds: Slack wants an ack within 3 s; the target is well under 500 ms."""


class PostEvent(StrEnum):
    """The `event` label of `socialpost_posts_total`."""

    DRAFTED = "drafted"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    POSTED = "posted"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"


_EVENT_OF_ACTION: dict[str, PostEvent] = {
    "drafted": PostEvent.DRAFTED,
    "approve": PostEvent.APPROVED,
    "schedule": PostEvent.SCHEDULED,  # issue 14's actions count without another hook
    "published": PostEvent.POSTED,
    "publish_failed": PostEvent.FAILED,
    "draft_failed": PostEvent.FAILED,
    "reject": PostEvent.REJECTED,
    "discard": PostEvent.REJECTED,
    "expire": PostEvent.EXPIRED,
}


class LLMOutcome(StrEnum):
    """The `outcome` label of `socialpost_llm_requests_total`."""

    OK = "ok"
    ERROR = "error"
    SKIPPED = "skipped"  # cooling down after failing: not called at all


class Metrics:
    """This process's Prometheus registry and the metrics in it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.posts = Counter(
            "socialpost_posts",
            "Posts reaching a stage of their life, by platform and event.",
            ["platform", "event"],
            registry=self.registry,
        )
        self.jobs = Gauge(
            "socialpost_jobs",
            "Jobs on the retry table, by queue and status (read from the database).",
            ["queue", "status"],
            registry=self.registry,
        )
        self.llm_requests = Counter(
            "socialpost_llm_requests",
            "Calls to LLM providers, by provider and outcome.",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.llm_cost = Counter(
            "socialpost_llm_cost_usd",
            "What LLM calls cost, in US dollars, by litellm's own cost calculation.",
            registry=self.registry,
        )
        self.slack_ack = Histogram(
            "socialpost_slack_ack_seconds",
            "Seconds from a Slack request reaching the bot to its acknowledgement.",
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.api_requests = Counter(
            "socialpost_api_requests",
            "Intake API requests, by route and HTTP status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "socialpost_webhook_deliveries",
            "Webhook delivery attempts, by event type and outcome (delivered, failed, dead).",
            ["type", "outcome"],
            registry=self.registry,
        )

    def attach(self, events: EventBus) -> None:
        """Count posts' stages as the lifecycle moves them. (Counted as the move happens,
        inside its transaction: a transaction that then rolls back, which is rare, has
        counted.)"""
        events.subscribe(PostMoved, self._moved)

    async def _moved(self, _tx: Transaction, moved: PostMoved) -> None:
        event = _EVENT_OF_ACTION.get(moved.action)
        if event is not None:
            self.post_event(moved.post.platform, event)

    def post_event(self, platform: str, event: PostEvent) -> None:
        """Count one post reaching `event`."""
        self.posts.labels(platform=platform, event=event.value).inc()

    def llm_request(self, provider: str, outcome: LLMOutcome, cost_usd: float = 0.0) -> None:
        """Count one LLM call (and what it cost)."""
        self.llm_requests.labels(provider=provider, outcome=outcome.value).inc()
        if cost_usd > 0:
            self.llm_cost.inc(cost_usd)

    def set_jobs(self, counts: Iterable[tuple[str, str, int]]) -> None:
        """Show exactly these (queue, status, count) rows: a row gone from the table is gone
        from the gauge too, not left at its last value."""
        self.jobs.clear()
        for queue, status, count in counts:
            self.jobs.labels(queue=queue, status=status).set(count)

    def render(self) -> bytes:
        """Every metric in Prometheus' text format."""
        return generate_latest(self.registry)
