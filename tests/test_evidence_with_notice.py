"""Evidence goes with the notice (issue 15, part 5), through the real bot: an emailed notice
carries the case's files as attachments up to `evidence.attach_max_mb` and links the rest; the
links are served by the bot's own `GET /evidence/{sha256}` (signed, expiring); a webhook body
lists the items with their links; a portal guide names the files to upload and links each; the
kept notice records which evidence went with it."""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from app_yaml import build_config
from conftest import HOOK_SECRET, SlackDriver
from delivery_kit import APPROVER, REPORTER, run_jobs
from fakes.slack import FakeSlack
from fakes.smtp import FakeSmtp
from fakes.webhook import FakeWebhookReceiver
from sqlalchemy import select
from test_mailbox_suggestions import PASTED, record

from bot.app import create_app
from bot.evidence.bundle import build_bundle
from bot.evidence.links import EvidenceLinks, evidence_links
from storage.db import Database
from storage.evidence import add_item
from storage.models import EvidenceItem, Listing, MailMessage, NoticeRecord

REPO = Path(__file__).resolve().parent.parent
KEY = "mYkcH9S7aV6-1Wcq3pQ9m7z8K3TQk2p1e9dQ5mZ0bXk="  # a Fernet key (TAKEDOWN_SECRET_KEY)
ETSY = "https://www.etsy.com/listing/1234567890/acme-bag"
TAOBAO = "https://item.taobao.com/item.htm?id=612345678901"
PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2  # 520 bytes: fits in 1 KB
INVOICE = b"%PDF-1.4\n" + b"invoice line\n" * 200  # 2.5 KB: over the budget, linked
SCREENSHOT = b"\x89PNG\r\n\x1a\n" + b"screen" * 50  # 308 bytes, of a capture showing the listing
CAPTCHA_WARC = b"WARC/1.0 captcha page"  # a capture that is not the listing: never sent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[FakeSmtp]:
    with FakeSmtp() as smtp:
        yield smtp


def email_platform(mailbox: FakeSmtp) -> dict[str, Any]:
    return {"adapter": "email", "to": "ip-notices@etsy.example", "host": "127.0.0.1",
            "port": mailbox.port, "security": "none"}  # fmt: skip


