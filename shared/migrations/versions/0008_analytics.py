"""Facts for the portfolio analyses: orders, annual accounts and company firmographics as columns.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("order_id", sa.String(100), nullable=False),
        sa.Column("ordered_at", UTCDateTime, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("product_line", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("company_id", "order_id", name="pk_orders"),
    )
    op.create_index("ix_orders_ordered_at", "orders", ["ordered_at"])
    op.create_index("ix_orders_company_id_ordered_at", "orders", ["company_id", "ordered_at"])
    op.create_table(
        "annual_accounts",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("fiscal_year", sa.Integer, nullable=False),
        sa.Column("revenue_cents", sa.BigInteger, nullable=True),
        sa.Column("employees", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("company_id", "fiscal_year", name="pk_annual_accounts"),
    )
    op.create_table(
        "company_facts",
        sa.Column("company_id", sa.String(16), nullable=False),
        sa.Column("employees", sa.Integer, nullable=True),
        sa.Column("nace", sa.String(10), nullable=True),
        sa.Column("sector", sa.String(1), nullable=True),
        sa.Column("region", sa.String(100), nullable=True),
        sa.Column("customer_since", sa.Date, nullable=True),
        sa.Column("payment_days", sa.Integer, nullable=True),
        sa.Column("payment_at", UTCDateTime, nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("company_id", name="pk_company_facts"),
    )


def downgrade() -> None:
    for table in ("company_facts", "annual_accounts", "orders"):
        op.drop_table(table)
