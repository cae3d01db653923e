"""Indexes for the digest (listings by report time) and the scorecard (needs-info events).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_listings_created_at", "listings", ["created_at"])
    op.create_index(
        "ix_events_needs_info",
        "events",
        ["listing_id"],
        sqlite_where=sa.text(
            "kind = 'status_changed' AND json_extract(detail, '$.to') = 'needs_info'"
        ),
        postgresql_where=sa.text("kind = 'status_changed' AND (detail ->> 'to') = 'needs_info'"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_needs_info", table_name="events")
    op.drop_index("ix_listings_created_at", table_name="listings")
