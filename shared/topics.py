"""Topic names of contract section 7."""

from __future__ import annotations

PORTFOLIO = "ew.portfolio"
OBSERVATIONS = "ew.observations"
PUBLICATIONS = "ew.publications"
BUREAU = "ew.bureau"
ORDERS = "ew.orders"
CONTACTS = "ew.contacts"
REGISTER = "ew.register"
SIGNALS = "ew.signals"

INTAKE_TOPICS: tuple[str, ...] = (PORTFOLIO, OBSERVATIONS, PUBLICATIONS, BUREAU, ORDERS, CONTACTS, REGISTER)
ALL_TOPICS: tuple[str, ...] = (*INTAKE_TOPICS, SIGNALS)
COMPACTED_TOPICS: frozenset[str] = frozenset({PORTFOLIO})

DLQ_PREFIX = "ew.dlq."


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return DLQ_PREFIX + topic


def is_dlq(topic: str) -> bool:
    return topic.startswith(DLQ_PREFIX)


def dlq_source(topic: str) -> str:
    """The topic whose dead letters `topic` holds."""
    if not is_dlq(topic):
        raise ValueError(f"{topic} is not a dead-letter topic")
    return topic.removeprefix(DLQ_PREFIX)


def with_dlqs(topics: tuple[str, ...] | list[str]) -> list[str]:
    """The topics and their dead-letter topics."""
    return [*topics, *(dlq_topic(t) for t in topics)]
