"""Each listing's page is captured once after the report is filed: fetched from a fake marketplace
on loopback (real pages from tests/pages/) under the short-link guard, kept as a WARC in the
evidence store with its verdict, and the thread says how the captures went."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from app_yaml import config_yaml
from conftest import eventually
from evidence_kit import capture_config, capturing_bot
from fakes.marketplace import PAGES, FakeMarketplace
from fakes.slack import FakeSlack
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from bot.cli.setup import check_config
from bot.evidence.screenshot import WIDTH, chromium_path, render_page
from storage.db import Database
from storage.models import EvidenceItem, Job

AMAZON = "https://www.amazon.de/dp/B0ABCDEFGH"
EBAY = "https://www.ebay.com/itm/123456789012"
TAOBAO = "https://item.taobao.com/item.htm?id=623456789012"
TMALL = "https://detail.tmall.com/item.htm?id=723456789012"


@pytest.fixture
async def market() -> AsyncIterator[FakeMarketplace]:
    async with FakeMarketplace() as fake:
        yield fake


async def _captures(db: Database, count: int) -> list[EvidenceItem]:
    async def done() -> list[EvidenceItem] | None:
        async with db.reading() as session:
            rows = list(
                (
                    await session.execute(select(EvidenceItem).order_by(EvidenceItem.listing_id))  # type: ignore[arg-type]
                ).scalars()
            )
        return rows if len(rows) >= count else None

    return await eventually(done)


def _thread_texts(slack: FakeSlack) -> list[str]:
    return [
        str(c.params.get("text", ""))
        for c in slack.calls_to("chat.postMessage")
        if c.params.get("thread_ts")
    ]


def _records(data: bytes) -> ArchiveIterator:
    """The WARC's records, read one at a time (each record's content only until the next)."""
    return ArchiveIterator(io.BytesIO(data))


async def test_a_report_captures_each_listing_and_records_the_captcha_as_one(
    slack: FakeSlack, db: Database, database_url: str, tmp_path: Path, market: FakeMarketplace
) -> None:
    market.page(AMAZON, "amazon_listing.html", gzip=True)
    market.page(EBAY, "ebay_listing.html")
    market.page(TAOBAO, "taobao_slider.html")
    market.page(TMALL, "taobao_listing.html")
    folder = tmp_path / "evidence"
    async with capturing_bot(
        config=capture_config(), slack=slack, db=db, database_url=database_url,
        folder=folder, market=market,
    ) as bot:  # fmt: skip
        response, _ = await bot.submit_report(urls="\n".join([AMAZON, EBAY, TAOBAO, TMALL]))
        assert response.status == 200
        items = await _captures(db, 4)
        line = await eventually(
            lambda: _async([t for t in _thread_texts(slack) if t.startswith("Captured")])
        )
        store = bot.bot.runtime.evidence

    by_url = {item.source_url: item for item in items}
    assert {item.kind for item in items} == {"capture"}
    assert {url: by_url[url].verdict for url in by_url} == {
        AMAZON: "listing",
        EBAY: "listing",
        TAOBAO: "captcha",
        TMALL: "listing",
    }
    assert by_url[TAOBAO].note and "captcha" in by_url[TAOBAO].note
    assert line == [
        "Captured 3 of 4 listings as evidence; 1 was a captcha page (Taobao). "
        "Those pages are kept but not shown as the listing."
    ]

    # The WARC reads back with warcio; the stored bytes hash to the item's SHA-256.
    amazon = by_url[AMAZON]
    data = await store.get(amazon.sha256)
    assert hashlib.sha256(data).hexdigest() == amazon.sha256 and len(data) == amazon.size
    assert amazon.media_type == "application/warc" and amazon.name.endswith(".warc.gz")
    kinds, response_body, facts = [], b"", {}
    for record in _records(data):
        kinds.append(record.rec_type)
        if record.rec_type == "response":
            assert record.rec_headers.get_header("WARC-Target-URI") == AMAZON
            assert record.http_headers.get_statuscode() == "200"
            assert record.http_headers.get_header("Content-Encoding") == "gzip"
            response_body = record.content_stream().read()  # warcio undoes the gzip
        elif record.rec_type == "request":
            sent = record.http_headers
            assert "takedown-bot/" in (sent.get_header("User-Agent") or "")
            assert sent.get_header("Accept-Language", "").startswith("en-US")
            assert sent.get_header("Host") == "www.amazon.de"
        elif record.rec_type == "metadata":
            facts = json.loads(record.content_stream().read())
    assert kinds == ["warcinfo", "request", "response", "metadata"]
    assert response_body == (PAGES / "amazon_listing.html").read_bytes()
    gzipped = gzip.compress((PAGES / "amazon_listing.html").read_bytes(), mtime=0)
    assert facts["body_sha256"] == hashlib.sha256(gzipped).hexdigest()
    assert facts["final_url"] == AMAZON and facts["verdict"] == "listing"
    # Each listing was asked for once, under its own host name.
    assert sorted(r.host for r in market.requests) == sorted(
        ["www.amazon.de", "www.ebay.com", "item.taobao.com", "detail.tmall.com"]
    )


async def _async(value: Any) -> Any:
    return value


async def test_a_platform_with_capture_off_is_not_fetched(
    slack: FakeSlack, db: Database, database_url: str, tmp_path: Path, market: FakeMarketplace
) -> None:
    market.page(AMAZON, "amazon_listing.html")
    market.page(EBAY, "ebay_listing.html")
    config = capture_config(platforms={"ebay": {"adapter": "portal", "capture": False}})
    async with capturing_bot(
        config=config, slack=slack, db=db, database_url=database_url,
        folder=tmp_path / "evidence", market=market,
    ) as bot:  # fmt: skip
        await bot.submit_report(urls=f"{AMAZON}\n{EBAY}")
        items = await _captures(db, 1)
        await eventually(lambda: _async([t for t in _thread_texts(slack) if "Captured" in t]))
        async with db.reading() as session:
            kinds = list((await session.execute(select(Job.kind))).scalars())  # type: ignore[call-overload]

    assert [item.source_url for item in items] == [AMAZON]
    assert kinds.count("capture") == 1
    assert [r.host for r in market.requests] == ["www.amazon.de"]
    assert "Captured 1 of 1 listing as evidence." in _thread_texts(slack)


async def test_captures_of_one_platform_keep_to_its_concurrency_limit(
    slack: FakeSlack, db: Database, database_url: str, tmp_path: Path, market: FakeMarketplace
) -> None:
    urls = [f"https://www.ebay.com/itm/12345678901{i}" for i in range(6)]
    for url in urls:
        market.page(url, "ebay_listing.html")
    market.latency = 0.05
    config = capture_config(platforms={"ebay": {"adapter": "portal", "max_concurrency": 2}})
    async with capturing_bot(
        config=config, slack=slack, db=db, database_url=database_url,
        folder=tmp_path / "evidence", market=market,
    ) as bot:  # fmt: skip
        await bot.submit_report(urls="\n".join(urls))
        await _captures(db, 6)

    assert len(market.requests) == 6
    assert market.in_flight_max <= 2


# -- screenshots ----------------------------------------------------------------------------------


async def test_with_screenshots_a_listing_gets_a_png_and_a_pdf(
    slack: FakeSlack, db: Database, database_url: str, tmp_path: Path, market: FakeMarketplace
) -> None:
    if chromium_path() is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    market.page(EBAY, "ebay_listing.html")
    async with capturing_bot(
        config=capture_config(evidence={"screenshot": True}), slack=slack, db=db,
        database_url=database_url, folder=tmp_path / "evidence", market=market,
    ) as bot:  # fmt: skip
        await bot.submit_report(urls=EBAY)
        items = await _captures(db, 3)
        store = bot.bot.runtime.evidence
        kinds = {item.kind: (item.media_type, await store.get(item.sha256)) for item in items}

    assert kinds["screenshot"][0] == "image/png" and kinds["screenshot"][1][:4] == b"\x89PNG"
    assert kinds["page_pdf"][0] == "application/pdf" and kinds["page_pdf"][1][:5] == b"%PDF-"
    assert kinds["capture"][0] == "application/warc"
    assert len(market.requests) == 1  # rendered from the capture: the page was fetched once


def _png_size(png: bytes) -> tuple[int, int]:
    """A PNG's width and height, from its IHDR chunk (the first, right after the signature)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


