"""The team's mailbox: each folder's read position, and every message read, kept write-once.

`mail_messages` refuses UPDATE at the database, like `notice_records` (migration 0007): a message
is evidence of what a platform said, kept as the bytes it arrived as.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_REFUSAL = "mail_messages are write-once: a kept message cannot be changed"
_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mailbox_cursors",
        sa.Column("folder", sa.String(), primary_key=True),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "mail_messages",
        sa.Column("id", _BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(), nullable=False, unique=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=True),
        sa.Column("sender", sa.String(), nullable=True),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=True),
        sa.Column("notice_id", sa.Integer(), sa.ForeignKey("notices.id"), nullable=True),
        sa.Column("platform", sa.String(), nullable=True),
        sa.Column("matched_by", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("suggestions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_mail_messages_message_id", "mail_messages", ["message_id"])
    op.create_index("ix_mail_messages_state", "mail_messages", ["state"])
    op.create_index("ix_mail_messages_case_id", "mail_messages", ["case_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION mail_messages_write_once() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER mail_messages_write_once BEFORE UPDATE ON mail_messages "
            "FOR EACH ROW EXECUTE FUNCTION mail_messages_write_once()"
        )
    else:
        op.execute(
            "CREATE TRIGGER mail_messages_write_once BEFORE UPDATE ON mail_messages "
            f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS mail_messages_write_once ON mail_messages")
        op.execute("DROP FUNCTION IF EXISTS mail_messages_write_once()")
    else:
        op.execute("DROP TRIGGER IF EXISTS mail_messages_write_once")
    op.drop_index("ix_mail_messages_case_id", table_name="mail_messages")
    op.drop_index("ix_mail_messages_state", table_name="mail_messages")
    op.drop_index("ix_mail_messages_message_id", table_name="mail_messages")
    op.drop_table("mail_messages")
    op.drop_table("mailbox_cursors")
