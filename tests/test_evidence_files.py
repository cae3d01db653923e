"""Files people add as evidence: the report form's evidence input and **Add evidence** in the
case's thread. The files come from the fake Slack's file endpoints, are kept in a folder evidence
store by their SHA-256, and the thread lists each; the bot token goes to no other host."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from app_yaml import build_config
from conftest import BOT_TOKEN, SlackDriver, eventually, press, view_submission
from fakes.slack import FakeSlack
from sqlalchemy import select

from bot.app import create_app
from bot.config.schema import AppConfig
from bot.evidence.location import open_store
from bot.jobs.payloads import KeepFiles, enqueue
from bot.slack_ui.evidence_form import ADD_EVIDENCE, EVIDENCE_VIEW, FILES_FIELD, NOTE_FIELD
from storage.db import Database
from storage.models import Event, EvidenceItem

EBAY = "https://www.ebay.com/itm/123456789012"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n%test-buy invoice\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
KB = 1024


@pytest.fixture
def config() -> AppConfig:
    # Small limits (in MB), so the tests' files cross them: 8 KB a file, 12 KB a case.
    return build_config(
        evidence={"file_max_mb": 8 / 1024, "case_max_mb": 12 / 1024},
        access={"reporters": ["U0REPORTER", "U0OTHER"], "approvers": ["U0LEGAL"]},
    )


@pytest.fixture
async def bot(
    settings_for: Any, db: Database, slack: FakeSlack, tmp_path: Path
) -> AsyncIterator[SlackDriver]:
    """The bot (as conftest's), with its evidence store in this test's folder."""
    settings = settings_for(EVIDENCE_URL=f"file://{tmp_path}/evidence")
    app = create_app(settings, db=db, worker_poll_interval=0.05)
    server = TestServer(app.web_app(), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield SlackDriver(http=http, url=str(server.make_url("")).rstrip("/"), slack=slack, bot=app)
    await server.close()


@pytest.fixture
async def elsewhere() -> AsyncIterator[FakeSlack]:
    """Another server on loopback that records every file request and its Authorization."""
    async with FakeSlack() as fake:
        yield fake


async def _case(bot: SlackDriver) -> None:
    _, answer = await bot.submit_report(urls=EBAY)
    assert answer.get("response_action") == "update", answer
    await bot.slack.wait_for("chat.postMessage")


def _evidence_form(bot: SlackDriver) -> dict[str, Any]:
    [opened] = bot.slack.calls_to("views.open")
    view: dict[str, Any] = opened.params["view"]
    return view


async def _submit_evidence(
    bot: SlackDriver, metadata: str, files: list[dict[str, Any]], *, user: str = "U0REPORTER"
) -> dict[str, Any]:
    values = {
        FILES_FIELD: {FILES_FIELD: {"type": "file_input", "files": files}},
        NOTE_FIELD: {NOTE_FIELD: {"type": "plain_text_input", "value": "test buy, order 4411"}},
    }
    response = await bot.interact(view_submission(EVIDENCE_VIEW, metadata, values, user=user))
    body = await response.text()
    return json.loads(body) if body.startswith("{") else {}


async def _items(bot: SlackDriver) -> list[EvidenceItem]:
    async with bot.bot.db.sessions() as session:
        return list((await session.execute(select(EvidenceItem))).scalars())


async def _opened_form(bot: SlackDriver, user: str = "U0REPORTER") -> dict[str, Any]:
    await _case(bot)
    await bot.interact(press(ADD_EVIDENCE, "TD-1", user=user))
    await bot.slack.wait_for("views.open")
    return _evidence_form(bot)


async def test_add_evidence_keeps_each_file_by_its_hash_and_lists_it_in_the_thread(
    bot: SlackDriver, tmp_path: Path
) -> None:
    form = await _opened_form(bot)
    photo = bot.slack.add_file("test-buy.png", PNG, mimetype="image/png")
    invoice = bot.slack.add_file("invoice.pdf", PDF, mimetype="application/pdf")

    answer = await _submit_evidence(bot, form["private_metadata"], [photo, invoice])

    assert answer["response_action"] == "update", answer
    [reply] = await eventually(lambda: _replies_async(bot, 1))
    listed = json.dumps(reply["blocks"])
    for name, data in (("test-buy.png", PNG), ("invoice.pdf", PDF)):
        assert name in listed and hashlib.sha256(data).hexdigest() in listed
    assert "1 KB" in listed and "<@U0REPORTER> added 2 files" in reply["text"]
    items = await _items(bot)
    assert [(i.name, i.kind, i.media_type, i.size, i.added_by) for i in items] == [
        ("test-buy.png", "file", "image/png", len(PNG), "U0REPORTER"),
        ("invoice.pdf", "file", "application/pdf", len(PDF), "U0REPORTER"),
    ]
    assert items[0].note == "test buy, order 4411"
    store = open_store(f"file://{tmp_path}/evidence")
    assert await store.get(hashlib.sha256(PNG).hexdigest()) == PNG
    assert await store.get(hashlib.sha256(PDF).hexdigest()) == PDF
    assert {d["authorization"] for d in bot.slack.downloads} == {f"Bearer {BOT_TOKEN}"}
    async with bot.bot.db.sessions() as session:
        events = (await session.execute(select(Event).where(Event.kind == "evidence_added"))).all()
    assert len(events) == 2


async def _replies_async(bot: SlackDriver, count: int) -> list[dict[str, Any]] | None:
    """The thread's replies about evidence (kept or refused), once there are `count`."""
    replies = [
        c.params
        for c in bot.slack.calls_to("chat.postMessage")
        if c.params.get("thread_ts")
        and any(word in c.params.get("text", "") for word in ("of evidence", "could not be kept"))
    ]
    return replies if len(replies) >= count else None


async def test_the_report_forms_evidence_files_are_kept_with_the_new_case(
    bot: SlackDriver,
) -> None:
    photo = bot.slack.add_file("listing.png", PNG, mimetype="image/png")
    values = _report_values(evidence_files=[photo])
    metadata = bot.sealed("report_listing", user="U0REPORTER", channel="C0TEAM", private=False)

    response = await bot.interact(view_submission("report_listing", metadata, values))

    answer = json.loads(await response.text())
    assert answer["response_action"] == "update", answer
    [reply] = await eventually(lambda: _replies_async(bot, 1))
    assert hashlib.sha256(PNG).hexdigest() in json.dumps(reply["blocks"])
    [item] = await _items(bot)
    assert (item.case_id, item.name, item.added_by) == (1, "listing.png", "U0REPORTER")


def _report_values(*, evidence_files: list[dict[str, Any]]) -> dict[str, Any]:
    def select(value: str) -> dict[str, Any]:
        option = {"text": {"type": "plain_text", "text": value}, "value": value}
        return {"type": "static_select", "selected_option": option}

    return {
        "urls": {"urls": {"type": "plain_text_input", "value": EBAY}},
        "brand": {"brand": select("Acme")},
        "right": {"right": select("acme-eu-tm")},
        "type": {"type": select("counterfeit")},
        "description": {
            "description": {
                "type": "plain_text_input",
                "value": "Fake ACME backpacks sold with our logo.",
            }
        },
        FILES_FIELD: {FILES_FIELD: {"type": "file_input", "files": evidence_files}},
    }


async def test_a_file_stored_elsewhere_is_refused_and_never_sent_the_token(
    bot: SlackDriver, elsewhere: FakeSlack
) -> None:
    form = await _opened_form(bot)
    foreign = elsewhere.add_file("proof.png", PNG, mimetype="image/png")

    answer = await _submit_evidence(bot, form["private_metadata"], [foreign])

    assert answer["errors"][FILES_FIELD] == (
        "proof.png is not stored by Slack; upload the file itself."
    )
    assert elsewhere.downloads == [] and elsewhere.calls == []
    assert await _items(bot) == []


async def test_the_job_itself_never_sends_the_token_to_another_host(
    bot: SlackDriver, elsewhere: FakeSlack
) -> None:
    """Past the form's check too: a queued file whose address is not Slack's is refused by the
    download itself, without a request."""
    await _case(bot)
    foreign = elsewhere.add_file("proof.png", PNG, mimetype="image/png")
    async with bot.bot.db.transaction() as session:
        await enqueue(session, KeepFiles(case_id=1, added_by="U0REPORTER", files=[foreign]))
    bot.bot.runtime.wake_worker()

    [reply] = await eventually(lambda: _replies_async(bot, 1))

    assert "proof.png is not stored by Slack" in reply["text"]
    assert elsewhere.downloads == [] and elsewhere.calls == []
    assert await _items(bot) == []


async def test_a_file_type_the_bot_does_not_keep_is_refused_beside_the_field(
    bot: SlackDriver,
) -> None:
    form = await _opened_form(bot)
    sheet = bot.slack.add_file("prices.xlsm", b"PK\x03\x04macro", mimetype="application/zip")

    answer = await _submit_evidence(bot, form["private_metadata"], [sheet])

    assert answer["errors"][FILES_FIELD].startswith(
        "prices.xlsm is not a file type the bot keeps: add PNG, JPEG"
    )
    assert bot.slack.downloads == []


async def test_bytes_that_are_not_what_the_name_says_keep_nothing_of_the_submission(
    bot: SlackDriver,
) -> None:
    form = await _opened_form(bot)
    photo = bot.slack.add_file("test-buy.png", PNG, mimetype="image/png")
    fake = bot.slack.add_file("photo.png", b"MZ\x90\x00 not an image", mimetype="image/png")

    answer = await _submit_evidence(bot, form["private_metadata"], [photo, fake])

    assert answer["response_action"] == "update"
    [reply] = await eventually(lambda: _replies_async(bot, 1))
    assert "the 2 files you added could not be kept" in reply["text"]
    assert "photo.png is not a file type the bot keeps" in reply["text"]
    assert await _items(bot) == []


async def test_a_file_over_the_limit_is_refused_before_it_is_fetched(bot: SlackDriver) -> None:
    form = await _opened_form(bot)
    big = bot.slack.add_file("scan.pdf", PDF + b"%" * (9 * KB), mimetype="application/pdf")

    answer = await _submit_evidence(bot, form["private_metadata"], [big])

    assert answer["errors"][FILES_FIELD] == (
        "scan.pdf is larger than 8 KB (`evidence.file_max_mb`); nothing was kept."
    )
    assert bot.slack.downloads == []


async def test_a_file_larger_than_slack_said_is_cut_off_and_nothing_kept(
    bot: SlackDriver,
) -> None:
    form = await _opened_form(bot)
    big = bot.slack.add_file("scan.pdf", PDF + b"%" * (9 * KB), mimetype="application/pdf")

    answer = await _submit_evidence(bot, form["private_metadata"], [{**big, "size": 100}])

    assert answer["response_action"] == "update"
    [reply] = await eventually(lambda: _replies_async(bot, 1))
    assert "scan.pdf is larger than 8 KB" in reply["text"]
    assert await _items(bot) == []


async def test_a_case_takes_files_up_to_its_limit_and_says_how_much_more_fits(
    bot: SlackDriver,
) -> None:
    form = await _opened_form(bot)
    first = bot.slack.add_file("a.pdf", PDF + b"%" * (7 * KB), mimetype="application/pdf")
    assert (await _submit_evidence(bot, form["private_metadata"], [first]))["response_action"]
    await eventually(lambda: _replies_async(bot, 1))
    second = bot.slack.add_file("b.pdf", PDF + b"%" * (7 * KB), mimetype="application/pdf")

    answer = await _submit_evidence(bot, form["private_metadata"], [second])

    assert answer["errors"][FILES_FIELD] == (
        "A case holds at most 12 KB of files (`evidence.case_max_mb`); this one has 7 KB, "
        "so 5 KB more fit. Nothing was kept."
    )
    assert len(await _items(bot)) == 1


async def test_only_the_reporter_and_approvers_may_add_evidence(bot: SlackDriver) -> None:
    await _case(bot)

    await bot.interact(press(ADD_EVIDENCE, "TD-1", user="U0OTHER"))
    [refusal] = await bot.slack.wait_for("chat.postEphemeral")
    await bot.interact(press(ADD_EVIDENCE, "TD-1", user="U0LEGAL"))
    await bot.slack.wait_for("views.open")

    assert refusal.params["user"] == "U0OTHER"
    assert "Only TD-1's reporter (<@U0REPORTER>) and the approvers" in refusal.params["text"]
    assert len(bot.slack.calls_to("views.open")) == 1


async def test_the_form_is_refused_to_anyone_but_who_opened_it(bot: SlackDriver) -> None:
    form = await _opened_form(bot)
    photo = bot.slack.add_file("test-buy.png", PNG, mimetype="image/png")

    answer = await _submit_evidence(bot, form["private_metadata"], [photo], user="U0LEGAL")

    assert "opened by someone else" in answer["errors"][FILES_FIELD]
    assert bot.slack.downloads == []


async def test_a_private_cases_evidence_is_refused_to_a_non_member(bot: SlackDriver) -> None:
    bot.slack.channels["G0PRIV"] = {"is_private": True, "members": ["U0REPORTER"]}
    metadata = bot.sealed("report_listing", user="U0REPORTER", channel="G0PRIV", private=True)
    response = await bot.submit_report(urls=EBAY, metadata=metadata, channel="G0PRIV")
    assert response[1]["response_action"] == "update"

    await bot.interact(press(ADD_EVIDENCE, "TD-1", user="U0OTHER", channel="G0PRIV"))
    [refusal] = await bot.slack.wait_for("chat.postEphemeral")

    assert "filed in a private channel" in refusal.params["text"]
    assert bot.slack.calls_to("views.open") == []
