"""`/metrics` after real traffic through the three services: the named series and their values move as the
traffic says, on the embedded bus and on Kafka + PostgreSQL."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from shared import topics
from shared.bus import Record
from shared.bus.dlq import list_dead_letters, replay
from shared.topics import dlq_topic
from tests.harness.receiver import Receiver
from tests.integration.test_notifier import Notifier, mailbox, notifier  # noqa: F401 (fixtures)
from tests.integration.test_signals_service import Env, metric, new_company


async def series(env: Env, name: str) -> list[dict[str, str]]:
    """The label sets of every sample of `name` on `/metrics`."""
    response = await env.client.get("/metrics")
    return [
        sample.labels
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name
    ]


async def test_metrics_follow_the_traffic(notifier: Notifier) -> None:  # noqa: F811
    env = notifier.env
    company = new_company()
    request = {
        "service": "ingest+signals+notifier",
        "route": "/v1/publications",
        "method": "POST",
        "status": "202",
    }
    published = {"topic": topics.PUBLICATIONS}
    consumed = {"group": "ew.signals", "topic": topics.PUBLICATIONS}
    raised = {"signal": "bankruptcy", "severity": "critical", "change": "raised"}
    delivered = {"channel": "webhook", "status": "delivered"}
    before = {
        name: await metric(env, name, **labels)
        for name, labels in (
            ("ew_http_requests_total", request),
            ("ew_bus_published_total", published),
            ("ew_bus_consumed_total", consumed),
            ("ew_signal_changes_total", raised),
            ("ew_deliveries_total", delivered),
        )
    }
    async with Receiver() as receiver:
        await notifier.webhook(receiver, company)
        await env.publication(company, ["bankruptcy"], "2025-06-02")
        await receiver.wait_for(1, timeout=env.timeout)
        await notifier.deliveries_until(
            "the delivery recorded", lambda items: any(d["status"] == "delivered" for d in items)
        )

    async def moved() -> dict[str, float]:
        return {
            "ew_http_requests_total": await metric(env, "ew_http_requests_total", **request),
            "ew_bus_published_total": await metric(env, "ew_bus_published_total", **published),
            "ew_bus_consumed_total": await metric(env, "ew_bus_consumed_total", **consumed),
            "ew_signal_changes_total": await metric(env, "ew_signal_changes_total", **raised),
            "ew_deliveries_total": await metric(env, "ew_deliveries_total", **delivered),
        }

    after = await env.until(
        moved, lambda now: now["ew_deliveries_total"] > before["ew_deliveries_total"], "metrics"
    )
    assert {name: after[name] - before[name] for name in after} == {
        "ew_http_requests_total": 1,
        "ew_bus_published_total": 1,
        "ew_bus_consumed_total": 1,
        "ew_signal_changes_total": 1,
        "ew_deliveries_total": 1,
    }
    # Consumer lag per partition of the groups, and the latency histograms, are there with their labels.
    lag = await series(env, "ew_bus_consumer_lag")
    assert {"group": "ew.signals", "topic": topics.PUBLICATIONS} in [
        {k: v for k, v in labels.items() if k != "partition"} for labels in lag
    ]
    assert any(labels["group"] == "ew.notifier" for labels in lag)
    assert await metric(env, "ew_bus_consumer_lag", **lag[0]) >= 0
    latency = await series(env, "ew_http_request_duration_seconds_count")
    assert {"service": "ingest+signals+notifier", "route": "/v1/publications"} in latency


async def test_the_dead_letters_not_replayed_are_a_gauge_per_topic(notifier: Notifier) -> None:  # noqa: F811
    env = notifier.env
    dlq = dlq_topic(topics.PUBLICATIONS)
    poison = Record(topics.PUBLICATIONS, new_company(), b"{not json", (("ce_id", b"x"),))
    await env.infra.bus.publish([poison])

    async def gauge_and_listed() -> tuple[float, int]:
        """The gauge beside what `dlq list` shows as not replayed (another reading of the topic)."""
        listed = await list_dead_letters(env.infra.bus, topics.PUBLICATIONS, limit=1_000_000)
        waiting = sum(1 for letter in listed if not letter.replayed)
        return await metric(env, "ew_bus_dead_letters", topic=dlq), waiting

    # The gauge reads every 15 s: within one interval (and a margin) it shows the new dead letter too.
    await env.until(
        gauge_and_listed,
        lambda found: found[1] >= 1 and found[0] == found[1],
        "the dead letter counted",
        timeout=max(env.timeout, 45.0),
    )
    # Replayed: the replay ends (the poison fails again and comes back, it is not replayed forever), and
    # the gauge then counts what came back.
    assert await replay(env.infra.bus, topics.PUBLICATIONS) >= 1
    await env.until(
        gauge_and_listed,
        lambda found: found[1] >= 1 and found[0] == found[1],
        "the gauge to count the letters dead-lettered again",
        timeout=max(env.timeout, 45.0),
    )
