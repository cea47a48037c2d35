"""Kafka's default partitioner, so that a key lands in the same partition on both buses."""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_for(key: str, partitions: int) -> int:
    """The partition of `key` among `partitions`, as Kafka's murmur2 default partitioner picks it."""
    return (int(murmur2(key.encode())) & 0x7FFFFFFF) % partitions