@asynccontextmanager
async def linked_bot(
    settings_for: Any, db: Database, slack: FakeSlack, tmp_path: Path, *, public: bool = True
) -> AsyncIterator[SlackDriver]:
    """The bot on a known port with PUBLIC_URL naming it (unless not `public`), its worker held
    back so a test can add evidence before the notice is sent."""
    port = free_port()
    env = {"EVIDENCE_URL": f"file://{tmp_path}/evidence", "TAKEDOWN_SECRET_KEY": KEY}
    if public:
        env["PUBLIC_URL"] = f"http://127.0.0.1:{port}/"
    app = create_app(settings_for(**env), db=db, run_worker=False, worker_poll_interval=0.05)
    server = TestServer(app.web_app(), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield SlackDriver(http=http, url=f"http://127.0.0.1:{port}", slack=slack, bot=app)
    finally:
        await server.close()


async def add_evidence(bot: SlackDriver) -> None:
    """Case 1's evidence: two files people added, a screenshot of the listing, and a capture
    that found a captcha page."""
    store = bot.bot.runtime.evidence
    async with bot.bot.db.transaction() as session:
        listing = (await session.execute(select(Listing).order_by(Listing.id))).scalars().first()
        assert listing is not None
        assert listing.id is not None
        for kind, name, media, data, verdict, listing_id in (
            ("file", "listing photo.png", "image/png", PHOTO, None, None),
            ("file", "invoice.pdf", "application/pdf", INVOICE, None, None),
            ("screenshot", "page.png", "image/png", SCREENSHOT, "listing", listing.id),
            ("capture", "page.warc.gz", "application/warc", CAPTCHA_WARC, "captcha", listing.id),
        ):
            kept = await store.put(data)
            await add_item(session, EvidenceItem(case_id=listing.case_id, listing_id=listing_id,
                                                 kind=kind, sha256=kept.sha256, media_type=media,
                                                 size=kept.size, name=name, verdict=verdict))  # fmt: skip


async def kept_records(bot: SlackDriver) -> list[NoticeRecord]:
    async with bot.bot.db.sessions() as session:
        return list((await session.execute(select(NoticeRecord))).scalars())


def links_in(text: str) -> list[str]:
    return re.findall(
        r"http://127\.0\.0\.1:\d+/evidence/[0-9a-f]{64}\?exp=\d+&sig=[0-9a-f]{64}", text
    )


async def download(bot: SlackDriver, url: str) -> tuple[int, bytes, Any]:
    async with bot.http.get(url) as response:
        return response.status, await response.read(), response.headers


@pytest.fixture
def config(mailbox: FakeSmtp) -> Any:
    return build_config(
        platforms={"etsy": email_platform(mailbox)}, evidence={"attach_max_mb": 0.001}
    )


async def test_an_email_attaches_what_fits_links_the_rest_and_keeps_what_the_server_got(
    settings_for: Any, db: Database, slack: FakeSlack, tmp_path: Path, mailbox: FakeSmtp
) -> None:
    async with linked_bot(settings_for, db, slack, tmp_path) as bot:
        await bot.submit_report(urls=ETSY)
        await add_evidence(bot)
        await run_jobs(bot)

        [received] = mailbox.received
        attached = {
            part.get_filename(): part.get_content() for part in received.message.iter_attachments()
        }
        assert attached == {"listing photo.png": PHOTO, "page.png": SCREENSHOT}
        body = received.message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert "EVIDENCE FILES (3)" in text and "captcha" not in text.lower()
        assert "listing photo.png (image/png, 520 bytes, SHA-256" in text
        [link] = links_in(text)
        assert "invoice.pdf (application/pdf, 2.5 KB" in text

        [record] = await kept_records(bot)
        assert record.body == received.content  # the kept bytes are what the server received
        assert [(item["name"], item["attached"]) for item in record.facts["evidence_items"]] == [
            ("listing photo.png", True),
            ("invoice.pdf", False),
            ("page.png", True),
        ]

        status, data, headers = await download(bot, link)
        assert (status, data) == (200, INVOICE)
        assert headers["Content-Type"] == "application/pdf"
        assert headers["Content-Disposition"] == 'attachment; filename="invoice.pdf"'


async def test_a_link_that_is_altered_expired_or_names_no_evidence_is_refused_without_detail(
    settings_for: Any, db: Database, slack: FakeSlack, tmp_path: Path, mailbox: FakeSmtp
) -> None:
    async with linked_bot(settings_for, db, slack, tmp_path) as bot:
        await bot.submit_report(urls=ETSY)
        await add_evidence(bot)
        await run_jobs(bot)
        body = mailbox.received[0].message.get_body(("plain",))
        assert body is not None
        [link] = links_in(body.get_content())
        sha = link.split("/evidence/")[1][:64]
        links = evidence_links(bot.bot.settings.env, days=30)
        now = datetime.now(UTC)
        expired = links.link(sha, now=now - timedelta(days=31))
        unknown = links.link("ab" * 32, now=now)
        foreign = EvidenceLinks(links.base_url, (b"another key",)).link(sha, now=now)
        assert expired and unknown and foreign
        flipped = "0" if link[-1] != "0" else "1"
        refused = [
            link[:-1] + flipped,  # the signature altered
            link.replace("exp=", "exp=1"),  # the expiry moved
            link.split("?")[0],  # no signature
            expired[0],
            foreign[0],  # signed with a key that is not the bot's
        ]
        for url in refused:
            status, data, _ = await download(bot, url)
            assert (status, data) == (403, b"this link is not valid\n"), url
        status, data, _ = await download(bot, unknown[0])  # well signed, no such evidence
        assert (status, data) == (404, b"not found\n")
        status, data, _ = await download(bot, link.replace(sha, sha.upper()))
        assert status == 404


@asynccontextmanager
async def bot_with(
    settings_for: Any, db: Database, slack: FakeSlack, tmp_path: Path, config: Any, **kw: Any
) -> AsyncIterator[SlackDriver]:
    """`linked_bot` with another configuration."""
    from bot.config.environment import Settings

    def with_config(**env: str) -> Settings:
        return Settings(config=config, env=settings_for(**env).env)

    async with linked_bot(with_config, db, slack, tmp_path, **kw) as bot:
        yield bot


async def test_a_webhook_body_lists_the_evidence_with_links_that_download_the_exact_bytes(
    settings_for: Any, db: Database, slack: FakeSlack, tmp_path: Path, hook: FakeWebhookReceiver
) -> None:
    vendor = {"adapter": "webhook", "serves": ["etsy"], "base_url": hook.base_url,
              "secret": HOOK_SECRET}  # fmt: skip
    config = build_config(platforms={"vendor": vendor})
    async with bot_with(settings_for, db, slack, tmp_path, config) as bot:
        await bot.submit_report(urls=ETSY)
        await add_evidence(bot)
        await run_jobs(bot)

        [request] = [r for r in hook.requests if r.path == "/hooks/notices"]
        assert request.signature_ok  # the list is inside the signed body
        items = request.json["evidence_items"]
        assert [(i["name"], i["media_type"], i["size"]) for i in items] == [
            ("listing photo.png", "image/png", len(PHOTO)),
            ("invoice.pdf", "application/pdf", len(INVOICE)),
            ("page.png", "image/png", len(SCREENSHOT)),
        ]
        for item, data in zip(items, (PHOTO, INVOICE, SCREENSHOT), strict=True):
            assert datetime.fromisoformat(item["expires_at"]) > datetime.now(UTC) + timedelta(
                days=29
            )
            status, got, _ = await download(bot, item["url"])
            assert (status, got) == (200, data)
            assert item["sha256"] in item["url"]
        [record] = await kept_records(bot)
        assert record.body == request.body
        assert [i["attached"] for i in record.facts["evidence_items"]] == [False] * 3


def _guide(bot: SlackDriver) -> str:
    posts = [
        json.dumps(call.params.get("blocks")) for call in bot.slack.calls_to("chat.postMessage")
    ]
    [guide] = [post for post in posts if "file this notice on" in post]
    return guide


async def test_a_portal_guide_names_the_files_to_upload_and_links_each(
    settings_for: Any, db: Database, slack: FakeSlack, tmp_path: Path, mailbox: FakeSmtp
) -> None:
    config = build_config()
    async with bot_with(settings_for, db, slack, tmp_path, config) as bot:
        await bot.submit_report(urls=TAOBAO)
        await add_evidence(bot)
        await run_jobs(bot)

        guide = _guide(bot)
        assert "Upload these files to the form" in guide
        for name in ("listing photo.png", "invoice.pdf", "page.png"):
            assert re.search(
                r"<http://127\.0\.0\.1:\d+/evidence/[0-9a-f]{64}\?exp=\d+&sig=[0-9a-f]{64}\|"
                + re.escape(name)
                + ">",
                guide,
            ), name
        [record] = await kept_records(bot)
        kept = record.body.decode()
        assert "Files to upload:" in kept and len(links_in(kept)) == 3
        status, data, _ = await download(bot, links_in(kept)[1])
        assert (status, data) == (200, INVOICE)


async def test_without_a_public_url_the_notice_and_guide_say_no_link_can_be_made(
    settings_for: Any, db: Database, slack: FakeSlack, tmp_path: Path, mailbox: FakeSmtp
) -> None:
    config = build_config(platforms={"etsy": email_platform(mailbox)},
                          evidence={"attach_max_mb": 0.001})  # fmt: skip
    async with bot_with(settings_for, db, slack, tmp_path, config, public=False) as bot:
        await bot.submit_report(urls=f"{ETSY}\n{TAOBAO}")
        await add_evidence(bot)
        await run_jobs(bot)

        body = mailbox.received[0].message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert "invoice.pdf" in text and "no download link" in text and "PUBLIC_URL" in text
        assert not links_in(text)
        assert "no PUBLIC_URL" in _guide(bot)


def test_check_config_says_whether_evidence_links_can_be_made(tmp_path: Path) -> None:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "s", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}  # fmt: skip

    def check(**env: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "check-config"],
            env={**base, "PYTHONPATH": str(REPO), **env},
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "evidence links: none (PUBLIC_URL and TAKEDOWN_SECRET_KEY not set)" in check()
    said = check(PUBLIC_URL="https://takedown.example.com", TAKEDOWN_SECRET_KEY=KEY)
    assert "evidence links: https://takedown.example.com/evidence/…, valid 30 days" in said


