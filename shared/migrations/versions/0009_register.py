"""The public register (KBO/BCE Open Data): enterprises, names, registered offices, main activities,
establishment units, code descriptions, departed enterprises, and the state of imports and announcements.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "register_codes",
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("category", "code", "language", name="pk_register_codes"),
    )
    op.create_table(
        "register_enterprises",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("status", sa.String(2), nullable=False),
        sa.Column("juridical_situation", sa.String(3), nullable=False),
        sa.Column("type_of_enterprise", sa.String(1), nullable=False),
        sa.Column("juridical_form", sa.String(3), nullable=True),
        sa.Column("juridical_form_cac", sa.String(3), nullable=True),
        sa.Column("start_date", sa.Date, nullable=True),
        sa.PrimaryKeyConstraint("company_id", name="pk_register_enterprises"),
    )
    op.create_table(
        "register_denominations",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("language", sa.String(1), nullable=False),
        sa.Column("type", sa.String(3), nullable=False),
        sa.Column("name", sa.String(320), nullable=False),
    )
    op.create_index("ix_register_denominations_company_id", "register_denominations", ["company_id"])
    op.create_table(
        "register_offices",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("zipcode", sa.String(20), nullable=True),
        sa.Column("municipality_nl", sa.String(200), nullable=True),
        sa.Column("municipality_fr", sa.String(200), nullable=True),
        sa.Column("street_nl", sa.String(200), nullable=True),
        sa.Column("street_fr", sa.String(200), nullable=True),
        sa.Column("house_number", sa.String(22), nullable=True),
        sa.Column("box", sa.String(20), nullable=True),
        sa.Column("country_nl", sa.String(100), nullable=True),
        sa.Column("country_fr", sa.String(100), nullable=True),
        sa.Column("struck_off_on", sa.Date, nullable=True),
        sa.Column("office_key", sa.String(16), nullable=False),
    )
    op.create_index("ix_register_offices_company_id", "register_offices", ["company_id"])
    op.create_table(
        "register_activities",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("activity_group", sa.String(3), nullable=False),
        sa.Column("nace_version", sa.String(4), nullable=False),
        sa.Column("nace_code", sa.String(8), nullable=False),
    )
    op.create_index("ix_register_activities_company_id", "register_activities", ["company_id"])
    op.create_table(
        "register_establishments",
        sa.Column("establishment_number", sa.String(10), nullable=False),
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("start_date", sa.Date, nullable=True),
        sa.PrimaryKeyConstraint("establishment_number", name="pk_register_establishments"),
    )
    op.create_index("ix_register_establishments_company_id", "register_establishments", ["company_id"])
    op.create_table(
        "register_departed",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("extract_number", sa.Integer, nullable=False),
        sa.Column("snapshot_date", sa.Date, nullable=False),
        sa.Column("juridical_situation", sa.String(3), nullable=True),
        sa.Column("juridical_form", sa.String(3), nullable=True),
        sa.Column("start_date", sa.Date, nullable=True),
        sa.PrimaryKeyConstraint("company_id", name="pk_register_departed"),
    )
    op.create_table(
        "register_extracts",
        sa.Column("extract_number", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("snapshot_date", sa.Date, nullable=False),
        sa.Column("extract_timestamp", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("extract_number", name="pk_register_extracts"),
    )
    op.create_table(
        "register_progress",
        sa.Column("extract_number", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("written", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("examples", sa.Text, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("extract_number", "step", name="pk_register_progress"),
    )
    op.create_table(
        "register_watch",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("present", sa.Boolean, nullable=True),
        sa.Column("juridical_situation", sa.String(3), nullable=True),
        sa.Column("office_key", sa.String(16), nullable=True),
        sa.Column("baseline", sa.Boolean, nullable=False),
        sa.Column("extract_number", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("company_id", name="pk_register_watch"),
    )


def downgrade() -> None:
    for table in (
        "register_watch",
        "register_progress",
        "register_extracts",
        "register_departed",
        "register_establishments",
        "register_activities",
        "register_offices",
        "register_denominations",
        "register_enterprises",
        "register_codes",
    ):
        op.drop_table(table)
