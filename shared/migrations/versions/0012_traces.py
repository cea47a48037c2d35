"""The trace of a signal event, kept in the outbox and in the deliveries, so that it reaches the webhook.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("signal_outbox", "deliveries"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("traceparent", sa.String(64), nullable=True))


def downgrade() -> None:
    for table in ("signal_outbox", "deliveries"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("traceparent")
