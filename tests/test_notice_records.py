"""The notice as sent is kept: the exact bytes, their SHA-256, write-once (issue 13, part 1).

Through the real bot: a report filed over the signed HTTP endpoint, the notice emailed to a real
SMTP server on loopback, and the kept record compared with what the server received."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from app_yaml import build_config
from conftest import SlackDriver, eventually
from fakes.smtp import FakeSmtp
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from bot.config.schema import AppConfig
from storage import notice_records
from storage.models import Notice, NoticeRecord

ETSY = "https://www.etsy.com/listing/1234567890/acme-bag"


@pytest.fixture
def mailbox() -> Iterator[FakeSmtp]:
    with FakeSmtp() as smtp:
        yield smtp


@pytest.fixture
def config(mailbox: FakeSmtp) -> AppConfig:
    platforms = {
        "etsy": {
            "adapter": "email",
            "to": "ip-notices@etsy.example",
            "host": "127.0.0.1",
            "port": mailbox.port,
            "security": "none",
        }
    }
    return build_config(platforms=platforms)


async def _kept(bot: SlackDriver) -> list[NoticeRecord]:
    async with bot.bot.db.sessions() as session:
        return list((await session.execute(select(NoticeRecord))).scalars())


async def _emailed(bot: SlackDriver) -> NoticeRecord:
    await bot.submit_report(urls=ETSY)
    [record] = await eventually(lambda: _kept(bot))
    return record


async def test_an_emailed_notice_is_kept_as_the_bytes_the_server_received(
    bot: SlackDriver, mailbox: FakeSmtp
) -> None:
    record = await _emailed(bot)

    [received] = mailbox.received
    assert record.body == received.content
    assert record.sha256 == hashlib.sha256(received.content).hexdigest()
    assert record.media_type == "message/rfc822"
    assert record.message_id == received.message["Message-ID"]
    assert (record.kind, record.outcome, record.adapter, record.channel) == (
        "notice",
        "sent",
        "email",
        "etsy",
    )
    assert record.facts["right"]["number"] and record.facts["rights_holder"]["name"]
    assert len(record.config_sha256) == 64
    async with bot.bot.db.sessions() as session:
        [notice] = (await session.execute(select(Notice))).scalars()
        assert await notice_records.message_id_of(session, notice.id or 0) == record.message_id


async def test_a_kept_notice_cannot_be_changed_in_the_database(bot: SlackDriver) -> None:
    record = await _emailed(bot)

    with pytest.raises(DBAPIError, match="write-once"):
        async with bot.bot.db.transaction() as session:
            await session.execute(
                text("UPDATE notice_records SET body = :body WHERE id = :id"),
                {"body": b"something else", "id": record.id},
            )
    [kept] = await _kept(bot)
    assert kept.body == record.body
