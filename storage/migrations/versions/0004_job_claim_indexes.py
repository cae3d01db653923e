"""Partial indexes for claiming jobs: the cost of a claim no longer grows with the queue's history.

A claim used to read every due job (and, per serial key, every earlier job ever run) before taking
the first few: 160 ms per claim with a few thousand jobs waiting. Now queued jobs are read in
(run_at, id) order from an index of queued jobs only and the scan stops at the limit; the serial
check looks only at queued and running jobs; expired leases have an index of their own.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_QUEUED = "state = 'queued'"
_RUNNING = "state = 'running'"
_ACTIVE = "state IN ('queued', 'running')"


def _partial(name: str, columns: list[str], condition: str) -> None:
    where = sa.text(condition)
    op.create_index(name, "jobs", columns, sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    op.drop_index("ix_jobs_claim", table_name="jobs")
    op.drop_index("ix_jobs_serial", table_name="jobs")
    _partial("ix_jobs_queued", ["run_at", "id"], _QUEUED)
    _partial("ix_jobs_leased", ["lease_expires_at"], _RUNNING)
    _partial("ix_jobs_serial_active", ["serial_key", "id"], _ACTIVE)


def downgrade() -> None:
    op.drop_index("ix_jobs_serial_active", table_name="jobs")
    op.drop_index("ix_jobs_leased", table_name="jobs")
    op.drop_index("ix_jobs_queued", table_name="jobs")
    op.create_index("ix_jobs_serial", "jobs", ["serial_key", "id"])
    op.create_index("ix_jobs_claim", "jobs", ["state", "run_at"])
