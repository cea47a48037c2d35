"""Contacts and the buying unit: the intake's record of each contact, the signals service's DMU table, and
the segment of each company as a column (the analyses group by it).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=False),
        sa.Column("entry", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("company_id", "contact_id", name="pk_contacts"),
    )
    op.create_table(
        "dmu_contacts",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=False),
        sa.Column("function", sa.String(200), nullable=True),
        sa.Column("dmu_role", sa.String(32), nullable=False),
        sa.Column("last_contact_at", UTCDateTime, nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("company_id", "contact_id", name="pk_dmu_contacts"),
    )
    op.create_index("ix_dmu_contacts_dmu_role", "dmu_contacts", ["dmu_role"])
    with op.batch_alter_table("companies") as batch:
        batch.add_column(sa.Column("segment", sa.String(100), nullable=True))
    op.create_index("ix_companies_segment", "companies", ["segment"])


def downgrade() -> None:
    op.drop_index("ix_companies_segment", "companies")
    with op.batch_alter_table("companies") as batch:
        batch.drop_column("segment")
    op.drop_table("dmu_contacts")
    op.drop_table("contacts")
