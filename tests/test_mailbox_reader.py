"""Reading the team's mailbox from a real Dovecot: each message kept once, resuming after a
restart, a renumbered folder read again without duplicates, bad input stored and skipped, and
replies matched to their case."""

from __future__ import annotations

import os
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from app_yaml import build_config
from fakes.dovecot import Dovecot
from mailbox_kit import reading, running_dovecot
from sqlalchemy import text

from bot.config.schema import MailboxConfig
from bot.delivery.adapters.email import message_id
from bot.mailbox.imap import MailboxError
from bot.mailbox.reader import read_folder
from storage import mailbox as store
from storage.db import Database
from storage.models import Case, Listing, MailMessage, Notice, NoticeRecord


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def mailbox(imap: Dovecot, **changes: Any) -> MailboxConfig:
    config = build_config(**reading(imap, **changes))
    assert config.mailbox is not None
    return config.mailbox


def mail(subject: str, body: str = "Hello.", **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("sender", "someone@shop.example")
    message["To"] = "takedowns@acme.example"
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


async def kept(db: Database) -> list[MailMessage]:
    async with db.transaction() as session:
        return await store.messages(session)


async def test_each_message_is_kept_once_and_a_restart_resumes_after_the_last(
    db: Database, dovecot: Dovecot
) -> None:
    config = mailbox(dovecot)
    await dovecot.deliver(mail("one"), mail("two"))
    first = await read_folder(db, config)
    await dovecot.deliver(mail("three"))
    second = await read_folder(db, config)  # a new run: a restart, or another worker
    again = await read_folder(db, config)
    assert (first.seen, second.seen, again.seen) == (2, 1, 0)
    rows = await kept(db)
    assert [row.subject for row in rows] == ["one", "two", "three"]
    assert all(row.state == "unmatched" and len(row.sha256) == 64 for row in rows)
    assert rows[0].raw.startswith(b"From: someone@shop.example")


async def test_a_renumbered_folder_is_read_again_without_duplicates(
    db: Database, dovecot: Dovecot
) -> None:
    config = mailbox(dovecot, folder="Platforms")
    await dovecot.deliver(mail("one"), mail("two"), folder="Platforms")
    await read_folder(db, config)
    await dovecot.recreate("Platforms")  # a new UIDVALIDITY; the same messages come back
    await dovecot.deliver(mail("one"), mail("two"), mail("three"), folder="Platforms")
    summary = await read_folder(db, config)
    assert summary.seen == 3 and summary.stored == {"unmatched": 1}
    assert [row.subject for row in await kept(db)] == ["one", "two", "three"]


async def test_starttls_is_used_and_the_certificate_verified(
    db: Database, dovecot: Dovecot
) -> None:
    await dovecot.deliver(mail("over starttls"))
    summary = await read_folder(db, mailbox(dovecot, security="starttls", port=dovecot.plain_port))
    assert summary.seen == 1
    assert "TLS" in dovecot.log()


async def test_a_server_whose_certificate_is_not_trusted_is_refused(
    db: Database, dovecot: Dovecot
) -> None:
    section = mailbox(dovecot).model_copy(update={"ca_file": None})  # the system's CAs only
    with pytest.raises(MailboxError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
        await read_folder(db, section)
    assert await kept(db) == []


async def test_handled_messages_are_moved_when_asked(db: Database, dovecot: Dovecot) -> None:
    await dovecot.deliver(mail("one"), mail("two"))
    await dovecot.deliver(mail("old"), folder="Handled")
    await read_folder(db, mailbox(dovecot, move_to="Handled"))
    assert await dovecot.uids("INBOX") == []
    assert len(await dovecot.uids("Handled")) == 3


async def test_bad_input_is_stored_and_skipped_and_the_reader_goes_on(
    db: Database, dovecot: Dovecot
) -> None:
    malformed = (b"From: x@shop.example\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
                 b"Content-Type: multipart/mixed\r\n\r\nno boundary at all\r\n")  # fmt: skip
    huge = EmailMessage()
    huge["From"], huge["Subject"] = "x@shop.example", "attachment"
    huge.set_content("See attached.")
    huge.add_attachment(os.urandom(30 * 1024 * 1024), maintype="application", subtype="pdf",
                        filename="evidence.pdf")  # fmt: skip
    long = mail("long", "\n".join(f"line {n}" for n in range(10_000)))
    loop = mail("Notice of infringement", Message_ID=message_id("case-1-notice-1"),
                X_Takedown_Case="TD-1")  # fmt: skip
    await dovecot.deliver(malformed, huge.as_bytes(), long, loop, mail("fine"))
    summary = await read_folder(db, mailbox(dovecot))
    rows = {row.subject: row for row in await kept(db)}
    assert summary.seen == 5
    assert rows["broken"].state == "skipped" and "malformed MIME" in (rows["broken"].note or "")
    assert rows["attachment"].state == "skipped" and "MB" in (rows["attachment"].note or "")
    assert rows["attachment"].size > 30 * 1024 * 1024  # kept whole
    assert rows["long"].state == "skipped" and "lines" in (rows["long"].note or "")
    assert rows["Notice of infringement"].state == "loop"
    assert rows["fine"].state == "unmatched"


async def test_a_kept_message_cannot_be_changed_in_the_database(
    db: Database, dovecot: Dovecot
) -> None:
    await dovecot.deliver(mail("evidence"))
    await read_folder(db, mailbox(dovecot))
    with pytest.raises(Exception, match="write-once"):
        async with db.transaction() as session:
            await session.execute(text("UPDATE mail_messages SET subject = 'changed'"))


# --- matching --------------------------------------------------------------------------------------


async def _case(db: Database, *, platform: str, url: str, key: str, reference: str | None = None,
                email: bool = False) -> tuple[int, int, int]:  # fmt: skip
    async with db.transaction() as session:
        case = Case(brand="Acme", right_id="acme-tm", infringement="counterfeit", reporter_id="U1")
        session.add(case)
        await session.flush()
        assert case.id is not None
        notice = Notice(case_id=case.id, platform=platform, channel=platform,
                        adapter="email" if email else "portal", status="sent",
                        idempotency_key=f"case-{case.id}-{platform}", reference=reference)  # fmt: skip
        session.add(notice)
        await session.flush()
        assert notice.id is not None
        listing = Listing(case_id=case.id, platform=platform, key=key, url=url,
                          submitted_url=url, status="submitted", notice_id=notice.id)  # fmt: skip
        session.add(listing)
        if email:
            session.add(NoticeRecord(notice_id=notice.id, case_id=case.id, outcome="sent",
                                     adapter="email", channel=platform, media_type="message/rfc822",
                                     body=b"...", sha256="0" * 64, config_sha256="0" * 64,
                                     message_id=message_id(notice.idempotency_key)))  # fmt: skip
        await session.flush()
        assert listing.id is not None
        return case.id, notice.id, listing.id


async def test_replies_are_matched_by_header_case_ref_complaint_number_listing_and_sender(
    db: Database, dovecot: Dovecot
) -> None:
    by_header = await _case(db, platform="etsy", url="https://www.etsy.com/listing/1234567890",
                            key="etsy:1234567890", email=True)  # fmt: skip
    by_number = await _case(db, platform="aliexpress", key="aliexpress:1005001234567890",
                            url="https://www.aliexpress.com/item/1005001234567890.html",
                            reference="IPP20240611007")  # fmt: skip
    by_listing = await _case(db, platform="amazon", key="amazon.com:B0C1234567",
                             url="https://www.amazon.com/dp/B0C1234567")  # fmt: skip
    by_sender = await _case(db, platform="ebay", key="ebay:234567890123",
                            url="https://www.ebay.com/itm/234567890123")  # fmt: skip
    notice_id = message_id(f"case-{by_header[0]}-etsy")
    await dovecot.deliver(
        mail("Re: notice", "We have disabled access to the listing.", sender="legal@etsy.com",
             In_Reply_To=notice_id),
        mail(f"About TD-{by_sender[0]}", "Thank you for your report.", sender="a@shop.example"),
        mail("投诉处理结果", "投诉单号 IPP20240611007：投诉已成立，被投诉商品链接已删除。",
             sender="ipp-notice@alibaba-inc.com"),
        mail("Report", "We removed https://www.amazon.com/dp/B0C1234567 today.",
             sender="someone@elsewhere.example"),
        mail("Your VeRO report", "The following listings have been ended.", sender="vero@ebay.com"),
        mail("Hello", "Nothing to see.", sender="x@unknown.example"),
    )  # fmt: skip
    await read_folder(db, mailbox(dovecot))
    rows = await kept(db)
    seen = [(row.state, row.case_id, row.matched_by) for row in rows]
    assert seen == [
        ("matched", by_header[0], "reply_header"),
        ("matched", by_sender[0], "case_ref"),
        ("matched", by_number[0], "complaint_number"),
        ("matched", by_listing[0], "listing"),
        ("matched", by_sender[0], "sender"),
        ("unmatched", None, None),
    ]
    assert rows[0].suggestions == [{"listing_id": by_header[2], "outcome": "removed"}]
    assert rows[2].suggestions == [{"listing_id": by_number[2], "outcome": "removed"}]
    assert rows[3].suggestions == [{"listing_id": by_listing[2], "outcome": "removed"}]
    assert rows[4].suggestions == [{"listing_id": by_sender[2], "outcome": "removed"}]
