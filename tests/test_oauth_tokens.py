"""Mercado Libre's refresh tokens work once: the current one is kept in the database, shared by
every process, on SQLite files and on PostgreSQL (storage/tokens.py through the adapter).

Each "process" here is an adapter with its own store object, as separate processes have; only the
database (and, on SQLite, the lock file beside it) is shared."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from app_yaml import build_config
from conftest import SlackDriver, eventually
from fakes.mercadolibre import FakeMercadoLibre, OAuthApp
from sqlalchemy import select
from test_adapter_mercadolibre import make_adapter, make_notice

from bot.config.schema import AppConfig
from bot.delivery.adapters.mercadolibre import MercadoLibreAdapter
from storage.db import Database
from storage.models import Notice, OAuthToken
from storage.tokens import DatabaseTokens

FIRST = "TG-first-refresh-token-7q6w"


@pytest.fixture
async def meli() -> AsyncIterator[FakeMercadoLibre]:
    app = OAuthApp(client_id="1234567890123456", client_secret="s3cret", refresh_token=FIRST)
    async with FakeMercadoLibre(oauth=app) as server:
        yield server


def process(
    db: Database,
    http: aiohttp.ClientSession,
    meli: FakeMercadoLibre,
    *,
    refresh_token: str = FIRST,
    now: list[float] | None = None,
) -> MercadoLibreAdapter:
    oauth = {
        "client_id": "1234567890123456",
        "client_secret": "s3cret",
        "refresh_token": refresh_token,
        "token_url": meli.token_url,
    }
    adapter = make_adapter(http, meli.base_url, token=None, oauth=oauth, timeout=5)
    adapter.token_store = DatabaseTokens(db)  # as the runtime does
    if now is not None:
        assert adapter.tokens is not None
        adapter.tokens.clock = lambda: now[0]
    return adapter


def refreshed_with(meli: FakeMercadoLibre) -> list[str]:
    return [form["refresh_token"] for form in meli.token_requests]


async def test_processes_share_one_access_token_and_one_refresh(
    db: Database, http: aiohttp.ClientSession, meli: FakeMercadoLibre
) -> None:
    meli.token_delay = 0.3  # both ask while the first refresh is under way
    first, second = process(db, http, meli), process(db, http, meli)

    await asyncio.gather(
        first.submit(make_notice("MLA1000000001")), second.submit(make_notice("MLA1000000002"))
    )

    assert refreshed_with(meli) == [FIRST]
    assert {r.headers["Authorization"] for r in meli.requests} == {"Bearer APP_USR-fake-access-1"}


async def test_a_restarted_process_uses_the_refresh_token_kept_not_the_spent_one(
    db: Database, http: aiohttp.ClientSession, meli: FakeMercadoLibre
) -> None:
    now = [1_000_000.0]
    await process(db, http, meli, now=now).submit(make_notice("MLA1000000001"))
    now[0] += 6 * 3600  # later, after a restart: the access token has expired
    await process(db, http, meli, now=now).submit(make_notice("MLA1000000002"))
    now[0] += 6 * 3600
    await process(db, http, meli, now=now).submit(make_notice("MLA1000000003"))

    assert refreshed_with(meli) == [FIRST, "TG-fake-refresh-1", "TG-fake-refresh-2"]
    async with db.sessions() as session:
        [row] = (await session.execute(select(OAuthToken))).scalars().all()
    assert row.key == "mercadolibre:1234567890123456"
    assert (row.refresh_token, row.access_token) == ("TG-fake-refresh-3", "APP_USR-fake-access-3")
    assert FIRST not in row.seed  # a fingerprint, not the token


async def test_a_token_one_process_renewed_is_taken_up_by_the_others(
    db: Database, http: aiohttp.ClientSession, meli: FakeMercadoLibre
) -> None:
    first, second = process(db, http, meli), process(db, http, meli)
    await first.submit(make_notice("MLA1000000001"))
    await second.submit(make_notice("MLA1000000002"))  # the kept token: no refresh
    meli.expire_tokens()
    await first.submit(make_notice("MLA1000000003"))  # refused, renewed
    await second.submit(make_notice("MLA1000000004"))  # refused, takes up the renewed one

    assert refreshed_with(meli) == [FIRST, "TG-fake-refresh-1"]
    assert [r.headers["Authorization"] for r in meli.requests] == [
        "Bearer APP_USR-fake-access-1",
        "Bearer APP_USR-fake-access-1",
        "Bearer APP_USR-fake-access-1",
        "Bearer APP_USR-fake-access-2",
        "Bearer APP_USR-fake-access-1",
        "Bearer APP_USR-fake-access-2",
    ]


async def test_a_new_refresh_token_in_the_configuration_replaces_the_one_kept(
    db: Database, http: aiohttp.ClientSession, meli: FakeMercadoLibre
) -> None:
    await process(db, http, meli).submit(make_notice("MLA1000000001"))
    assert meli.oauth is not None
    meli.oauth.refresh_token = "TG-from-a-new-consent"  # the team signed in again

    await process(db, http, meli, refresh_token="TG-from-a-new-consent").submit(
        make_notice("MLA1000000002")
    )

    assert refreshed_with(meli) == [FIRST, "TG-from-a-new-consent"]


async def test_a_failed_refresh_keeps_nothing_and_the_lock_is_free_again(
    db: Database, http: aiohttp.ClientSession, meli: FakeMercadoLibre
) -> None:
    from bot.delivery.adapters.base import PermanentError

    spent = process(db, http, meli, refresh_token="TG-spent-long-ago")
    with pytest.raises(PermanentError, match="refused the refresh token"):
        await spent.submit(make_notice("MLA1000000001"))
    async with db.sessions() as session:
        assert (await session.execute(select(OAuthToken))).scalars().all() == []

    good: Any = process(db, http, meli)
    await asyncio.wait_for(good.submit(make_notice("MLA1000000002")), timeout=5)
    assert refreshed_with(meli) == ["TG-spent-long-ago", FIRST]


# --- through the running bot: the runtime gives the adapter the database's store --------------------


@pytest.fixture
def config(meli: FakeMercadoLibre) -> AppConfig:
    mercadolibre = {
        "adapter": "mercadolibre",
        "base_url": meli.base_url,
        "oauth": {
            "token_url": meli.token_url,
            "client_id": "1234567890123456",
            "client_secret": "${MELI_CLIENT_SECRET}",
            "refresh_token": "${MELI_REFRESH_TOKEN}",
        },
        "report_reasons": {"counterfeit": "PPPI1"},
        "poll_every": "1s",
        "timeout": 2,
    }
    return build_config(
        platforms={"mercadolibre": mercadolibre},
        environ={"MELI_CLIENT_SECRET": "s3cret", "MELI_REFRESH_TOKEN": FIRST},
    )


async def test_the_bot_renews_mercado_libres_tokens_and_keeps_the_next_refresh_token(
    bot: SlackDriver, meli: FakeMercadoLibre
) -> None:
    _, body = await bot.submit_report(
        urls="https://articulo.mercadolibre.com.ar/MLA-1234567890-mochila-acme-_JM"
    )
    assert body["response_action"] == "update"

    async def kept() -> OAuthToken | None:
        async with bot.bot.db.sessions() as session:
            return await session.get(OAuthToken, "mercadolibre:1234567890123456")

    async def sent() -> bool:
        return any(r.method == "POST" for r in meli.requests) and await kept() is not None

    await eventually(sent)
    assert refreshed_with(meli) == [FIRST]
    assert (row := await kept()) is not None and row.refresh_token == "TG-fake-refresh-1"
    meli.expire_tokens()  # the next poll is refused, renews with the kept refresh token, goes on

    async def renewed() -> bool:
        polls = [r for r in meli.requests if r.method == "GET"]
        return bool(polls) and polls[-1].headers["Authorization"] == "Bearer APP_USR-fake-access-2"

    await eventually(renewed, timeout=15)
    assert refreshed_with(meli) == [FIRST, "TG-fake-refresh-1"]
    assert (row := await kept()) is not None and row.refresh_token == "TG-fake-refresh-2"


# --- what could lose the chain of refresh tokens ----------------------------------------------------


async def test_a_request_cancelled_during_a_refresh_does_not_lose_the_next_refresh_token(
    db: Database, http: aiohttp.ClientSession, meli: FakeMercadoLibre
) -> None:
    """The worker cancels a run whose lease it cannot renew; the refresh goes on without it."""
    now = [1_000_000.0]
    adapter = process(db, http, meli, now=now)
    meli.token_delay = 0.5
    run = asyncio.create_task(adapter.submit(make_notice("MLA1000000001")))
    await asyncio.sleep(0.2)  # the refresh token is on its way to Mercado Libre
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert adapter.tokens is not None
    await adapter.tokens.settle()
    meli.token_delay = 0
    now[0] += 6 * 3600
    await process(db, http, meli, now=now).submit(make_notice("MLA1000000002"))

    assert refreshed_with(meli) == [FIRST, "TG-fake-refresh-1"]


@pytest.fixture
async def failing_saves(db: Database) -> AsyncIterator[Any]:
    """Makes the database refuse to store tokens until the returned function is called."""
    if db.is_postgres:
        create = [
            "CREATE FUNCTION refuse_tokens() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'no space left on device'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_tokens BEFORE INSERT OR UPDATE ON oauth_tokens "
            "FOR EACH ROW EXECUTE FUNCTION refuse_tokens()",
        ]
        drop = ["DROP TRIGGER refuse_tokens ON oauth_tokens", "DROP FUNCTION refuse_tokens()"]
    else:
        create = [
            "CREATE TRIGGER refuse_tokens BEFORE INSERT ON oauth_tokens "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        ]
        drop = ["DROP TRIGGER refuse_tokens"]

    async def run(statements: list[str]) -> None:
        async with db.engine.begin() as conn:
            for statement in statements:
                await conn.exec_driver_sql(statement)

    await run(create)
    yield lambda: run(drop)


async def test_tokens_the_database_could_not_keep_are_used_and_kept_at_the_next_request(
    db: Database, http: aiohttp.ClientSession, meli: FakeMercadoLibre, failing_saves: Any
) -> None:
    adapter = process(db, http, meli)
    await adapter.submit(make_notice("MLA1000000001"))  # refreshed; keeping the tokens failed
    async with db.sessions() as session:
        assert (await session.execute(select(OAuthToken))).scalars().all() == []

    await failing_saves()  # the database is back
    await adapter.submit(make_notice("MLA1000000002"))

    assert refreshed_with(meli) == [FIRST]  # no second refresh: the tokens held were kept
    async with db.sessions() as session:
        [row] = (await session.execute(select(OAuthToken))).scalars().all()
    assert row.refresh_token == "TG-fake-refresh-1"


async def test_a_second_refusal_after_renewing_is_the_platforms_answer(
    db: Database, http: aiohttp.ClientSession, meli: FakeMercadoLibre
) -> None:
    from bot.delivery.adapters.base import PermanentError

    adapter = process(db, http, meli)
    meli.error_next(status=401, message="invalid access token", times=2)

    with pytest.raises(PermanentError, match="HTTP 401"):
        await adapter.submit(make_notice("MLA1000000001"))

    assert refreshed_with(meli) == [FIRST, "TG-fake-refresh-1"]  # renewed once, not twice
    assert len([r for r in meli.requests if r.method == "POST"]) == 2


async def test_tokens_handed_out_are_scrubbed_from_stored_errors_and_the_thread(
    bot: SlackDriver, meli: FakeMercadoLibre
) -> None:
    meli.error_next(status=400, message="token APP_USR-fake-access-1 may not denounce this item")
    await bot.submit_report(
        urls="https://articulo.mercadolibre.com.ar/MLA-1234567890-mochila-acme-_JM"
    )

    async def failed() -> Any:
        async with bot.bot.db.sessions() as session:
            found = (await session.execute(select(Notice))).scalars().all()
        return found if found and found[0].status == "failed" else None

    [notice] = await eventually(failed)
    assert "may not denounce" in (notice.last_error or "")
    assert "APP_USR-fake-access-1" not in (notice.last_error or "")
    assert "[redacted]" in (notice.last_error or "")
    await eventually(
        lambda: _value(any("may not denounce" in json.dumps(c.params) for c in _posts(bot)))
    )
    assert not any("APP_USR-fake-access-1" in json.dumps(c.params) for c in _posts(bot))


def _posts(bot: SlackDriver) -> list[Any]:
    return bot.slack.calls_to("chat.postMessage")


async def _value(value: Any) -> Any:
    return value
