"""Metrics: SPEC 7.3's names and labels in Prometheus' text format, one registry per process."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from services.metrics import LLMOutcome, Metrics, PostEvent


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample rendered, by name and sorted labels (parsed back from the text)."""
    parsed = text_string_to_metric_families(metrics.render().decode())
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in parsed
        for sample in family.samples
    }


def test_spec_names_and_labels() -> None:
    """posts_total{platform,event}, jobs{queue,status}, llm_requests_total{provider,outcome},
    llm_cost_usd_total and the slack_ack_seconds histogram, as SPEC names them."""
    metrics = Metrics()
    metrics.post_event("x", PostEvent.POSTED)
    metrics.post_event("x", PostEvent.POSTED)
    metrics.llm_request("openai", LLMOutcome.OK, cost_usd=0.25)
    metrics.llm_request("anthropic", LLMOutcome.ERROR)
    metrics.set_jobs([("dlq_webhook", "dead", 2), ("main", "queued", 1)])
    metrics.slack_ack.observe(0.02)
    found = samples(metrics)
    assert found[("socialpost_posts_total", (("event", "posted"), ("platform", "x")))] == 2
    assert found[("socialpost_jobs", (("queue", "dlq_webhook"), ("status", "dead")))] == 2
    assert found[("socialpost_jobs", (("queue", "main"), ("status", "queued")))] == 1
    key = ("socialpost_llm_requests_total", (("outcome", "ok"), ("provider", "openai")))
    assert found[key] == 1
    assert found[("socialpost_llm_cost_usd_total", ())] == 0.25
    assert found[("socialpost_slack_ack_seconds_count", ())] == 1
    assert found[("socialpost_slack_ack_seconds_bucket", (("le", "0.025"),))] == 1


def test_jobs_gauge_shows_only_the_latest_rows() -> None:
    """A queue that emptied since the last scrape is gone from the gauge, not stuck."""
    metrics = Metrics()
    metrics.set_jobs([("dlq_webhook", "dead", 2)])
    metrics.set_jobs([("main", "queued", 3)])
    jobs = {key: value for key, value in samples(metrics).items() if key[0] == "socialpost_jobs"}
    assert jobs == {("socialpost_jobs", (("queue", "main"), ("status", "queued"))): 3}


def test_two_processes_worth_of_metrics_count_apart() -> None:
    """Each Metrics has its own registry (two bots in one test process don't mix)."""
    first, second = Metrics(), Metrics()
    first.post_event("linkedin", PostEvent.DRAFTED)
    key = ("socialpost_posts_total", (("event", "drafted"), ("platform", "linkedin")))
    assert samples(first)[key] == 1
    assert key not in samples(second)
