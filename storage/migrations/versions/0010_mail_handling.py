"""What became of each message from the mailbox: suggested in a case's thread, applied, waiting
in the triage inbox, or dismissed.

`mail_messages` is write-once (the message as it arrived); what people and the bot do with a
message changes, so it is kept beside it, one row per message, changed only by guarded writes
(`UPDATE … WHERE state = :expected`), so a button pressed twice acts once.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mail_handling",
        sa.Column(
            "mail_id",
            _BIGINT_ID,
            sa.ForeignKey("mail_messages.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=True),
        sa.Column("notice_id", sa.Integer(), sa.ForeignKey("notices.id"), nullable=True),
        sa.Column("matched_by", sa.String(), nullable=True),
        sa.Column("suggestions", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_mail_handling_state", "mail_handling", ["state"])
    op.create_index("ix_mail_handling_case_id", "mail_handling", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_mail_handling_case_id", table_name="mail_handling")
    op.drop_index("ix_mail_handling_state", table_name="mail_handling")
    op.drop_table("mail_handling")
