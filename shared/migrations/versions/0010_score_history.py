"""The score history: a company's score and risk level each time they changed, in event time.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "score_history",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("risk_level", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("company_id", "at", name="pk_score_history"),
    )


def downgrade() -> None:
    op.drop_table("score_history")
