"""Notices as sent: the bytes that went to a platform, kept write-once.

The table refuses UPDATE at the database (a trigger on each dialect): a kept notice is a legal
record and nothing in the bot, or a stray statement, may rewrite it. DELETE stays possible for
retention (a case's records go only with the case, by hand: README "Retention").

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_REFUSAL = "notice_records are write-once: a kept notice cannot be changed"


def upgrade() -> None:
    op.create_table(
        "notice_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("notice_id", sa.Integer(), sa.ForeignKey("notices.id"), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("adapter", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("media_type", sa.String(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=True),
        sa.Column("in_reply_to", sa.String(), nullable=True),
        sa.Column("path", sa.String(), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("config_sha256", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notice_records_notice_id", "notice_records", ["notice_id"])
    op.create_index("ix_notice_records_case_id", "notice_records", ["case_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION notice_records_write_once() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER notice_records_write_once BEFORE UPDATE ON notice_records "
            "FOR EACH ROW EXECUTE FUNCTION notice_records_write_once()"
        )
    else:
        op.execute(
            "CREATE TRIGGER notice_records_write_once BEFORE UPDATE ON notice_records "
            f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS notice_records_write_once ON notice_records"
               if op.get_bind().dialect.name == "postgresql"
               else "DROP TRIGGER IF EXISTS notice_records_write_once")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS notice_records_write_once()")
    op.drop_index("ix_notice_records_case_id", table_name="notice_records")
    op.drop_index("ix_notice_records_notice_id", table_name="notice_records")
    op.drop_table("notice_records")
