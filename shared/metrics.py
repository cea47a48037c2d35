"""Prometheus series of the services: the bus plumbing, the HTTP layer and what the services decide."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "ew_http_requests_total",
    "HTTP requests by service, route and status.",
    ["service", "route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "ew_http_request_duration_seconds", "HTTP request latency by service and route.", ["service", "route"]
)
MESSAGES_PUBLISHED = Counter("ew_bus_published_total", "Messages published, by topic.", ["topic"])
MESSAGES_CONSUMED = Counter(
    "ew_bus_consumed_total", "Messages processed, by consumer group and topic.", ["group", "topic"]
)
MESSAGES_DEAD_LETTERED = Counter(
    "ew_bus_dead_lettered_total",
    "Messages moved to a dead-letter topic, by source topic.",
    ["group", "topic"],
)
CONSUMER_LAG = Gauge(
    "ew_bus_consumer_lag",
    "Messages of a partition not yet processed by this member of a consumer group, as of its last poll.",
    ["group", "topic", "partition"],
)
DEAD_LETTERS = Gauge(
    "ew_bus_dead_letters",
    "Messages in a dead-letter topic not replayed yet (`earlywarning dlq replay`), by dead-letter topic.",
    ["topic"],
)
BATCH_DURATION = Histogram(
    "ew_bus_batch_duration_seconds", "Time to process one consumed batch, by consumer group.", ["group"]
)
SIGNAL_CHANGES = Counter(
    "ew_signal_changes_total",
    "Signal changes committed (each one event on ew.signals), by signal, severity and change.",
    ["signal", "severity", "change"],
)
SWEEP_COMPANIES = Counter("ew_signals_sweep_companies_total", "Companies judged again by the sweep.")
SWEEP_DURATION = Histogram("ew_signals_sweep_duration_seconds", "Time one sweep took.")
DELIVERIES = Counter(
    "ew_deliveries_total",
    "Delivery attempts recorded, by channel and resulting status.",
    ["channel", "status"],
)
DELIVERY_BACKLOG = Gauge(
    "ew_delivery_backlog",
    "Deliveries not sent yet, by status: pending (due now or waiting for a retry) and digest.",
    ["status"],
)
