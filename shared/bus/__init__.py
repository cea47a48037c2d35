"""The event bus: one interface (`Bus`, `Consumer`), Kafka and embedded implementations, the worker loop."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.bus._base import (
    Bus,
    BusError,
    BusUnavailable,
    Consumer,
    Header,
    Message,
    PartitionInfo,
    Record,
    TopicPartition,
)
from shared.bus.embedded import EmbeddedBus
from shared.bus.kafka import KafkaBus
from shared.bus.worker import Handler, Poison, Worker, dead_letter, is_transient, sleep_or_stop
from shared.settings import Settings


def create_bus(settings: Settings, engine: AsyncEngine, *, client_id: str = "earlywarning") -> Bus:
    """Kafka when `EW_KAFKA_BOOTSTRAP` is set, otherwise the embedded bus in the database."""
    if settings.kafka_bootstrap:
        return KafkaBus(
            settings.kafka_bootstrap,
            partitions=settings.bus_partitions,
            replication=settings.bus_replication,
            client_id=client_id,
            publish_timeout=settings.bus_publish_timeout,
        )
    return EmbeddedBus(engine, partitions=settings.bus_partitions, poll_interval=settings.bus_poll_interval)


__all__ = [
    "Bus",
    "BusError",
    "BusUnavailable",
    "Consumer",
    "EmbeddedBus",
    "Handler",
    "Header",
    "KafkaBus",
    "Message",
    "PartitionInfo",
    "Poison",
    "Record",
    "TopicPartition",
    "Worker",
    "create_bus",
    "dead_letter",
    "is_transient",
    "sleep_or_stop",
]
