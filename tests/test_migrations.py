"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage.db import Database


async def test_migrated_schema_matches_the_models(db: Database) -> None:
    def differences(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        return list(compare_metadata(context, SQLModel.metadata))

    async with db.engine.connect() as conn:
        diff = await conn.run_sync(differences)
    assert diff == []


async def test_downgrade_to_nothing_and_back(db: Database) -> None:
    from alembic import command

    from storage.db import _alembic_config

    config = _alembic_config(db.url)

    def down_and_up(conn: Connection) -> None:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
        command.upgrade(config, "head")

    async with db.engine.begin() as conn:
        await conn.run_sync(down_and_up)
    assert (await db.schema_status()).ok
