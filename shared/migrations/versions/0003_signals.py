"""Signals: the timeline of source events, companies, signals and the outbox of signal events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_events",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("summary", sa.String(1000), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("company_id", "source", "event_id", name="pk_source_events"),
    )
    op.create_index("ix_source_events_company_at", "source_events", ["company_id", "at"])
    op.create_table(
        "companies",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("name", sa.String(300), nullable=True),
        sa.Column("portfolio", sa.Text, nullable=True),
        sa.Column("risk_level", sa.String(16), nullable=True),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("company_id", name="pk_companies"),
    )
    op.create_table(
        "signals",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("signal", sa.String(64), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.String(1000), nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("raised_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("resolved_at", UTCDateTime, nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_signals"),
    )
    op.create_index("ix_signals_company_signal_status", "signals", ["company_id", "signal", "status"])
    op.create_index("ix_signals_raised_at_id", "signals", ["raised_at", "id"])
    op.create_table(
        "signal_outbox",
        sa.Column("seq", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_signal_outbox"),
        sa.UniqueConstraint("event_id", name="uq_signal_outbox_event_id"),
    )
    op.create_index("ix_signal_outbox_published_at_seq", "signal_outbox", ["published_at", "seq"])


def downgrade() -> None:
    for table in ("signal_outbox", "signals", "companies", "source_events"):
        op.drop_table(table)
