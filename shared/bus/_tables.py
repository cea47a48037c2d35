"""Tables of the embedded bus (created by migration 0001)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, String, Table, Text

from shared.db import UTCDateTime, metadata

bus_topics = Table(
    "bus_topics",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("partitions", Integer, nullable=False),
)

# One row per partition: the next offset to hand out. Publishing locks this row, which serialises
# offset allocation per partition across processes on both SQLite and PostgreSQL.
bus_partitions = Table(
    "bus_partitions",
    metadata,
    Column("topic", String(255), primary_key=True),
    Column("partition_no", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
)

bus_messages = Table(
    "bus_messages",
    metadata,
    Column("topic", String(255), primary_key=True),
    Column("partition_no", Integer, primary_key=True),
    Column("offset_no", BigInteger, primary_key=True),
    Column("msg_key", String(255), nullable=True),
    Column("msg_value", LargeBinary, nullable=False),
    Column("headers", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

bus_offsets = Table(
    "bus_offsets",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("topic", String(255), primary_key=True),
    Column("partition_no", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
    Column("committed_at", UTCDateTime, nullable=False),
)

# Live members of each consumer group; a member that stops heart-beating is dropped from the assignment.
bus_members = Table(
    "bus_members",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("member_id", String(64), primary_key=True),
    Column("heartbeat_at", UTCDateTime, nullable=False),
)
