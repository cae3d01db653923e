"""SLA reminders and escalations fire once per listing; portal reminders once per notice.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("sla_reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sla_escalated_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("reminded_at")
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("sla_escalated_at")
        batch.drop_column("sla_reminded_at")
