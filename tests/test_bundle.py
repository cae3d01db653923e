"""A case's evidence bundle (issue 15, part 6): the CLI and the slash command, through the real
bot. The case's notice is emailed to a real SMTP server on loopback (kept as sent), a photo is
added through the report form from the fake Slack's file endpoints, and the bundle is checked
with the real `sha256sum -c` and `pdftotext`."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from app_yaml import build_config, config_yaml
from conftest import SlackDriver, eventually, view_submission
from fakes.slack import FakeSlack
from fakes.smtp import FakeSmtp
from sqlalchemy import select

from bot.app import create_app
from bot.config.schema import AppConfig
from bot.evidence.bundle import build_bundle
from bot.evidence.location import open_store
from bot.slack_ui.evidence_form import FILES_FIELD
from storage.db import Database
from storage.models import EvidenceItem, NoticeRecord

REPO = Path(__file__).resolve().parent.parent
ETSY = "https://www.etsy.com/listing/1234567890/acme-bag"
EBAY = "https://www.ebay.com/itm/123456789012"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8

needs_tools = pytest.mark.skipif(
    not (shutil.which("sha256sum") and shutil.which("pdftotext")),
    reason="needs sha256sum (coreutils) and pdftotext (poppler-utils; .ci/run installs it)",
)


@pytest.fixture
def mailbox() -> Iterator[FakeSmtp]:
    with FakeSmtp() as smtp:
        yield smtp


def _platforms(mailbox: FakeSmtp) -> dict[str, Any]:
    return {
        "etsy": {
            "adapter": "email",
            "to": "ip-notices@etsy.example",
            "host": "127.0.0.1",
            "port": mailbox.port,
            "security": "none",
        }
    }


@pytest.fixture
def config(mailbox: FakeSmtp) -> AppConfig:
    return build_config(
        platforms=_platforms(mailbox),
        access={"reporters": ["U0REPORTER", "U0OTHER"], "approvers": ["U0LEGAL"]},
    )


@pytest.fixture
def evidence_url(tmp_path: Path) -> str:
    return f"file://{tmp_path}/evidence"


@pytest.fixture
async def bot(
    settings_for: Any, db: Database, slack: FakeSlack, evidence_url: str
) -> AsyncIterator[SlackDriver]:
    app = create_app(settings_for(EVIDENCE_URL=evidence_url), db=db, worker_poll_interval=0.05)
    server = TestServer(app.web_app(), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield SlackDriver(http=http, url=str(server.make_url("")).rstrip("/"), slack=slack, bot=app)
    await server.close()


async def _rows(bot: SlackDriver, model: Any) -> list[Any]:
    async with bot.bot.db.sessions() as session:
        return list((await session.execute(select(model))).scalars())


async def _filed_case(bot: SlackDriver, *, channel: str = "C0TEAM", private: bool = False) -> None:
    """TD-1: an Etsy listing (emailed) and an eBay one (a portal), with a photo as evidence."""
    photo = bot.slack.add_file("listing photo.png", PNG, mimetype="image/png")

    def select_(value: str) -> dict[str, Any]:
        option = {"text": {"type": "plain_text", "text": value}, "value": value}
        return {"type": "static_select", "selected_option": option}

    values = {
        "urls": {"urls": {"type": "plain_text_input", "value": f"{ETSY}\n{EBAY}"}},
        "brand": {"brand": select_("Acme")},
        "right": {"right": select_("acme-eu-tm")},
        "type": {"type": select_("counterfeit")},
        "description": {
            "description": {"type": "plain_text_input", "value": "Fake ACME bags, our photos."}
        },
        FILES_FIELD: {FILES_FIELD: {"type": "file_input", "files": [photo]}},
    }
    metadata = bot.sealed("report_listing", user="U0REPORTER", channel=channel, private=private)
    response = await bot.interact(view_submission("report_listing", metadata, values))
    assert json.loads(await response.text())["response_action"] == "update"

    async def both_kept() -> bool:  # the email as sent and the portal's guide as shown
        return len(await _rows(bot, NoticeRecord)) == 2

    await eventually(both_kept)
    await eventually(lambda: _rows(bot, EvidenceItem))


def _unzipped(data: bytes, folder: Path) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(folder)
        return archive.namelist()


@needs_tools
async def test_the_bundle_verifies_with_sha256sum_and_its_pdf_names_the_case_and_listings(
    bot: SlackDriver, evidence_url: str, tmp_path: Path
) -> None:
    await _filed_case(bot)
    store = open_store(evidence_url)

    first = await build_bundle(bot.bot.db, store, bot.bot.runtime.config, case_id=1)
    second = await build_bundle(bot.bot.db, store, bot.bot.runtime.config, case_id=1)

    assert first.data == second.data  # reproducible
    assert first.sha256 == hashlib.sha256(first.data).hexdigest()
    names = _unzipped(first.data, tmp_path / "out")
    kept = {item.media_type: item for item in await _rows(bot, NoticeRecord)}
    record, guide = kept["message/rfc822"], kept["text/plain"]
    assert f"notices/{record.id:04d}-notice-notice{record.notice_id}-etsy.eml" in names
    assert f"notices/{guide.id:04d}-notice-notice{guide.notice_id}-ebay.txt" in names
    assert {"timeline.csv", "timeline.json", "decisions.json", "case.json", "summary.pdf"} <= set(
        names
    )
    assert "evidence/0001-listing_photo.png" in names and names[-1] == "MANIFEST.sha256"
    assert (tmp_path / "out/evidence/0001-listing_photo.png").read_bytes() == PNG
    assert (
        tmp_path
        / "out"
        / names[names.index(notice := next(n for n in names if n.endswith(".eml")))]
    ).read_bytes() == record.body, notice
    checked = subprocess.run(
        ["sha256sum", "-c", "--strict", "MANIFEST.sha256"],
        cwd=tmp_path / "out",
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == len(names) - 1
    text = subprocess.run(
        ["pdftotext", "-layout", "summary.pdf", "-"],
        cwd=tmp_path / "out",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "TD-1" in text and ETSY.rsplit("/", 1)[0] in text and EBAY in text
    assert "Acme Outdoor GmbH" in text and "acme-eu-tm" in text
    assert record.sha256 in text and hashlib.sha256(PNG).hexdigest() in text


@needs_tools
async def test_a_tampered_file_fails_the_manifest_check(
    bot: SlackDriver, evidence_url: str, tmp_path: Path
) -> None:
    await _filed_case(bot)
    built = await build_bundle(
        bot.bot.db, open_store(evidence_url), bot.bot.runtime.config, case_id=1
    )
    _unzipped(built.data, tmp_path)
    (tmp_path / "timeline.json").write_text("[]\n")

    checked = subprocess.run(
        ["sha256sum", "-c", "MANIFEST.sha256"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert checked.returncode == 1 and "timeline.json: FAILED" in checked.stdout


async def test_the_slash_command_uploads_the_bundle_into_the_thread_with_its_sha256(
    bot: SlackDriver,
) -> None:
    await _filed_case(bot)

    await bot.command("bundle TD-1", user="U0OTHER")

    [answer] = await bot.slack.wait_for_responses(1)
    assert "Building TD-1's evidence bundle" in answer["text"]
    [completed] = await bot.slack.wait_for("files.completeUploadExternal")
    files = completed.params["files"]
    [uploaded] = json.loads(files) if isinstance(files, str) else files
    data = bot.slack.uploads[uploaded["id"]]
    assert completed.params["channel_id"] == "C0REPORTS" and completed.params["thread_ts"]
    digest = hashlib.sha256(data).hexdigest()

    async def anchor() -> list[dict[str, Any]]:
        return [
            c.params
            for c in bot.slack.calls_to("chat.postMessage")
            if digest in c.params.get("text", "")
        ]

    [reply] = await eventually(anchor)
    assert reply["thread_ts"] == completed.params["thread_ts"]
    assert "TD-1-evidence.zip" in reply["text"] and "<@U0OTHER>" in reply["text"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "MANIFEST.sha256" in archive.namelist()


async def test_the_slash_command_is_refused_to_a_non_member_of_a_private_case(
    bot: SlackDriver,
) -> None:
    bot.slack.channels["G0PRIV"] = {"is_private": True, "members": ["U0REPORTER"]}
    await _filed_case(bot, channel="G0PRIV", private=True)

    await bot.command("bundle TD-1", user="U0OTHER", channel="C0TEAM")

    [answer] = await bot.slack.wait_for_responses(1)
    assert "filed in a private channel" in answer["text"]
    assert bot.slack.calls_to("files.getUploadURLExternal") == []


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def cli_env(
    tmp_path: Path, database_url: str, evidence_url: str, mailbox: FakeSmtp
) -> dict[str, str]:
    (tmp_path / "app.yaml").write_text(config_yaml(platforms=_platforms(mailbox)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        DATABASE_URL=database_url,
        EVIDENCE_URL=evidence_url,
        TAKEDOWN_CONFIG=str(tmp_path / "app.yaml"),
        PYTHONPATH=str(REPO),
    )
    return env


async def test_the_cli_writes_the_same_bundle_and_prints_its_sha256(
    bot: SlackDriver, cli_env: dict[str, str], evidence_url: str, tmp_path: Path
) -> None:
    await _filed_case(bot)
    await bot.bot.close()  # its worker would keep a SQLite file busy under the CLI
    expected = await build_bundle(
        bot.bot.db, open_store(evidence_url), bot.bot.runtime.config, case_id=1
    )

    result = _cli("bundle", "TD-1", "--output", "out.zip", env=cli_env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.zip").read_bytes() == expected.data
    assert result.stdout == f"out.zip  {expected.sha256}\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize(
    ("case", "output", "error"),
    [
        ("TD-99", None, "takedown-bot: there is no case TD-99\n"),
        ("bag", None, "takedown-bot: 'bag' is not a case: give its reference, for example TD-42\n"),
        (
            "TD-1",
            "missing/out.zip",
            "takedown-bot: --output missing/out.zip: the folder missing does not exist\n",
        ),
    ],
)
async def test_the_cli_says_in_one_line_what_is_wrong_and_exits_2(
    bot: SlackDriver,
    cli_env: dict[str, str],
    tmp_path: Path,
    case: str,
    output: str | None,
    error: str,
) -> None:
    await _filed_case(bot)
    await bot.bot.close()
    args = ["bundle", case, *(["--output", output] if output else [])]

    result = _cli(*args, env=cli_env, cwd=tmp_path)

    assert (result.returncode, result.stderr) == (2, error)
    assert not list(tmp_path.glob("*.zip"))
