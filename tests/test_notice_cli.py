"""The notice as sent, from the terminal (issue 13, part 1): the exports show what was sent even
after app.yaml changed, and `takedown-bot notice` prints a case's kept notices.

A notice is emailed through the real bot to a real SMTP server on loopback; then the rights
holder's name and the mark's registration number change in app.yaml, and the CLI runs as a
subprocess (`python -m bot`) on the bot's database, SQLite file or PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from app_yaml import base_config, build_config, config_yaml
from conftest import SlackDriver, eventually
from fakes.smtp import FakeSmtp
from seed import seed
from sqlalchemy import select

from bot.config.schema import AppConfig
from storage.db import Database
from storage.models import NoticeRecord

REPO = Path(__file__).resolve().parents[1]
ETSY = "https://www.etsy.com/listing/1234567890/acme-bag"
TAOBAO = "https://item.taobao.com/item.htm?id=612345678901"
OTHER_TAOBAO = "https://item.taobao.com/item.htm?id=612345678902"
RENAMED = "Totally Different Corp"
RENUMBERED = "099999999"


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
    return build_config(platforms=_platforms(mailbox))


@dataclass
class Ran:
    returncode: int
    stdout: bytes
    stderr: bytes


async def _cli(
    tmp_path: Path, database_url: str, *args: str, changes: dict[str, Any] | None = None
) -> Ran:
    """`takedown-bot <args>` on the bot's database, with app.yaml as `changes` make it. Awaited
    as a child process, so the bot in this test's event loop goes on (and finishes the
    transaction it may be in) while it runs."""
    (tmp_path / "app.yaml").write_text(config_yaml(**(changes or {})))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(DATABASE_URL=database_url, TAKEDOWN_CONFIG=str(tmp_path / "app.yaml"))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Ran(process.returncode, stdout, stderr)


async def _kept(bot: SlackDriver) -> list[NoticeRecord]:
    async with bot.bot.db.sessions() as session:
        rows = await session.execute(select(NoticeRecord).order_by(NoticeRecord.id))
        return list(rows.scalars())


async def _emailed(bot: SlackDriver, urls: str = ETSY) -> NoticeRecord:
    await bot.submit_report(urls=urls)
    [record] = await eventually(lambda: _kept(bot))
    return record


def _changed_yaml(mailbox: FakeSmtp) -> dict[str, Any]:
    """app.yaml after the team renamed the rights holder and renumbered the mark."""
    brands = base_config()["brands"]
    brands[0]["rights"][0]["number"] = RENUMBERED
    return {"platforms": _platforms(mailbox), "rights_holder": {"name": RENAMED}, "brands": brands}


async def test_exports_show_the_notice_as_sent_after_app_yaml_changed(
    bot: SlackDriver, mailbox: FakeSmtp, database_url: str, tmp_path: Path
) -> None:
    record = await _emailed(bot)
    [received] = mailbox.received
    changed = _changed_yaml(mailbox)

    exported = await _cli(tmp_path, database_url, "export", "--format", "json", changes=changed)
    lumen = await _cli(tmp_path, database_url, "export", "--format", "lumen", changes=changed)

    assert exported.returncode == 0 and lumen.returncode == 0, exported.stderr + lumen.stderr
    [case] = json.loads(exported.stdout)["cases"]
    [notice] = case["notices"]
    sent = notice["as_sent"]
    assert sent["facts"]["rights_holder"]["name"] == "Acme Outdoor GmbH"
    assert sent["facts"]["right"]["number"] == "018123456"
    body = sent["body"].encode() if sent["body_encoding"] == "utf-8" else b""
    assert body == received.content
    assert sent["sha256"] == hashlib.sha256(body).hexdigest() == record.sha256
    assert (sent["adapter"], sent["outcome"], sent["message_id"]) == (
        "email",
        "sent",
        received.message["Message-ID"],
    )
    assert sent["kept_at"] and len(sent["config_sha256"]) == 64
    assert RENAMED not in exported.stdout.decode() and RENUMBERED not in exported.stdout.decode()

    [entry] = json.loads(lumen.stdout)
    roles = {
        role["name"]: role["entity_attributes"]
        for role in entry["notice"]["entity_notice_roles_attributes"]
    }
    assert roles["principal"]["name"] == "Acme Outdoor GmbH"
    assert entry["notice"]["mark_registration_number"] == "018123456"
    assert "018123456" in entry["notice"]["works_attributes"][0]["description"]
    assert entry["as_sent"]["sha256"] == record.sha256 and "rebuilt" not in entry
    assert RENAMED not in lumen.stdout.decode() and RENUMBERED not in lumen.stdout.decode()


async def test_a_notice_sent_before_notices_were_kept_is_exported_as_rebuilt(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    await seed(db)  # cases and sent notices, without kept records
    changes = {"rights_holder": {"name": RENAMED}}
    exported = await _cli(tmp_path, database_url, "export", "--format", "json", changes=changes)
    lumen = await _cli(tmp_path, database_url, "export", "--format", "lumen", changes=changes)

    notices = [n for case in json.loads(exported.stdout)["cases"] for n in case["notices"]]
    assert notices and all(notice["as_sent"] is None for notice in notices)
    entries = json.loads(lumen.stdout)
    assert entries and all(entry["as_sent"] is None for entry in entries)
    assert all("rebuilt from app.yaml" in entry["rebuilt"] for entry in entries)


async def test_notice_prints_the_kept_notice_and_raw_writes_its_exact_bytes(
    bot: SlackDriver, mailbox: FakeSmtp, database_url: str, tmp_path: Path
) -> None:
    record = await _emailed(bot)
    ref = f"TD-{record.case_id}"

    printed = await _cli(tmp_path, database_url, "notice", ref)
    raw = await _cli(tmp_path, database_url, "notice", ref, "--raw")

    assert printed.returncode == 0, printed.stderr
    text = printed.stdout.decode()
    assert "\r" not in text
    assert text.startswith(f"== {ref}, notice {record.notice_id} (record {record.id}) ==")
    for line in (
        "Adapter:",
        "email",
        "Outcome:",
        record.sha256,
        f"{record.message_id}",
        "Subject: ",  # the email's own headers
        "Acme Outdoor GmbH",  # its decoded body
        "https://www.etsy.com/listing/1234567890",
    ):
        assert line in text, line
    assert raw.returncode == 0 and raw.stdout == mailbox.received[0].content == record.body


async def test_notice_refuses_bad_input_in_one_line(
    bot: SlackDriver, database_url: str, tmp_path: Path
) -> None:
    await bot.submit_report(urls=f"{ETSY}\n{TAOBAO}")  # one case, two notices: email and portal
    await eventually(lambda: _at_least(bot, 2))
    await bot.submit_report(urls=OTHER_TAOBAO)  # another case
    kept = await eventually(lambda: _at_least(bot, 3))
    ref = f"TD-{kept[0].case_id}"
    notices = sorted({r.notice_id for r in kept if r.case_id == kept[0].case_id})
    other = next(r for r in kept if r.case_id != kept[0].case_id)

    cases = {
        ("notice", "TD-999"): "TD-999 does not exist",
        ("notice", "nonsense"): "is not a case reference",
        ("notice", ref, "--notice", "999"): "notice 999 does not exist",
        ("notice", ref, "--notice", str(other.notice_id)): f"belongs to TD-{other.case_id}",
        ("notice", ref, "--raw"): f"has 2 kept notices ({notices[0]}, {notices[1]})",
    }
    for args, message in cases.items():
        result = await _cli(tmp_path, database_url, *args)
        stderr = result.stderr.decode()
        assert result.returncode == 2, (args, stderr)
        assert message in stderr and len(stderr.strip().splitlines()) == 1, (args, stderr)
        assert "Traceback" not in stderr and result.stdout == b""
    chosen = await _cli(tmp_path, database_url, "notice", ref, "--raw", "--notice", str(notices[1]))
    [second] = [r for r in kept if r.notice_id == notices[1]]
    assert chosen.returncode == 0 and chosen.stdout == second.body


async def _at_least(bot: SlackDriver, count: int) -> list[NoticeRecord] | None:
    kept = await _kept(bot)
    return kept if len(kept) >= count else None


async def test_notice_says_when_nothing_was_kept(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    await seed(db)
    result = await _cli(tmp_path, database_url, "notice", "TD-1")
    stderr = result.stderr.decode()
    assert result.returncode == 2 and "TD-1 has no kept notice" in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1


def test_a_body_that_is_not_utf8_is_exported_as_base64() -> None:
    from bot.figures.export.as_sent import as_sent

    record = NoticeRecord(
        notice_id=1,
        case_id=1,
        outcome="sent",
        adapter="email",
        channel="etsy",
        media_type="message/rfc822",
        body=b"Subject: x\r\n\r\n\xff\xfe",
        sha256="0" * 64,
        config_sha256="0" * 64,
    )
    shown = as_sent(record, content=True)
    assert shown is not None and shown["body_encoding"] == "base64"
    assert base64.b64decode(shown["body"]) == record.body
