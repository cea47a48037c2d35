"""Embedded event bus: topics, partitions, messages, committed offsets, group members.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bus_topics",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("partitions", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_bus_topics"),
    )
    op.create_table(
        "bus_partitions",
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition_no", sa.Integer, nullable=False),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition_no", name="pk_bus_partitions"),
    )
    op.create_table(
        "bus_messages",
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition_no", sa.Integer, nullable=False),
        sa.Column("offset_no", sa.BigInteger, nullable=False),
        sa.Column("msg_key", sa.String(255), nullable=True),
        sa.Column("msg_value", sa.LargeBinary, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition_no", "offset_no", name="pk_bus_messages"),
    )
    op.create_table(
        "bus_offsets",
        sa.Column("group_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition_no", sa.Integer, nullable=False),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column("committed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("group_id", "topic", "partition_no", name="pk_bus_offsets"),
    )
    op.create_table(
        "bus_members",
        sa.Column("group_id", sa.String(255), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("group_id", "member_id", name="pk_bus_members"),
    )


def downgrade() -> None:
    for table in ("bus_members", "bus_offsets", "bus_messages", "bus_partitions", "bus_topics"):
        op.drop_table(table)
