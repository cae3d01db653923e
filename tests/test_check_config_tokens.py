"""`takedown-bot check-config` checks TAKEDOWN_SECRET_KEY and, when a database is there to ask,
that the OAuth tokens it keeps can be decrypted with the keys given (a real process, as an
operator runs it, over a SQLite file or PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from fakes.mercadolibre import FakeMercadoLibre, OAuthApp
from test_adapter_mercadolibre import make_notice
from test_oauth_tokens import FIRST
from test_tokens_at_rest import NEW_KEY, OLD_KEY, keys, process

from storage.db import Database

REPO = Path(__file__).resolve().parents[1]
GRANT = "mercadolibre:1234567890123456"


def check_config(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SLACK_") and name not in ("DATABASE_URL", "TAKEDOWN_SECRET_KEY")
    }
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    environ["TAKEDOWN_CONFIG"] = str(REPO / "app.yaml")
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", "check-config"],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
async def meli() -> AsyncIterator[FakeMercadoLibre]:
    app = OAuthApp(client_id="1234567890123456", client_secret="s3cret", refresh_token=FIRST)
    async with FakeMercadoLibre(oauth=app) as server:
        yield server


@pytest.fixture
async def sealed_with_the_old_key(
    db: Database, database_url: str, http: aiohttp.ClientSession, meli: FakeMercadoLibre
) -> str:
    """A database keeping one grant's tokens, encrypted with OLD_KEY; its URL."""
    adapter = process(db, http, meli, cipher=keys(OLD_KEY), now=[1_000_000.0])
    await adapter.submit(make_notice("MLA1000000001"))
    return database_url


def test_tokens_the_keys_given_cannot_decrypt_fail_the_check(
    sealed_with_the_old_key: str, tmp_path: Path
) -> None:
    result = check_config(
        tmp_path, DATABASE_URL=sealed_with_the_old_key, TAKEDOWN_SECRET_KEY=NEW_KEY
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot be decrypted" in result.stderr
    assert f"{GRANT}: none of the keys given decrypts them" in result.stderr
    assert "TAKEDOWN_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr
    assert NEW_KEY not in result.stdout + result.stderr


def test_encrypted_tokens_without_a_key_fail_the_check(
    sealed_with_the_old_key: str, tmp_path: Path
) -> None:
    result = check_config(tmp_path, DATABASE_URL=sealed_with_the_old_key)

    assert result.returncode == 2
    assert f"{GRANT}: they are encrypted, and no key was given" in result.stderr


def test_tokens_the_key_decrypts_pass_the_check(
    sealed_with_the_old_key: str, tmp_path: Path
) -> None:
    result = check_config(
        tmp_path, DATABASE_URL=sealed_with_the_old_key, TAKEDOWN_SECRET_KEY=OLD_KEY
    )

    assert result.returncode == 0, result.stderr
    assert "secret key: 1 key in TAKEDOWN_SECRET_KEY" in result.stdout
    assert "kept OAuth tokens: 1 readable: 1 encrypted" in result.stdout


def test_during_a_rotation_the_check_says_which_tokens_need_the_old_key(
    sealed_with_the_old_key: str, tmp_path: Path
) -> None:
    result = check_config(
        tmp_path,
        DATABASE_URL=sealed_with_the_old_key,
        TAKEDOWN_SECRET_KEY=f"{NEW_KEY},{OLD_KEY}",
    )

    assert result.returncode == 0, result.stderr
    assert "2 keys in TAKEDOWN_SECRET_KEY (the first encrypts)" in result.stdout
    assert "1 under an older key" in result.stdout


def test_a_malformed_key_is_named_without_being_shown(tmp_path: Path) -> None:
    almost = NEW_KEY[:-4]

    result = check_config(tmp_path, TAKEDOWN_SECRET_KEY=f"{NEW_KEY}, {almost}")

    assert result.returncode == 2
    assert "TAKEDOWN_SECRET_KEY: key 2 of 2 is not a Fernet key" in result.stderr
    assert almost not in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_database_is_not_checked_and_says_so(tmp_path: Path) -> None:
    result = check_config(
        tmp_path, DATABASE_URL="postgresql://postgres@127.0.0.1:9/nothing-listens-here"
    )

    assert result.returncode == 0, result.stderr
    assert "kept OAuth tokens: not checked (the database could not be reached" in result.stdout


def test_without_a_database_file_there_is_nothing_to_check(tmp_path: Path) -> None:
    result = check_config(tmp_path, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/none.db")

    assert result.returncode == 0, result.stderr
    assert "kept OAuth tokens: none (no database yet)" in result.stdout
    assert not (tmp_path / "none.db").exists()
