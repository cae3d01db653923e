"""Cases filed from a private channel remember it: only its members and the approvers read them.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("private_channel", sa.String(), nullable=True))
    op.create_index("ix_cases_private_channel", "cases", ["private_channel"])


def downgrade() -> None:
    op.drop_index("ix_cases_private_channel", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("private_channel")
