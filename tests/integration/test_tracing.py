"""One trace from the HTTP request to the webhook: ingest, signals and notifier each add their span, and the
context crosses the bus in the events (CloudEvents distributed-tracing extension), on the embedded bus and
on Kafka + PostgreSQL.

The test sends a `traceparent` of its own, as a calling system would, and follows that trace id.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.logging import JsonFormatter
from shared.tracing import configure_tracing, tracer
from tests.harness.receiver import Receiver
from tests.integration.test_notifier import Notifier, mailbox, notifier  # noqa: F401 (fixtures)
from tests.integration.test_signals_service import new_company, new_reference


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span the process ends, from now on (the provider is the process's own)."""
    configure_tracing("earlywarning-tests")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


def of_trace(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [
        s for s in exporter.get_finished_spans() if s.context is not None and s.context.trace_id == trace_id
    ]


async def test_one_trace_from_the_request_to_the_webhook(
    notifier: Notifier,  # noqa: F811
    spans: InMemorySpanExporter,
) -> None:
    env = notifier.env
    company = new_company()
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    consumer_log = logging.getLogger("services.signals.consumer")
    consumer_log.addHandler(handler)
    level = consumer_log.level
    consumer_log.setLevel(logging.INFO)
    trace_id, caller = secrets.randbits(128), secrets.randbits(64)
    traceparent = f"00-{trace_id:032x}-{caller:016x}-01"
    async with Receiver() as receiver:
        await notifier.webhook(receiver, company)
        body = {
            "reference": new_reference(),
            "company_id": company,
            "published_on": "2025-06-02",
            "rubrics": ["bankruptcy"],
        }
        response = await env.client.post(
            "/v1/publications", json=body, headers={**env.auth("ingest"), "traceparent": traceparent}
        )
        assert response.status_code == 202, response.text
        [delivered] = await receiver.wait_for(1, timeout=env.timeout)
    consumer_log.removeHandler(handler)
    consumer_log.setLevel(level)

    # The receiver is told the trace too, under the delivery's span.
    assert delivered.headers["traceparent"].split("-")[1] == f"{trace_id:032x}"

    found = await env.until(
        lambda: _async(of_trace(spans, trace_id)),
        lambda found: any(s.name == "deliver webhook" for s in found),
        "the delivery span",
    )
    by_name = {s.name: s for s in found}
    request = by_name["POST /v1/publications"]
    process, route, deliver = by_name["process"], by_name["route"], by_name["deliver webhook"]
    # A chain: the caller -> the request -> the signals consumer -> the notifier consumer -> the delivery.
    assert request.parent is not None
    assert request.parent.span_id == caller
    assert process.parent is not None and process.parent.span_id == request.context.span_id  # noqa: PT018
    assert route.parent is not None and route.parent.span_id == process.context.span_id  # noqa: PT018
    assert deliver.parent is not None and deliver.parent.span_id == route.context.span_id  # noqa: PT018
    assert delivered.headers["traceparent"].split("-")[2] == f"{deliver.context.span_id:016x}"
    scopes = [
        s.instrumentation_scope.name for s in (request, process, route, deliver) if s.instrumentation_scope
    ]
    assert scopes == ["fastapi", "earlywarning.signals", "earlywarning.notifier", "earlywarning.notifier"]
    assert len(found) == 4
    # The signals service's log line of the change: the company and the trace, under its span.
    [logged] = [
        entry
        for entry in map(json.loads, lines.getvalue().splitlines())
        if entry.get("company_id") == company and entry["msg"] == "signal bankruptcy raised"
    ]
    assert logged["trace_id"] == f"{trace_id:032x}"
    assert logged["span_id"] == f"{process.context.span_id:016x}"
    assert logged["severity"] == "critical"
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 202


async def _async(value: list[ReadableSpan]) -> list[ReadableSpan]:
    return value


def test_log_lines_carry_the_trace_id(spans: InMemorySpanExporter) -> None:
    record = logging.LogRecord("ew.test", logging.INFO, __file__, 1, "inside", None, None)
    with tracer("test").start_as_current_span("work") as span:
        line = JsonFormatter().format(record)
    context = span.get_span_context()
    assert f'"trace_id":"{context.trace_id:032x}"' in line
    assert f'"span_id":"{context.span_id:016x}"' in line
    assert "trace_id" not in JsonFormatter().format(record)  # outside any span