async def test_the_screenshot_is_of_the_whole_page_and_loads_nothing(
    market: FakeMarketplace,
) -> None:
    if chromium_path() is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    host = urlsplit(EBAY).hostname
    tall = (
        '<html><body style="margin:0">'
        f'<img src="{market.url}/by-address.png"><img src="https://{host}/by-name.png">'
        f'<link rel="stylesheet" href="{market.url}/style.css">'
        '<div style="height:9000px;background:linear-gradient(#c00,#00c)">tall</div>'
        '<p id="end">the end of the listing</p></body></html>'
    ).encode()

    rendering = await render_page(tall)

    assert rendering.problem is None and rendering.cut_at is None
    width, height = _png_size(rendering.png)
    assert width == WIDTH and height >= 9000
    assert rendering.pdf[:5] == b"%PDF-"
    assert market.requests == []  # neither by address nor by name: nothing is loaded


async def test_a_page_taller_than_the_cap_is_cut_there_and_says_so() -> None:
    if chromium_path() is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    tall = b'<html><body style="margin:0"><div style="height:9000px">tall</div></body></html>'

    rendering = await render_page(tall, max_height=3000)

    assert rendering.problem is None and rendering.cut_at == 3000
    assert _png_size(rendering.png) == (WIDTH, 3000)


async def test_without_chromium_the_capture_stands_and_says_why_there_is_no_screenshot(
    slack: FakeSlack,
    db: Database,
    database_url: str,
    tmp_path: Path,
    market: FakeMarketplace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHROMIUM", "no-such-chromium-binary")
    market.page(EBAY, "ebay_listing.html")
    async with capturing_bot(
        config=capture_config(evidence={"screenshot": True}), slack=slack, db=db,
        database_url=database_url, folder=tmp_path / "evidence", market=market,
    ) as bot:  # fmt: skip
        await bot.submit_report(urls=EBAY)
        [item] = await _captures(db, 1)
        await eventually(lambda: _async([t for t in _thread_texts(slack) if "Captured" in t]))

    assert (item.kind, item.verdict) == ("capture", "listing")
    assert item.note == "no screenshot: chromium is not installed"


def test_check_config_says_when_screenshots_lack_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(config_yaml(evidence={"screenshot": True, "keep_days": 90}), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHROMIUM", "no-such-chromium-binary")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/none.db")

    assert check_config(str(path)) == 0

    out = capsys.readouterr().out
    assert "evidence: file://./data/evidence; captures off; kept 90 days" in out
    assert "screenshots: chromium is not installed" in out
