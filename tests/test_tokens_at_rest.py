"""Secrets at rest: the OAuth tokens the database keeps are encrypted with TAKEDOWN_SECRET_KEY
(Fernet; several keys for a rotation, the first encrypts), survive a restart and a rotation, and
never appear in the raw database; a token no key decrypts is a clear error; a refresh token rotated
by another process is redacted like an access token; the SQLite file is its owner's alone.

Each "process" is an adapter with its own store, as in tests/test_oauth_tokens.py; the database is
read raw with sqlite3 or asyncpg, as someone who got hold of it would."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from app_yaml import build_config
from conftest import SlackDriver, eventually
from cryptography.fernet import Fernet
from fakes.mercadolibre import FakeMercadoLibre, OAuthApp
from fakes.slack import FakeSlack
from sqlalchemy.engine import make_url
from test_adapter_mercadolibre import make_adapter, make_notice
from test_oauth_tokens import FIRST, refreshed_with

from bot.config.environment import Environment
from bot.config.schema import AppConfig
from bot.config.secret_key import token_cipher
from bot.delivery.adapters.base import PermanentError
from bot.delivery.adapters.mercadolibre import MercadoLibreAdapter
from storage.db import Database
from storage.tokens import DatabaseTokens

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
# Every token the fake hands out, and the configured refresh token.
TOKEN = re.compile(rf"TG-fake-refresh-\d+|APP_USR-fake-access-\d+|{FIRST}")


@pytest.fixture
async def meli() -> AsyncIterator[FakeMercadoLibre]:
    app = OAuthApp(client_id="1234567890123456", client_secret="s3cret", refresh_token=FIRST)
    async with FakeMercadoLibre(oauth=app) as server:
        yield server


@pytest.fixture
def config(meli: FakeMercadoLibre) -> AppConfig:
    """The bot's Mercado Libre entry, with a grant whose refresh token rotates."""
    oauth = {
        "token_url": meli.token_url,
        "client_id": "1234567890123456",
        "client_secret": "${MELI_CLIENT_SECRET}",
        "refresh_token": "${MELI_REFRESH_TOKEN}",
    }
    entry = {
        "adapter": "mercadolibre",
        "base_url": meli.base_url,
        "oauth": oauth,
        "report_reasons": {"counterfeit": "PPPI1"},
        "timeout": 2,
    }
    return build_config(
        platforms={"mercadolibre": entry},
        environ={"MELI_CLIENT_SECRET": "s3cret", "MELI_REFRESH_TOKEN": FIRST},
    )


def keys(*given: str) -> Any:
    """The cipher the bot builds from TAKEDOWN_SECRET_KEY (None without a key)."""
    return token_cipher(Environment.from_environ({"TAKEDOWN_SECRET_KEY": ",".join(given)}))


def process(
    db: Database,
    http: aiohttp.ClientSession,
    meli: FakeMercadoLibre,
    *,
    cipher: Any,
    now: list[float],
    revealed: list[str] | None = None,
    refresh_token: str = FIRST,
) -> MercadoLibreAdapter:
    oauth = {
        "client_id": "1234567890123456",
        "client_secret": "s3cret",
        "refresh_token": refresh_token,
        "token_url": meli.token_url,
    }
    adapter = make_adapter(http, meli.base_url, token=None, oauth=oauth, timeout=5)
    adapter.token_store = DatabaseTokens(db, cipher=cipher)  # as the runtime does
    adapter.secret_sink = lambda _group, values: (revealed if revealed is not None else []).extend(
        values
    )
    assert adapter.tokens is not None
    adapter.tokens.clock = lambda: now[0]
    return adapter


async def raw_rows(db: Database) -> list[tuple[Any, ...]]:
    """oauth_tokens as read past the bot: sqlite3 or asyncpg, no SQLAlchemy, no key."""
    url = make_url(db.url)
    if db.is_postgres:
        import asyncpg

        conn = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(False))
        try:
            return [tuple(row) for row in await conn.fetch("SELECT * FROM oauth_tokens")]
        finally:
            await conn.close()
    with sqlite3.connect(str(url.database)) as conn:
        return list(conn.execute("SELECT * FROM oauth_tokens"))


