"""The company clock: the event time a company was last judged as of, which never moves back.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("companies") as batch:
        batch.add_column(sa.Column("as_of", UTCDateTime, nullable=True))
    # The sweep visits the companies judged longest ago first.
    op.create_index("ix_companies_as_of", "companies", ["as_of"])


def downgrade() -> None:
    op.drop_index("ix_companies_as_of", "companies")
    with op.batch_alter_table("companies") as batch:
        batch.drop_column("as_of")
