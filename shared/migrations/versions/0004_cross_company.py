"""Cross-company facts: the person index (mandates per person) and the group graph (shareholdings).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_mandates",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("person_key", sa.String(300), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("birth_year", sa.Integer, nullable=True),
        sa.Column("appointed_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("company_id", "person_key", "role", "event_id", name="pk_person_mandates"),
    )
    op.create_index("ix_person_mandates_person_key", "person_mandates", ["person_key"])
    op.create_table(
        "shareholdings",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("parent_company_id", sa.String(16), nullable=False),
        sa.Column("share_pct", sa.Float, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("company_id", "parent_company_id", name="pk_shareholdings"),
    )
    op.create_index("ix_shareholdings_parent_company_id", "shareholdings", ["parent_company_id"])


def downgrade() -> None:
    for table in ("shareholdings", "person_mandates"):
        op.drop_table(table)
