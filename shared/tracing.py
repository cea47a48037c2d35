"""OpenTelemetry tracing: one trace from the HTTP request through the bus to the webhook delivery.

The context crosses the bus as the CloudEvents distributed-tracing extension (`traceparent`, and
`tracestate` when there is one: the `ce_traceparent` header in binary mode), so that it lives in the event
itself and survives the outbox and the delivery table, where it is stored beside the event.

`configure_tracing` installs the SDK once per process. Spans are exported only when the standard variables
ask for it: `OTEL_TRACES_EXPORTER=otlp` (or `console`), or an `OTEL_EXPORTER_OTLP_ENDPOINT` /
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the exporter reads the others: headers, timeout, protocol
http/protobuf). Without them the trace ids are still made and propagated, and written in the logs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "TRACE_FIELDS",
    "configure_tracing",
    "consuming",
    "context_of",
    "current_ids",
    "trace_fields",
    "tracer",
]

TRACE_FIELDS = ("traceparent", "tracestate")
"""The W3C Trace Context fields, also the names of the CloudEvents extension attributes."""

_PROPAGATOR = TraceContextTextMapPropagator()


def configure_tracing(service: str) -> None:
    """Install the SDK's tracer provider, unless one is installed (one process may serve several
    services) or `OTEL_SDK_DISABLED=true`."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return
    name = os.environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    exporter = _exporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def _exporter() -> SpanExporter | None:
    chosen = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if chosen == "console":
        return ConsoleSpanExporter()
    if chosen == "otlp" or (not chosen and endpoint):
        # Imported only when used: the exporter pulls in protobuf.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return None


def tracer(service: str) -> Tracer:
    """The tracer of a service (`earlywarning.ingest`...): the instrumentation scope names the service."""
    return trace.get_tracer(f"earlywarning.{service}")


def trace_fields(context: Context | None = None) -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the current span, or of `context`; empty without a valid one."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return {name: value for name, value in carrier.items() if name in TRACE_FIELDS}


def context_of(fields: Mapping[str, str]) -> Context | None:
    """The context to continue from `traceparent`/`tracestate` fields; None when there is none valid."""
    carried = {name: fields[name] for name in TRACE_FIELDS if fields.get(name)}
    if "traceparent" not in carried:
        return None
    context = _PROPAGATOR.extract(carried)
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, for the logs; None outside a valid span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


def traceparent_of(span: Span | None) -> str | None:
    """The `traceparent` that continues `span`'s trace under it."""
    if span is None:
        return None
    return trace_fields(trace.set_span_in_context(span)).get("traceparent")


@contextmanager
def consuming(tracer: Tracer, name: str, parents: Sequence[Context | None]) -> Iterator[list[Span | None]]:
    """A consumer span for each message that carries a trace (None for the others), each continuing its
    message's trace, all ended when the batch is done; a failed batch marks them as errors."""
    spans = [
        tracer.start_span(name, context=parent, kind=SpanKind.CONSUMER) if parent is not None else None
        for parent in parents
    ]
    try:
        yield spans
    except BaseException as exc:
        for span in spans:
            if span is not None:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        for span in spans:
            if span is not None:
                span.end()
