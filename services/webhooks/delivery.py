"""Webhook delivery: each lifecycle event queued as a `webhook` job in the transaction of the
change, and POSTed to SOCIALPOST_WEBHOOK_URL from the retry table.

The job carries the whole message (id, type, body), built when the event happened, so every
retry sends the same `webhook-id` and body; only the timestamp and signature are new. Failed
deliveries back off like every job and end in `dlq_webhook` (listed in `/socialpost status`
and App Home, where Retry revives them). The kind has its own small room in the worker
(`CONCURRENCY`) and a short timeout, so a slow or failing receiver never takes a slot from a
publish or a card, and never holds up the change that queued it.
"""

from __future__ import annotations

import functools

import aiohttp
import structlog

from services.clock import Clock
from services.errors import JobFailed
from services.events import EventBus, PostMoved
from services.jobs import JobQueue, JobType, Worker
from services.lifecycle import Action
from services.metrics import Metrics
from services.webhooks.signing import EventType, Signer, WebhookMessage, new_message
from services.webhooks.view import view_of
from storage import Transaction
from storage.models import Job, PostStatus

log = structlog.get_logger(__name__)

KIND = "webhook"
DEAD_LETTER = "dlq_webhook"
CONCURRENCY = 4
TIMEOUT = 10.0
"""Seconds a receiver has to answer one delivery."""

_BY_TARGET: dict[str, EventType] = {
    PostStatus.PENDING.value: EventType.PENDING,
    PostStatus.POSTED.value: EventType.POSTED,
    PostStatus.FAILED_POST.value: EventType.FAILED,
    PostStatus.FAILED_GENERATION.value: EventType.FAILED,
    PostStatus.FAILED_APPROVAL_SEND.value: EventType.FAILED,
    PostStatus.REJECTED.value: EventType.REJECTED,
    # Scheduling and expiry (issue 14) name their statuses so; their moves need no other hook.
    "scheduled": EventType.SCHEDULED,
    "expired": EventType.EXPIRED,
}
# Moves that change nothing a receiver hears about (a retry of an undeliverable card).
_QUIET = {Action.RETRY.value}


def event_for(moved: PostMoved) -> EventType | None:
    """The webhook event a lifecycle move is, if any."""
    if moved.action in _QUIET and moved.post.status == moved.source:
        return None
    if moved.action == "schedule":
        return EventType.SCHEDULED
    return _BY_TARGET.get(moved.post.status.value)


class Webhooks:
    """Queues and delivers webhook messages."""

    def __init__(
        self,
        url: str,
        secret: str,
        session: aiohttp.ClientSession,
        *,
        clock: Clock,
        metrics: Metrics | None = None,
    ) -> None:
        self._url = url
        self._signer = Signer(secret)
        self._session = session
        self._clock = clock
        self._metrics = metrics

    def attach(self, events: EventBus, queue: JobQueue, worker: Worker) -> None:
        """Queue a delivery for every lifecycle event; run the deliveries."""
        events.subscribe(PostMoved, functools.partial(self.queue, queue))
        worker.register(
            JobType(KIND, self, DEAD_LETTER, "Webhook delivery", concurrency=CONCURRENCY)
        )

    async def queue(self, queue: JobQueue, tx: Transaction, moved: PostMoved) -> int | None:
        """Queue the message for `moved`, in its transaction, if it is an event."""
        event = event_for(moved)
        if event is None:
            return None
        message = new_message(event, view_of(moved.post), self._clock.now())
        return await queue.enqueue(tx, KIND, post_id=moved.post.id, payload=message.to_payload())

    async def run(self, job: Job) -> None:
        """POST the message; a 2xx answer is delivered, anything else is tried again."""
        message = WebhookMessage.from_payload(job.payload)
        headers = self._signer.headers(message, self._clock.now())
        try:
            async with self._session.post(
                self._url,
                data=message.body.encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=TIMEOUT),
                allow_redirects=False,
            ) as response:
                status = response.status
                await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            self._count(message, "failed")
            raise JobFailed(
                f"webhook receiver unreachable: {type(exc).__name__}", transient=True
            ) from None
        if not 200 <= status < 300:
            self._count(message, "failed")
            raise JobFailed(f"webhook receiver answered {status}", transient=True)
        self._count(message, "delivered")
        log.info("webhook_delivered", webhook_id=message.id, type=message.type.value)

    async def on_dead(self, tx: Transaction, job: Job, reason: str) -> None:
        """A message the receiver never took: it stays in `dlq_webhook` for people to see."""
        message = WebhookMessage.from_payload(job.payload)
        self._count(message, "dead")
        log.warning("webhook_dead", webhook_id=message.id, type=message.type.value, reason=reason)

    def _count(self, message: WebhookMessage, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.webhooks.labels(type=message.type.value, outcome=outcome).inc()