def raw_sqlite_bytes(db: Database) -> bytes:
    """The SQLite file and its write-ahead log, byte for byte."""
    path = Path(str(make_url(db.url).database))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def assert_no_token_in(db: Database, rows: list[tuple[Any, ...]]) -> None:
    assert rows and TOKEN.search(repr(rows)) is None
    for row in rows:
        assert sum(isinstance(value, str) and value.startswith("sealed:") for value in row) == 2
    if not db.is_postgres:
        assert TOKEN.search(raw_sqlite_bytes(db).decode("latin-1")) is None


# --- encrypted, across a restart and a rotation -------------------------------------------------


async def test_an_encrypted_store_survives_a_restart_and_a_key_rotation(
    db: Database, http: aiohttp.ClientSession, meli: FakeMercadoLibre
) -> None:
    now = [1_000_000.0]
    await process(db, http, meli, cipher=keys(OLD_KEY), now=now).submit(
        make_notice("MLA1000000001")
    )
    [row] = await raw_rows(db)
    assert_no_token_in(db, [row])

    now[0] += 6 * 3600  # a restart, later: the access token has expired
    await process(db, http, meli, cipher=keys(OLD_KEY), now=now).submit(
        make_notice("MLA1000000002")
    )
    assert refreshed_with(meli) == [FIRST, "TG-fake-refresh-1"]  # the kept one, decrypted

    rotated = process(db, http, meli, cipher=keys(NEW_KEY, OLD_KEY), now=now)
    await rotated.submit(make_notice("MLA1000000003"))  # read with the old key, kept with the new
    assert refreshed_with(meli) == [FIRST, "TG-fake-refresh-1"]  # the access token still good

    await process(db, http, meli, cipher=keys(NEW_KEY), now=now).submit(
        make_notice("MLA1000000004")
    )
    now[0] += 6 * 3600
    await process(db, http, meli, cipher=keys(NEW_KEY), now=now).submit(
        make_notice("MLA1000000005")
    )
    assert refreshed_with(meli) == [FIRST, "TG-fake-refresh-1", "TG-fake-refresh-2"]
    assert len({r.headers["Authorization"] for r in meli.requests if r.method == "POST"}) == 3
    assert_no_token_in(db, await raw_rows(db))


async def test_tokens_kept_in_plain_text_are_encrypted_once_a_key_is_set(
    db: Database, http: aiohttp.ClientSession, meli: FakeMercadoLibre
) -> None:
    now = [1_000_000.0]
    await process(db, http, meli, cipher=None, now=now).submit(make_notice("MLA1000000001"))
    assert "TG-fake-refresh-1" in repr(await raw_rows(db))  # as before TAKEDOWN_SECRET_KEY

    await process(db, http, meli, cipher=keys(NEW_KEY), now=now).submit(
        make_notice("MLA1000000002")
    )

    assert refreshed_with(meli) == [FIRST]  # read as they were
    rows = await raw_rows(db)
    assert "TG-fake-refresh-1" not in repr(rows) and "APP_USR-fake-access-1" not in repr(rows)


# --- what cannot be decrypted --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "said"),
    [((NEW_KEY,), "none of the keys given decrypts them"), ((), "no key was given")],
    ids=["another key", "no key"],
)
async def test_tokens_no_key_decrypts_are_a_clear_error(
    db: Database, http: aiohttp.ClientSession, meli: FakeMercadoLibre, given: Any, said: str
) -> None:
    now = [1_000_000.0]
    await process(db, http, meli, cipher=keys(OLD_KEY), now=now).submit(
        make_notice("MLA1000000001")
    )

    stranger = process(db, http, meli, cipher=keys(*given), now=now)
    with pytest.raises(PermanentError) as refused:
        await stranger.submit(make_notice("MLA1000000002"))

    message = str(refused.value)
    assert "OAuth tokens" in message and said in message and "TAKEDOWN_SECRET_KEY" in message
    assert refreshed_with(meli) == [FIRST]  # nothing spent
    assert OLD_KEY not in message and NEW_KEY not in message


