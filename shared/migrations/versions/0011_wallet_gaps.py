"""Share-of-wallet gaps: the cross-sell analysis of the last sweep, per company and product line.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet_gaps",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("product_line", sa.String(100), nullable=False),
        sa.Column("share", sa.Float, nullable=False),
        sa.Column("potential_cents", sa.BigInteger, nullable=False),
        sa.Column("computed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("company_id", "product_line", name="pk_wallet_gaps"),
    )


def downgrade() -> None:
    op.drop_table("wallet_gaps")