async def test_the_bundle_holds_the_platforms_emails_and_what_evidence_went_with_each_notice(
    settings_for: Any, db: Database, slack: FakeSlack, tmp_path: Path, mailbox: FakeSmtp
) -> None:
    config = build_config(platforms={"etsy": email_platform(mailbox)},
                          evidence={"attach_max_mb": 0.001},
                          access={"approvers": [APPROVER], "reporters": [REPORTER]})  # fmt: skip
    async with bot_with(settings_for, db, slack, tmp_path, config) as bot:
        await bot.submit_report(urls=ETSY)
        await add_evidence(bot)
        await run_jobs(bot)
        assert (await record(bot, PASTED)).startswith("Matched to TD-1")
        async with bot.bot.db.sessions() as session:
            [mail] = (await session.execute(select(MailMessage))).scalars()
        bundle = await build_bundle(bot.bot.db, bot.bot.runtime.evidence, config, case_id=1)

    archive = zipfile.ZipFile(io.BytesIO(bundle.data))
    assert archive.read("mail/0001.eml") == mail.raw
    manifest = archive.read("MANIFEST.sha256").decode()
    assert f"{hashlib.sha256(mail.raw).hexdigest()}  mail/0001.eml" in manifest
    [row] = json.loads(archive.read("mail.json"))
    assert (row["file"], row["sha256"], row["sender"]) == (
        "mail/0001.eml",
        mail.sha256,
        "legal@etsy.com",
    )
    [notice] = json.loads(archive.read("notices.json"))
    assert [(i["name"], i["attached"]) for i in notice["evidence_items"]] == [
        ("listing photo.png", True),
        ("invoice.pdf", False),
        ("page.png", True),
    ]
