"""Bulk reports: URL files (TXT, CSV) read line by line, `takedown-bot report` as an operator runs
it, and the report form's file input, down to a 10,000-listing case and its summarised thread."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import pty
import random
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from app_yaml import config_yaml
from conftest import BOT_TOKEN, SlackDriver, view_submission
from sqlalchemy import func, select

from bot.cli.report import check_report
from bot.config.schema import AppConfig
from bot.intake.bulk import UrlFileError, read_url_file, with_file
from bot.intake.cases import (
    FILE_FIELD,
    MAX_EVIDENCE_LINKS,
    ReportDraft,
    ReportRejected,
    parse_report,
)
from bot.intake.upload import MAX_UPLOAD_BYTES
from bot.slack_ui.files import may_receive_token
from storage.db import Database
from storage.models import Case, Listing

REPO = Path(__file__).resolve().parents[1]
DESCRIPTION = "Counterfeit ACME backpacks sold with our registered mark and catalogue photos."
EBAY, AMAZON, ETSY = (
    "https://www.ebay.com/itm/123456789012",
    "https://www.amazon.de/dp/B0ABCDEFGH",
    "https://www.etsy.com/listing/987654321/acme-style-backpack",
)
REPORT_ARGS = (
    "--brand", "Acme", "--right", "acme-eu-tm", "--type", "counterfeit",
    "--description", DESCRIPTION, "--reporter", "U0ALICE",
)  # fmt: skip


def draft(**fields: Any) -> ReportDraft:
    values: dict[str, Any] = {
        "urls_text": "",
        "brand": "Acme",
        "right_id": "acme-eu-tm",
        "infringement": "counterfeit",
        "description": DESCRIPTION,
    }
    return ReportDraft(**{**values, **fields})


def realistic_urls(count: int, *, seed: int = 5) -> list[tuple[str, str]]:
    """`count` distinct listing URLs across nine marketplaces, as people copy them from a browser
    (slugs, tracking parameters, several Amazon and eBay sites), each with a seller or none."""
    rng = random.Random(seed)
    sellers = ["", "", "Shady Deals", "acme-outlet-official", "Best Price Store", "沪上精品店"]

    def asin(i: int) -> str:
        digits, alphabet = "", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        for _ in range(8):
            i, rest = divmod(i, 36)
            digits = alphabet[rest] + digits
        return f"B0{digits}"

    makers = [
        lambda i: f"https://www.ebay.com/itm/{300_000_000_000 + i}",
        lambda i: (
            f"https://www.ebay.de/itm/Acme-Rucksack-Outdoor/{310_000_000_000 + i}?hash=item{i}"
        ),
        lambda i: f"https://www.amazon.de/dp/{asin(i)}",
        lambda i: f"https://www.amazon.com/Acme-Backpack/dp/{asin(i)}/ref=sr_1_{i % 40}",
        lambda i: f"https://www.aliexpress.com/item/{1_005_006_000_000_000 + i}.html?spm=a2g0o",
        lambda i: f"https://item.taobao.com/item.htm?id={700_000_000_000 + i}&ali_refid=x",
        lambda i: f"https://www.etsy.com/listing/{1_200_000_000 + i}/acme-style-backpack",
        lambda i: f"https://www.walmart.com/ip/Acme-Trail-Backpack/{900_000_000 + i}",
        lambda i: f"https://shopee.sg/product/{rng.randint(10_000, 99_999)}/{20_000_000_000 + i}",
        lambda i: f"https://articulo.mercadolibre.com.ar/MLA-{1_300_000_000 + i}-mochila-acme-_JM",
    ]
    return [(makers[i % len(makers)](i), rng.choice(sellers)) for i in range(count)]


def csv_bytes(rows: list[tuple[str, str]], *, header: str = "url,seller") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header.split(","))
    writer.writerows(rows)
    return out.getvalue().encode()


# -- reading files --------------------------------------------------------------------------------


def test_txt_skips_comments_and_blank_lines_and_keeps_the_file_s_line_numbers() -> None:
    data = f"# suppliers found on 2026-03-01\n\n{EBAY}\r\n  {AMAZON}  \n# {ETSY}\n".encode()
    url_file = read_url_file(data, name="urls.txt")
    assert url_file.kind == "txt"
    assert [(row.line, row.url) for row in url_file.rows] == [(3, EBAY), (4, AMAZON)]


def test_csv_reads_url_seller_and_evidence_columns_in_any_order_and_case() -> None:
    data = (
        "Price, Evidence ,URL,Seller\n"
        f'12.00,https://acme.example/buy/1,{EBAY},"Shady Deals, Ltd"\n'
        f"9.99,,{AMAZON},\n"
    ).encode("utf-8-sig")
    rows = read_url_file(data, name="listings.csv").rows
    assert [(r.line, r.url, r.seller, r.evidence) for r in rows] == [
        (2, EBAY, "Shady Deals, Ltd", ("https://acme.example/buy/1",)),
        (3, AMAZON, None, ()),
    ]


@pytest.mark.parametrize(
    "text",
    [
        f"url;seller\n{EBAY};Shady\n",
        f"url\tseller\n{EBAY}\tShady\n",
        f"sep=;\nurl;seller\n{EBAY};Shady\n",
    ],
    ids=["semicolon", "tab", "excel-sep-line"],
)
def test_csv_takes_the_separators_spreadsheets_save(text: str) -> None:
    rows = read_url_file(text.encode(), name="listings.csv").rows
    assert [(r.url, r.seller) for r in rows] == [(EBAY, "Shady")]


def test_csv_line_numbers_count_lines_inside_quoted_cells() -> None:
    data = f'url,seller\n{EBAY},"Shady\nDeals"\n\n{AMAZON},\n'.encode()
    rows = read_url_file(data, name="listings.csv").rows
    assert [(r.line, r.url) for r in rows] == [(2, EBAY), (5, AMAZON)]


def test_csv_without_a_url_column_is_refused_naming_its_header() -> None:
    with pytest.raises(
        UrlFileError, match=r"listings.csv line 1 must be a header row naming a url"
    ):
        read_url_file(f"{EBAY}\n{AMAZON}\n".encode(), name="listings.csv")


def test_csv_rows_without_a_url_or_with_a_bad_evidence_link_are_bad_lines() -> None:
    data = f"url,seller,evidence\n,Shady,\n{EBAY},,ftp://files.example/x\n".encode()
    rows = read_url_file(data, name="listings.csv").rows
    assert [(r.line, r.problem) for r in rows] == [
        (2, "the url column is empty"),
        (3, "evidence 'ftp://files.example/x' is not an http(s) link"),
    ]


def test_text_that_is_not_utf8_is_refused_naming_the_line() -> None:
    data = f"url,seller\n{EBAY},M\xfcller GmbH\n".encode("latin-1")
    with pytest.raises(UrlFileError, match=r"listings.csv line 2 is not UTF-8"):
        read_url_file(data, name="listings.csv")


def test_utf16_with_its_byte_order_mark_is_read() -> None:
    data = f"url\tseller\n{EBAY}\tMüller\n".encode("utf-16")
    rows = read_url_file(data, name="listings.csv").rows
    assert [(r.url, r.seller) for r in rows] == [(EBAY, "Müller")]


def test_a_workbook_saved_as_csv_is_explained() -> None:
    with pytest.raises(UrlFileError, match="spreadsheet workbook"):
        read_url_file(b"PK\x03\x04" + bytes(100), name="listings.csv")


def test_a_file_without_an_extension_is_csv_when_its_first_line_names_a_url_column() -> None:
    assert read_url_file(f"URL\n{EBAY}\n".encode(), name="export").kind == "csv"
    assert read_url_file(f"{EBAY}\n".encode(), name="export").kind == "txt"
    with pytest.raises(UrlFileError, match=r"a \.csv or \.txt file"):
        read_url_file(f"{EBAY}\n".encode(), name="urls.pdf")


def test_file_lines_are_named_by_their_line_in_the_file(config: AppConfig) -> None:
    url_file = read_url_file(f"url\n{EBAY}\nnot a link\n{AMAZON}\n".encode(), name="l.csv")
    with pytest.raises(ReportRejected) as caught:
        parse_report(config, with_file(draft(urls_text=f"{ETSY}\nhttps://"), url_file))
    assert caught.value.errors[FILE_FIELD].startswith("file line 3: Not a URL")
    assert caught.value.errors["urls"].startswith("line 2: ")


def test_file_sellers_and_evidence_join_the_report(config: AppConfig) -> None:
    url_file = read_url_file(
        f"url,seller,evidence\n{EBAY},Shady,https://acme.example/a\n{AMAZON},,\n".encode(),
        name="l.csv",
    )
    report = parse_report(config, with_file(draft(urls_text=ETSY, seller="Default"), url_file))
    assert [(item.text, item.seller, item.in_file) for item in report.listings] == [
        (ETSY, "Default", False),
        (EBAY, "Shady", True),
        (AMAZON, "Default", True),
    ]
    assert report.evidence == ["https://acme.example/a"]


def test_more_evidence_links_than_a_case_keeps_is_refused() -> None:
    rows = "".join(
        f"https://www.ebay.com/itm/{100_000_000_000 + i},https://acme.example/{i}\n"
        for i in range(MAX_EVIDENCE_LINKS + 1)
    )
    url_file = read_url_file(f"url,evidence\n{rows}".encode(), name="l.csv")
    with pytest.raises(UrlFileError, match=f"at most {MAX_EVIDENCE_LINKS}"):
        with_file(draft(), url_file)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/download/urls.csv", True),
        ("https://files.slack-gov.com/files-pri/T1-F1/urls.csv", True),
        ("http://files.slack.com/files-pri/T1-F1/urls.csv", False),
        ("https://files.slack.com.evil.example/urls.csv", False),
        ("https://evil.example/files.slack.com/urls.csv", False),
        ("http://127.0.0.1:4000/files-pri/F1/urls.csv", True),  # the configured API host
        ("http://127.0.0.1:4001/files-pri/F1/urls.csv", False),
    ],
)
def test_the_bot_token_goes_only_to_slack_s_file_hosts(url: str, allowed: bool) -> None:
    assert may_receive_token(url, "http://127.0.0.1:4000/api/") is allowed


# -- `takedown-bot report` ------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, sqlite_template: Path) -> dict[str, str]:
    """A process environment with a migrated SQLite file and the test configuration."""
    shutil.copy(sqlite_template, tmp_path / "takedown.db")
    (tmp_path / "app.yaml").write_text(config_yaml())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'takedown.db'}",
        TAKEDOWN_CONFIG=str(tmp_path / "app.yaml"),
        PYTHONPATH=str(REPO),
    )
    env.pop("LOG_LEVEL", None)
    return env


def report(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "report", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def stored(env: dict[str, str]) -> tuple[int, list[tuple[str, str | None]]]:
    """(cases, [(listing key, seller)…]) in the environment's database."""

    async def read() -> tuple[int, list[tuple[str, str | None]]]:
        db = Database(env["DATABASE_URL"])
        try:
            async with db.sessions() as session:
                cases = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
                rows = await session.execute(
                    select(Listing.key, Listing.seller).order_by(Listing.id)
                )
                return int(cases), [(key, seller) for key, seller in rows]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_report_files_a_csv_as_one_case_and_prints_counts_per_platform(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "urls.csv").write_text(
        f"url,seller\n{EBAY},Shady Deals\n{AMAZON},\nhttps://www.amazon.de/dp/B0ZZZZZZZZ,\n"
    )
    result = report(cli_env, "--file", "urls.csv", *REPORT_ARGS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "TD-1: 3 listings filed"
    assert lines[1].split() == ["Amazon", "2"]
    assert lines[2].split() == ["eBay", "1"]
    assert "the status thread is posted when the bot runs" in result.stdout.lower()
    assert "C0REPORTS" in result.stdout
    assert stored(cli_env) == (
        1,
        [
            ("ebay:123456789012", "Shady Deals"),
            ("amazon.de:B0ABCDEFGH", None),
            ("amazon.de:B0ZZZZZZZZ", None),
        ],
    )


def test_report_with_bad_lines_lists_them_by_file_line_and_stores_nothing(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "urls.txt").write_text(
        f"# batch 7\n{EBAY}\nhttps://www.ebay.com/sch/i.html?_nkw=acme\n\n{AMAZON}\nacme.example\n"
    )
    result = report(cli_env, "--file", "urls.txt", *REPORT_ARGS, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    errors = result.stderr.splitlines()
    assert errors[0] == "takedown-bot: 2 bad lines; nothing was filed:"
    assert errors[1].startswith("  urls.txt line 3: ")
    assert errors[2].startswith("  urls.txt line 6: ")
    assert "--skip-invalid to file the other 2 listings" in result.stderr
    assert stored(cli_env) == (0, [])


def test_report_skip_invalid_lists_the_bad_lines_and_files_the_rest(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "urls.txt").write_text(f"{EBAY}\nnot a link\n{AMAZON}\n")
    result = report(cli_env, "--file", "urls.txt", "--skip-invalid", *REPORT_ARGS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[:2] == [
        "takedown-bot: skipped 1 bad line:",
        "  urls.txt line 2: Not a URL: 'not a link'; paste the listing's link, starting with https://.",
    ]
    assert result.stdout.startswith("TD-1: 2 listings filed\n")
    assert [key for key, _ in stored(cli_env)[1]] == ["ebay:123456789012", "amazon.de:B0ABCDEFGH"]


def test_report_trims_pasted_links_and_names_lookalikes_as_the_form_does(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "urls.txt").write_text(
        f"\u201c{EBAY}\u201d.\n\u200e({AMAZON}),\u200f\nhttps://www.\u0435bay.com/itm/123456789013\n",
        encoding="utf-8",
    )
    result = report(cli_env, "--file", "urls.txt", "--skip-invalid", *REPORT_ARGS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[1].startswith(
        "  urls.txt line 3: www.\u0435bay.com looks like eBay (ebay.com) but is not: its name has "
        "a Cyrillic '\u0435' (U+0435) for 'e'."
    )
    assert [key for key, _ in stored(cli_env)[1]] == ["ebay:123456789012", "amazon.de:B0ABCDEFGH"]


def test_report_refuses_a_listing_already_in_an_open_case_naming_it(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert report(cli_env, EBAY, *REPORT_ARGS, cwd=tmp_path).returncode == 0
    (tmp_path / "urls.txt").write_text(f"{AMAZON}\n{EBAY}?hash=item1\n")
    result = report(cli_env, "--file", "urls.txt", *REPORT_ARGS, cwd=tmp_path)
    assert result.returncode == 2
    assert (
        "  urls.txt line 2: ebay:123456789012 is already reported in open case TD-1"
        in result.stderr.splitlines()
    )
    assert stored(cli_env)[0] == 1


def test_running_the_same_report_again_files_no_second_case(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "urls.csv").write_text(f"url,seller\n{EBAY},Shady\n{ETSY},\n")
    first = report(cli_env, "--file", "urls.csv", *REPORT_ARGS, cwd=tmp_path)
    again = report(cli_env, "--file", "urls.csv", *REPORT_ARGS, cwd=tmp_path)
    assert first.returncode == 0 and again.returncode == 0, again.stderr
    assert again.stdout.startswith("TD-1 was filed already by this same report")
    assert stored(cli_env)[0] == 1


def test_report_refuses_an_unmigrated_database_as_serve_does(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**cli_env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"}
    result = report(env, EBAY, *REPORT_ARGS, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "takedown-bot: the database has no schema yet: run `takedown-bot migrate`"
    )


def test_report_names_bad_fields_by_their_flags(cli_env: dict[str, str], tmp_path: Path) -> None:
    args = [a if a != "acme-eu-tm" else "bravo-us-tm" for a in REPORT_ARGS]
    result = report(cli_env, EBAY, *args, cwd=tmp_path)
    assert result.returncode == 2
    assert "takedown-bot: --right: bravo-us-tm is a right of Bravo, not of Acme" in result.stderr


def test_report_shows_a_progress_bar_when_stderr_is_a_terminal(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "urls.csv").write_bytes(csv_bytes(realistic_urls(2_000)))
    controller, terminal = pty.openpty()
    seen = bytearray()

    def read() -> None:
        with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
            while chunk := os.read(controller, 4096):
                seen.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "report", "--file", "urls.csv", *REPORT_ARGS],
            env={**cli_env, "TERM": "xterm-256color", "COLUMNS": "120"},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(terminal)
        reader.join(10)
        os.close(controller)
    assert result.returncode == 0
    assert result.stdout.startswith("TD-1: 2,000 listings filed")
    assert "checking 2,000 lines" in seen.decode(errors="replace")


async def test_report_of_10000_urls_is_one_case_whose_thread_summarises_them(
    bot: SlackDriver, database_url: str, tmp_path: Path
) -> None:
    rows = realistic_urls(10_000)
    (tmp_path / "urls.csv").write_bytes(csv_bytes(rows))
    (tmp_path / "app.yaml").write_text(config_yaml())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        DATABASE_URL=database_url, TAKEDOWN_CONFIG=str(tmp_path / "app.yaml"), PYTHONPATH=str(REPO)
    )
    started = time.perf_counter()
    result = await asyncio.to_thread(report, env, "--file", "urls.csv", *REPORT_ARGS, cwd=tmp_path)
    print(f"\n`takedown-bot report` of 10,000 URLs: {time.perf_counter() - started:.2f} s")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    assert result.stdout.startswith("TD-1: 10,000 listings filed\n")
    printed = dict(line.rsplit(maxsplit=1) for line in result.stdout.splitlines()[1:-1])
    assert {name.strip(): count for name, count in printed.items()} == {
        "eBay": "2,000",
        "Amazon": "2,000",
        "AliExpress": "1,000",
        "Taobao": "1,000",
        "Etsy": "1,000",
        "Walmart": "1,000",
        "Shopee": "1,000",
        "Mercado Libre": "1,000",
    }

    parent = await first_post(bot)
    assert parent.params["channel"] == "C0REPORTS"
    assert "10,000 listings" in parent.params["text"]
    summary = section_texts(parent.params["blocks"])
    assert "*Listings*\n10,000" in summary
    assert "*eBay* (2,000)" in summary and "*Mercado Libre* (1,000)" in summary
    assert "https://" not in summary  # a summary per platform and status, not 10,000 links


async def first_post(bot: SlackDriver) -> Any:
    return (await bot.slack.wait_for("chat.postMessage", timeout=60))[0]


def section_texts(blocks: list[dict[str, Any]]) -> str:
    texts = []
    for block in blocks:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [item["text"] for item in block.get("fields", [])]
    return "\n".join(texts)


# -- the report form's file input -----------------------------------------------------------------


async def submit_with_file(
    bot: SlackDriver, file: dict[str, Any] | None, *, urls: str = ""
) -> tuple[int, dict[str, Any]]:
    """Submit the report form as Slack does, with `file` in its file input."""

    def select(value: str) -> dict[str, Any]:
        return {
            "type": "static_select",
            "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
        }

    values = {
        "urls": {"urls": {"type": "plain_text_input", "value": urls or None}},
        FILE_FIELD: {FILE_FIELD: {"type": "file_input", "files": [file] if file else []}},
        "brand": {"brand": select("Acme")},
        "right": {"right": select("acme-eu-tm")},
        "type": {"type": select("counterfeit")},
        "description": {"description": {"type": "plain_text_input", "value": DESCRIPTION}},
        "evidence": {"evidence": {"type": "plain_text_input", "value": None}},
        "seller": {"seller": {"type": "plain_text_input", "value": None}},
    }
    metadata = bot.sealed("report_listing", user="U0REPORTER", channel="C0TEAM", private=False)
    payload = view_submission("report_listing", metadata, values)
    response = await bot.interact(payload)
    body = await response.text()
    return response.status, (json.loads(body) if body.startswith("{") else {})


async def listings_of(bot: SlackDriver) -> list[tuple[int, str, str | None]]:
    async with bot.bot.db.sessions() as session:
        rows = await session.execute(
            select(Listing.case_id, Listing.key, Listing.seller).order_by(Listing.id)
        )
        return [(case_id, key, seller) for case_id, key, seller in rows]


async def test_form_files_the_listings_of_an_uploaded_csv(bot: SlackDriver) -> None:
    file = bot.slack.add_file("listings.csv", f"url,seller\n{EBAY},Shady\n{AMAZON},\n".encode())
    status, answer = await submit_with_file(bot, file, urls=ETSY)
    assert status == 200
    assert answer["response_action"] == "update", answer
    assert "is open with 3 listings" in json.dumps(answer["view"])
    assert await listings_of(bot) == [
        (1, "etsy:987654321", None),
        (1, "ebay:123456789012", "Shady"),
        (1, "amazon.de:B0ABCDEFGH", None),
    ]
    assert bot.slack.downloads == [
        {"path": f"/files-pri/{file['id']}/listings.csv", "authorization": f"Bearer {BOT_TOKEN}"}
    ]


async def test_form_asks_slack_for_the_file_when_its_state_carries_no_address(
    bot: SlackDriver,
) -> None:
    file = bot.slack.add_file("urls.txt", f"{EBAY}\n".encode())
    _, answer = await submit_with_file(bot, {"id": file["id"], "name": "urls.txt"})
    assert answer["response_action"] == "update", answer
    assert [call.params["file"] for call in bot.slack.calls_to("files.info")] == [file["id"]]


async def test_form_names_the_file_line_of_a_bad_url(bot: SlackDriver) -> None:
    file = bot.slack.add_file(
        "urls.txt", f"# from the sweep\n{EBAY}\nwww.acme.example/x\n".encode()
    )
    _, answer = await submit_with_file(bot, file)
    assert answer["response_action"] == "errors"
    assert answer["errors"][FILE_FIELD].startswith("file line 3: ")
    assert await listings_of(bot) == []


async def test_form_names_the_file_line_of_a_listing_in_an_open_case(bot: SlackDriver) -> None:
    _, first = await submit_with_file(bot, None, urls=EBAY)
    assert first["response_action"] == "update", first
    file = bot.slack.add_file("listings.csv", f"url\n{AMAZON}\n{EBAY}\n".encode())
    _, answer = await submit_with_file(bot, file)
    assert answer["errors"][FILE_FIELD].startswith(
        "file line 3: ebay:123456789012 is already reported in open case TD-1"
    )


async def test_form_refuses_a_file_over_the_size_limit_before_fetching_it(
    bot: SlackDriver,
) -> None:
    file = bot.slack.add_file("urls.txt", (EBAY + "\n").encode() * (MAX_UPLOAD_BYTES // 30))
    _, answer = await submit_with_file(bot, file)
    assert answer["errors"][FILE_FIELD] == (
        "urls.txt is larger than 5 MB; split it, or file it with `takedown-bot report --file`"
    )
    assert bot.slack.downloads == []


async def test_form_stops_reading_a_file_that_grows_past_the_limit(bot: SlackDriver) -> None:
    file = bot.slack.add_file("urls.txt", (EBAY + "\n").encode() * (MAX_UPLOAD_BYTES // 30))
    _, answer = await submit_with_file(bot, {**file, "size": 1000})  # the stated size is wrong
    assert answer["errors"][FILE_FIELD].startswith("urls.txt is larger than 5 MB")
    assert len(bot.slack.downloads) == 1


async def test_form_explains_a_file_slack_does_not_hand_over(bot: SlackDriver) -> None:
    file = bot.slack.add_file("urls.txt", f"{EBAY}\n".encode())
    missing = {**file, "url_private_download": file["url_private"].replace(file["id"], "F404")}
    _, answer = await submit_with_file(bot, missing)
    assert "needs the files:read scope" in answer["errors"][FILE_FIELD]


async def test_form_files_10000_uploaded_urls_as_one_case(
    bot: SlackDriver,
) -> None:
    rows = realistic_urls(10_000, seed=11)
    file = bot.slack.add_file("sweep.csv", csv_bytes(rows))
    started = time.perf_counter()
    status, answer = await submit_with_file(bot, file)
    elapsed = time.perf_counter() - started
    print(f"\nform submission with a 10,000-line file: {elapsed:.2f} s (Slack allows 3 s)")
    assert status == 200 and answer["response_action"] == "update", answer
    listings = await listings_of(bot)
    assert len(listings) == 10_000 and {case_id for case_id, _, _ in listings} == {1}
    sellers = Counter(seller for _, _, seller in listings)
    assert sellers == Counter(seller or None for _, seller in rows)
    parent = await first_post(bot)
    assert "*Listings*\n10,000" in section_texts(parent.params["blocks"])


async def test_the_report_command_follows_short_links_on_the_command_line_and_in_the_file(
    db: Database, config: AppConfig
) -> None:
    """`takedown-bot report` checks through `check_report`: short links are followed to their
    listings (here through a fake shortener on loopback) and a dead one is its line's error."""
    import aiohttp
    from fakes.redirects import FakeRedirects

    async with FakeRedirects() as shortener, aiohttp.ClientSession() as http:
        shortener.redirect("/3xYz", "https://www.amazon.de/dp/B0ABCDEFGH?ref=share", status=301)
        shortener.redirect("/s", "https://www.ebay.com/itm/123456789012", status=302)
        url_file = read_url_file(b"url\nhttps://ebay.us/s\nhttps://ebay.us/gone\n", name="x.csv")
        checked = await check_report(
            db,
            urls=["https://amzn.to/3xYz"],
            url_file=url_file,
            draft=draft(),
            http=http,
            short_links=shortener.policy("amzn.to", "ebay.us"),
        )
    assert sorted(item.listing.key for item in checked.listings) == [
        "amazon.de:B0ABCDEFGH",
        "ebay:123456789012",
    ]
    [bad] = checked.bad
    assert bad.where == "x.csv line 3" and "ebay.us/gone" in bad.reason
    # The draft filed carries the answers, so the case stores the listings, not the short links.
    assert "https://amzn.to/3xYz" in checked.draft.resolved