async def test_a_new_refresh_token_replaces_tokens_no_key_decrypts(
    db: Database, http: aiohttp.ClientSession, meli: FakeMercadoLibre
) -> None:
    """The key is lost: signing in again gives a new refresh token, and the bot goes on."""
    now = [1_000_000.0]
    await process(db, http, meli, cipher=keys(OLD_KEY), now=now).submit(
        make_notice("MLA1000000001")
    )
    assert meli.oauth is not None
    meli.oauth.refresh_token = "TG-from-a-new-consent"

    again = process(
        db, http, meli, cipher=keys(NEW_KEY), now=now, refresh_token="TG-from-a-new-consent"
    )
    await again.submit(make_notice("MLA1000000002"))

    assert refreshed_with(meli) == [FIRST, "TG-from-a-new-consent"]


@pytest.fixture
async def bot_with_another_key(
    settings_for: Any,
    db: Database,
    http: aiohttp.ClientSession,
    meli: FakeMercadoLibre,
    slack: FakeSlack,
) -> Any:
    """The bot, started with NEW_KEY over a database whose tokens OLD_KEY encrypted."""
    from aiohttp.test_utils import TestServer

    from bot.app import create_app

    now = [1_000_000.0]
    await process(db, http, meli, cipher=keys(OLD_KEY), now=now).submit(
        make_notice("MLA1000000001")
    )
    app = create_app(settings_for(TAKEDOWN_SECRET_KEY=NEW_KEY), db=db, worker_poll_interval=0.05)
    server = TestServer(app.web_app(), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as client:
        yield SlackDriver(
            http=client, url=str(server.make_url("")).rstrip("/"), slack=slack, bot=app
        )
    await server.close()


async def test_tokens_the_bots_key_cannot_decrypt_are_a_clear_error_in_the_thread(
    bot_with_another_key: SlackDriver, meli: FakeMercadoLibre
) -> None:
    bot = bot_with_another_key
    await bot.submit_report(
        urls="https://articulo.mercadolibre.com.ar/MLA-1234567890-mochila-acme-_JM"
    )

    def told() -> list[str]:
        posts = [json.dumps(call.params) for call in bot.slack.calls_to("chat.postMessage")]
        return [post for post in posts if "cannot be decrypted" in post]

    async def said() -> list[str]:
        return told()

    [post] = await eventually(said, timeout=15)
    assert "TAKEDOWN_SECRET_KEY" in post and "none of the keys given decrypts them" in post
    assert NEW_KEY not in post and OLD_KEY not in post
    assert bot.bot.runtime.scrub(f"key {NEW_KEY}") == "key [redacted]"  # a secret like the others
    assert refreshed_with(meli) == [FIRST]  # the kept refresh token was not spent


# --- redaction -------------------------------------------------------------------------------------


async def test_a_refresh_token_another_process_rotated_is_redacted_here_too(
    db: Database, http: aiohttp.ClientSession, meli: FakeMercadoLibre
) -> None:
    now = [1_000_000.0]
    first: list[str] = []
    second: list[str] = []
    await process(db, http, meli, cipher=None, now=now, revealed=first).submit(
        make_notice("MLA1000000001")
    )
    assert {"TG-fake-refresh-1", "APP_USR-fake-access-1"} <= set(first)

    await process(db, http, meli, cipher=None, now=now, revealed=second).submit(
        make_notice("MLA1000000002")
    )  # takes up the tokens the first process kept

    assert "APP_USR-fake-access-1" in second
    assert "TG-fake-refresh-1" in second


# --- the SQLite file --------------------------------------------------------------------------------


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most hosts give a service (022: files readable by everyone)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_sqlite_database_and_its_directory_are_private(
    tmp_path: Path, usual_umask: None
) -> None:
    path = tmp_path / "data" / "deep" / "takedown.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await db.migrate()
        await db.ping()
        assert mode(path) == 0o600
        assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
        for companion in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert companion.exists() and mode(companion) == 0o600, companion
    finally:
        await db.dispose()


async def test_an_existing_sqlite_database_others_could_read_is_made_private(
    tmp_path: Path, usual_umask: None
) -> None:
    tmp_path.chmod(0o755)
    path = tmp_path / "takedown.db"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await db.ping()
        assert mode(path) == 0o600
        assert mode(Path(f"{path}-wal")) == 0o600
        assert mode(tmp_path) == 0o755  # a directory it did not create is left as it is
    finally:
        await db.dispose()
