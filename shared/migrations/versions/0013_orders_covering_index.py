"""Orders: the (company_id, ordered_at) index becomes (company_id, ordered_at, amount_cents, product_line),
so that the portfolio analyses total each customer's orders (per product line for share of wallet) from the
index alone, in company order, without reading the table or sorting; it serves every lookup the narrower
index served, which is dropped.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_covering",
        "orders",
        ["company_id", "ordered_at", "amount_cents", "product_line"],
    )
    op.drop_index("ix_orders_company_id_ordered_at", table_name="orders")


def downgrade() -> None:
    op.create_index("ix_orders_company_id_ordered_at", "orders", ["company_id", "ordered_at"])
    op.drop_index("ix_orders_covering", table_name="orders")
