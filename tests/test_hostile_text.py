"""Hostile text never becomes a ping, a mention or a link, and never breaks Slack's limits.

Every message builder that shows user or platform text is fed `<!channel>`, `<!here>`, `<@U123>`,
`<https://evil.example|click>`, `&lt;`, `<#C123>`, `<!subteam^S123>`, a 5,000-character string
of all of them, and right-to-left text. `assert_safe` walks the Block Kit JSON: in every mrkdwn
text (and a message's top-level text, which Slack reads as mrkdwn too), once the mentions and
links the bot put there itself are taken out, no `<` may remain, no `&` may start anything but
`&amp;`, `&lt;` or `&gt;`, and the hostile string may not appear as it was written. plain_text
objects are safe by type; only their lengths are checked. Then an end-to-end run: a report with a
hostile description and seller, through the real endpoint, and the messages the fake Slack got.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from app_yaml import build_config
from conftest import SlackDriver, eventually
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.config.loading import parse_config
from bot.config.schema import AppConfig, Brand
from bot.core.cases import thread_link
from bot.core.listings import ListingURLError, parse_listing_url
from bot.core.platforms import PLATFORMS
from bot.delivery.adapters.base import NoticeListing, OutgoingNotice
from bot.delivery.adapters.portal import PORTAL_LINKS
from bot.delivery.cleaning import clean_text
from bot.delivery.decisions import Change, describe_changes
from bot.delivery.notices import build_notice, notice_fields
from bot.desk.case_list import list_answer
from bot.desk.home import home_view
from bot.figures.digest import digest_blocks
from bot.figures.scorecard import scorecard_blocks
from bot.intake.cases import ParsedLine, ReportDraft, duplicate_lines, open_case
from bot.jobs import reminders
from bot.slack_ui import notice_blocks
from bot.slack_ui.case_details import CaseDetails, LastAct, ListingLine
from bot.slack_ui.case_message import case_message
from bot.slack_ui.help import help_blocks
from bot.slack_ui.mrkdwn import context_line, escape, link_url
from bot.slack_ui.report_form import LeftOut, case_filed_view, report_modal
from storage.cases import list_cases
from storage.listings import OpenListing
from storage.models import Case, Listing
from storage.stats.period import OldListing, PeriodFigures, PlatformFigures, SellerCount
from storage.stats.scorecard import PlatformScore

REPORTER = "U0REPORTER"
EBAY = "https://www.ebay.com/itm/123456789012"
AMAZON = "https://www.amazon.de/dp/B0ABCDEFGH"
TAOBAO = "https://item.taobao.com/item.htm?id=612345678901"
PORTAL_URL = "https://ipp.alibabagroup.com/"
EXPLANATION = "These listings sell counterfeit ACME backpacks under our registered mark. "

ATTACKS = {
    "channel": "<!channel>",
    "here": "<!here>",
    "user": "<@U123>",
    "link": "<https://evil.example|click>",
    "entity": "&lt;",
    "entities": "1 &lt; 2 &amp;&amp; 3 &gt; 2",
    "channel-link": "<#C123>",
    "subteam": "<!subteam^S123>",
    "5000-chars": (
        "<!channel> <@U123> <https://evil.example|click> &lt; <#C123> <!subteam^S123> " * 70
    )[:5000],
    "right-to-left": "\u202e<@U123> \u05e9\u05dc\u05d5\u05dd <!here> txt.exe\u202c",
}
HOSTILE = [pytest.param(text, id=name) for name, text in ATTACKS.items()]


# -- the checker ----------------------------------------------------------------------------------

_ARCHIVES = re.compile(r"<https://slack\.com/archives/[A-Z0-9]+/p[0-9]+(?:\|([^<>]*))?>")
_LINK = re.compile(r"<(https://[^<>|\s]+)\|([^<>]*)>")
_BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


def _is_canonical_listing(url: str) -> bool:
    try:
        return parse_listing_url(url).canonical_url == url
    except ListingURLError:
        return False


def _without_own_markup(text: str, *, mentions: Sequence[str], links: Sequence[str]) -> str:
    """The text with the bot's own mentions (the reporter, the person who acted), thread links
    and listing links replaced by what they show (a link's label stays, to be checked)."""
    for user in mentions:
        text = text.replace(f"<@{user}>", f"@{user}")
    text = _ARCHIVES.sub(lambda m: m[1] or "thread", text)

    def link(match: re.Match[str]) -> str:
        own = match[1] in links or _is_canonical_listing(match[1])
        return match[2] if own else match[0]

    return _LINK.sub(link, text)


def _objects(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _objects(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{path}[{i}]")


def _text(node: Any) -> str:
    return str(node.get("text", "")) if isinstance(node, dict) else ""


def _limits(blocks_: list[dict[str, Any]], *, modal: bool) -> list[str]:
    """Slack's length and count limits that matter here (Block Kit reference)."""
    problems = []
    most = 100 if modal else 50
    if len(blocks_) > most:
        problems.append(f"{len(blocks_)} blocks, over {most}")

    def over(where: str, value: str, limit: int) -> None:
        if len(value) > limit:
            problems.append(f"{where}: {len(value)} characters, over {limit}")

    for where, obj in _objects(blocks_, "blocks"):
        kind = obj.get("type")
        if kind == "header":
            over(f"{where} header", _text(obj.get("text")), 150)
        elif kind == "section":
            over(f"{where} section text", _text(obj.get("text")), 3000)
            fields = obj.get("fields") or []
            if len(fields) > 10:
                problems.append(f"{where}: {len(fields)} fields, over 10")
            for i, item in enumerate(fields):
                over(f"{where}.fields[{i}]", _text(item), 2000)
        elif kind == "context":
            if len(obj.get("elements") or []) > 10:
                problems.append(f"{where}: more than 10 context elements")
            for i, item in enumerate(obj.get("elements") or []):
                over(f"{where}.elements[{i}]", _text(item), 3000)
        elif kind == "actions":
            if len(obj.get("elements") or []) > 25:
                problems.append(f"{where}: more than 25 elements")
        elif kind == "button":
            over(f"{where} button text", _text(obj.get("text")), 75)
            over(f"{where} button value", str(obj.get("value", "")), 2000)
        elif kind == "input":
            over(f"{where} label", _text(obj.get("label")), 2000)
        elif kind == "plain_text_input":
            over(f"{where} placeholder", _text(obj.get("placeholder")), 150)
            over(f"{where} initial_value", str(obj.get("initial_value", "")), 3000)
        elif kind in ("static_select", "multi_static_select"):
            options = obj.get("options") or []
            if len(options) > 100:
                problems.append(f"{where}: {len(options)} options, over 100")
            for i, option in enumerate(options):
                over(f"{where}.options[{i}] text", _text(option.get("text")), 75)
                over(f"{where}.options[{i}] value", str(option.get("value", "")), 150)
        if "confirm" in obj and isinstance(obj["confirm"], dict):
            confirm = obj["confirm"]
            over(f"{where}.confirm title", _text(confirm.get("title")), 100)
            over(f"{where}.confirm text", _text(confirm.get("text")), 300)
        for key in ("block_id", "action_id"):
            if isinstance(obj.get(key), str):
                over(f"{where}.{key}", obj[key], 255)
    for i, block in enumerate(blocks_):
        try:  # slack_sdk's own model checks the limits it knows, too
            Block.parse(block).to_dict()  # type: ignore[union-attr]
        except Exception as exc:
            problems.append(f"blocks[{i}]: slack_sdk refuses it: {exc}")
    return problems


def assert_safe(
    text: str | None,
    blocks_: list[dict[str, Any]],
    *,
    hostile: str,
    mentions: Sequence[str] = (REPORTER,),
    links: Sequence[str] = (),
    modal: bool = False,
) -> None:
    """No hostile text in any mrkdwn can act as markup; Slack's limits hold."""
    mrkdwn = [("text", text)] if text is not None else []
    mrkdwn += [
        (where, str(obj.get("text", "")))
        for where, obj in _objects(blocks_, "blocks")
        if obj.get("type") == "mrkdwn"
    ]
    # A bare `&lt;` is too short to tell from the bot's own escapes; "entities" covers it.
    markup = any(char in hostile for char in "<>&") and len(hostile) > 4
    problems = []
    for where, raw in mrkdwn:
        shown = _without_own_markup(raw, mentions=mentions, links=links)
        if (at := shown.find("<")) >= 0:
            problems.append(f"{where}: markup left at {at}: {shown[max(0, at - 30) : at + 50]!r}")
        if (bare := _BARE_AMPERSAND.search(shown)) is not None:
            at = bare.start()
            problems.append(f"{where}: unescaped & at {at}: {shown[max(0, at - 30) : at + 30]!r}")
        if markup and (hostile in shown or hostile[:40] in shown):
            problems.append(f"{where}: the hostile text appears as written")
    problems += _limits(blocks_, modal=modal)
    assert not problems, "\n".join(problems)


def assert_modal_safe(view: dict[str, Any], *, hostile: str) -> None:
    assert_safe(None, view["blocks"], hostile=hostile, modal=True)
    for key in ("title", "submit", "close"):
        if key in view:
            assert len(view[key]["text"]) <= 24, key
    assert len(view.get("private_metadata", "")) <= 3000
    View(**view).to_dict()


def _displayed(raw: str) -> str:
    """What Slack shows for escaped mrkdwn text."""
    return raw.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# -- the checker checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "<!channel>",
        "hi <@U999>",
        "<https://evil.example|click>",
        "<#C123>",
        "1 &lt; 2 &amp;&amp; 3 &gt; 2",
        "a & b",
        "<https://www.amazon.de/dp/B0ABCDEFGH?x=1|label>",
    ],
)
def test_the_checker_catches_raw_markup(text: str) -> None:
    section = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    with pytest.raises(AssertionError):
        assert_safe(None, section, hostile=text)


def test_the_checker_accepts_the_bot_s_own_links_and_escaped_text() -> None:
    text = (
        f"<@{REPORTER}> <{AMAZON}|amazon.de:B0ABCDEFGH> "
        f"<{thread_link('C0REPORTS', '1700000001.000100')}|thread> "
        f"{escape('<!channel> &lt; <@U123>')}"
    )
    section = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    assert_safe(text, section, hostile="<!channel>")


def test_the_checker_enforces_limits() -> None:
    header = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
    with pytest.raises(AssertionError, match="over 150"):
        assert_safe(None, header, hostile="x")
    fields = [{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}]
    with pytest.raises(AssertionError, match="over 2000"):
        assert_safe(None, fields, hostile="x")


# -- every builder --------------------------------------------------------------------------------


def _when() -> datetime:
    return datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _details(hostile: str, **more: Any) -> CaseDetails:
    """Every detail a parent message shows, written by the hostile text: evidence (one a real
    address, one not), the seller, and a last act whose actor, kind and words are hostile."""
    return CaseDetails(
        evidence=[EVIDENCE, f"https://evil.example/{hostile}", hostile],
        seller=hostile,
        last_act=LastAct(
            hostile, "notice_failed", {"reason": hostile, "reference": hostile}, _when()
        ),
        **more,
    )


EVIDENCE = "https://acme.example/testbuy?a=1&b=<2>|3"
EVIDENCE_LINK = "https://acme.example/testbuy?a=1&amp;b=%3C2%3E%7C3"  # as the link holds it


def _evidence_links(hostile: str) -> list[str]:
    """The evidence links a parent message may hold: a link's address is the person's (encoded
    so that it cannot end the link early), its label escaped."""
    return [EVIDENCE_LINK, escape(link_url(f"https://evil.example/{hostile}"))]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_case_message(hostile: str) -> None:
    text, built = case_message(
        ref="TD-7",
        brand=hostile,
        right_label=hostile,
        infringement=hostile,
        reporter_id=REPORTER,
        created_at=_when(),
        zone=ZoneInfo("Europe/Berlin"),
        counts={("ebay", "queued"): 1, ("amazon", "removed"): 1, (hostile, "failed"): 1},
        listings=[
            ListingLine("ebay", EBAY, "awaiting_you", seller=hostile, note=hostile),
            ListingLine("amazon", AMAZON, "removed", note=hostile * 3),
            ListingLine(hostile, hostile, "failed", seller=hostile, note=hostile),
        ],
        description=hostile,
        details=_details(hostile),
    )
    assert_safe(text, built, hostile=hostile, links=_evidence_links(hostile))
    assert f"<{AMAZON}|" in json.dumps(built)  # real listings stay links
    assert f"<{EVIDENCE_LINK}|" in json.dumps(built)  # and evidence links too


@pytest.mark.parametrize("hostile", HOSTILE)
def test_bulk_case_message(hostile: str) -> None:
    counts = {("ebay", "queued"): 40, (hostile, "submitted"): 30, ("taobao", "removed"): 5}
    notes = [ListingLine("ebay", EBAY, "needs_info", seller=hostile, note=hostile)] * 10
    text, built = case_message(
        ref="TD-8",
        brand=hostile,
        right_label=hostile,
        infringement="counterfeit",
        reporter_id=REPORTER,
        created_at=_when(),
        zone=ZoneInfo("UTC"),
        counts=counts,
        listings=[],
        description=hostile,
        details=_details(
            hostile, notes=notes, noted=40, sellers=[(hostile, 30)] * 5, seller_count=12
        ),
    )
    assert_safe(text, built, hostile=hostile, links=_evidence_links(hostile))


@pytest.mark.parametrize("hostile", HOSTILE)
def test_not_filed_form_and_reply(hostile: str) -> None:
    assert_modal_safe(notice_blocks.not_filed_view(notice_id=3, platform=hostile), hostile=hostile)
    text, built = notice_blocks.portal_not_filed(
        notice_id=3, platform=hostile, actor="U0LEGAL", reason=hostile, reporter_id=REPORTER
    )
    assert_safe(text, built, hostile=hostile, mentions=(REPORTER, "U0LEGAL"))


@pytest.mark.parametrize("hostile", HOSTILE)
def test_help_for_an_unknown_word(hostile: str) -> None:
    text, built = help_blocks(unknown=hostile)
    assert_safe(text, built, hostile=hostile)


def _config(hostile: str) -> AppConfig:
    return AppConfig.model_validate(
        {
            "rights_holder": {"name": "Acme Outdoor GmbH", "email": "bp@acme.example"},
            "brands": [
                {
                    "name": hostile[:75],
                    "rights": [
                        {
                            "id": "acme-eu-tm",
                            "kind": "trademark",
                            "mark": hostile,
                            "number": hostile,
                            "office": hostile,
                            "classes": [25],
                        },
                        {"id": "acme-photos", "kind": "copyright", "work": hostile},
                    ],
                },
                {"name": "Bravo", "rights": [{"id": "bravo", "kind": "design", "office": hostile}]},
            ],
        }
    )


@pytest.mark.parametrize("hostile", HOSTILE)
def test_report_modal(hostile: str) -> None:
    view = report_modal(_config(hostile), urls=[hostile, EBAY], metadata={"channel": "C0TEAM"})
    assert_modal_safe(view, hostile=hostile)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_report_modal_with_many_brands_and_rights(hostile: str) -> None:
    config = AppConfig.model_validate(
        {
            "rights_holder": {"name": "Acme", "email": "bp@acme.example"},
            "brands": [
                {
                    "name": f"{i} {hostile}"[:75],
                    "rights": [
                        {"id": f"r{i}-{j}", "kind": "copyright", "work": hostile} for j in range(3)
                    ],
                }
                for i in range(120)
            ],
        }
    )
    assert_modal_safe(report_modal(config), hostile=hostile)


def _notice(hostile: str, *, platform: str = "taobao") -> OutgoingNotice:
    config = parse_config(
        """
rights_holder: {name: Acme Outdoor GmbH, email: bp@acme.example, signatory: Jane Roe}
brands:
  - name: Acme
    rights:
      - {id: acme-tm, kind: trademark, mark: ACME, number: "018123456", office: EUIPO, classes: [18]}
""",
        environ={},
    )
    found = config.right("acme-tm")
    assert found is not None
    return build_notice(
        notice_id=3,
        case_ref="TD-7",
        platform=platform,
        channel=platform,
        idempotency_key="TD-7.taobao.0.abc",
        brand=hostile,
        right=found[1],
        rights_holder=config.rights_holder,
        infringement="counterfeit",
        description=EXPLANATION + hostile,
        evidence=[hostile, f"https://evidence.example/{hostile}"],
        listings=[
            NoticeListing(11, "taobao", "taobao:612345678901", TAOBAO, seller=hostile),
            NoticeListing(12, "taobao", hostile, hostile, seller=hostile),
        ],
        reporter=hostile,
    )


@pytest.mark.parametrize("hostile", HOSTILE)
def test_portal_guide(hostile: str) -> None:
    notice = _notice(hostile)
    fields = [*notice_fields(notice), ("The whole notice", notice.text)]
    text, built = notice_blocks.portal_guide(
        notice_id=notice.notice_id,
        platform=notice.platform,
        listings=len(notice.listings),
        fields=fields,
        portal=hostile,
        url=PORTAL_URL,
    )
    assert_safe(text, built, hostile=hostile, links=[PORTAL_URL])


@pytest.mark.parametrize("hostile", HOSTILE)
def test_portal_guide_shows_every_field_whole(hostile: str) -> None:
    notice = _notice(hostile)
    fields = notice_fields(notice)
    _, built = notice_blocks.portal_guide(
        notice_id=notice.notice_id,
        platform=notice.platform,
        listings=len(notice.listings),
        fields=fields,
        portal="Alibaba IPP",
        url=PORTAL_URL,
    )
    shown: dict[str, str] = {}
    for block in built:
        raw = _text(block.get("text"))
        if block["type"] == "section" and raw.startswith("*") and "```" in raw:
            label, _, body = raw.partition("\n")
            shown[label] = shown.get(label, "") + _displayed(body.replace("```", ""))
    for label, value in fields:
        key = f"*{escape(label)}*"
        assert key in shown, f"field {label!r} is missing"
        assert "".join(value.split()) in "".join(shown[key].split()), f"field {label!r} is cut"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_notice_failed_and_held(hostile: str) -> None:
    text, built = notice_blocks.notice_failed(
        notice_id=3, platform=hostile, channel=hostile, error=hostile, reporter_id=REPORTER
    )
    assert_safe(text, built, hostile=hostile)
    text, built = notice_blocks.notice_held(notice_id=3, platform=hostile, error=hostile)
    assert_safe(text, built, hostile=hostile)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_confirm_and_decision_forms(hostile: str) -> None:
    assert_modal_safe(notice_blocks.confirm_view(notice_id=3, platform=hostile), hostile=hostile)
    view = notice_blocks.decision_view(
        notice_id=3, platform=hostile, listings=[(1, hostile), (2, "ebay:123456789012")]
    )
    assert_modal_safe(view, hostile=hostile)


def _listing(n: int, *, platform: str, key: str, url: str) -> Listing:
    return Listing(
        id=n, case_id=7, position=n, platform=platform, key=key, url=url, submitted_url=url
    )


@pytest.mark.parametrize("hostile", HOSTILE)
def test_describe_changes(hostile: str) -> None:
    ebay = [
        _listing(
            n,
            platform="ebay",
            key=f"ebay:12345678901{n}",
            url=f"https://www.ebay.com/itm/12345678901{n}",
        )
        for n in range(12)
    ]
    odd = _listing(99, platform=hostile, key=hostile, url=hostile)
    changes = [
        *(Change(item, "submitted", "needs_info", hostile, hostile) for item in ebay),
        Change(ebay[0], "submitted", "rejected", f"{hostile} (second reason)", None),
        Change(odd, "submitted", "removed", hostile, hostile),
    ]
    text, built = describe_changes(changes, reporter_id=REPORTER, actor="U0LEGAL", context=hostile)
    assert_safe(text, built, hostile=hostile, mentions=[REPORTER, "U0LEGAL"])
    assert f"<@{REPORTER}>" in json.dumps(built), "the reporter is still mentioned"


def test_describe_changes_with_a_long_reason_per_listing_stays_within_one_message() -> None:
    hostile = ATTACKS["5000-chars"]
    changes = [
        Change(
            _listing(
                n, platform="ebay", key=f"ebay:{n:012}", url=f"https://www.ebay.com/itm/{n:012}"
            ),
            "submitted",
            "rejected",
            f"{n}: {hostile}",
            None,
        )
        for n in range(200)
    ]
    text, built = describe_changes(changes, reporter_id=REPORTER, actor="platform:ebay")
    assert_safe(text, built, hostile=hostile)
    assert f"<@{REPORTER}>" in _text(built[0].get("text")), "the mention is never cut off"
    assert "more changes than one message holds" in json.dumps(built)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_case_filed_view(hostile: str) -> None:
    for created in (True, False):
        assert_modal_safe(case_filed_view(hostile, 12_345, created), hostile=hostile)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_case_filed_view_with_many_skipped_lines(hostile: str) -> None:
    skipped = [f"line {n}: {hostile} is not a marketplace" for n in range(1, 501)]
    view = case_filed_view(hostile, 3, True, skipped=skipped)
    assert_modal_safe(view, hostile=hostile)
    assert "… and " in json.dumps(view, ensure_ascii=False)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_report_modal_saying_which_links_of_a_message_it_left_out(hostile: str) -> None:
    left_out = [LeftOut(f"https://shop.example/{hostile}`{n}", hostile) for n in range(40)]
    view = report_modal(
        _config(hostile), urls=[EBAY] * 100, left_out=left_out, metadata={"channel": "C0TEAM"}
    )
    assert_modal_safe(view, hostile=hostile)
    assert view["blocks"][0]["type"] == "context"
    assert "no room in the field" in json.dumps(view)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_context_line(hostile: str) -> None:
    assert_safe(None, [context_line(hostile)], hostile=hostile)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_duplicate_message_is_plain_and_names_the_open_case(hostile: str) -> None:
    # Shown beside the form's field (plain text): only parser-made keys and the bot's own link.
    lines = [
        ParsedLine(1, f"{EBAY} {hostile}", parse_listing_url(EBAY), hostile),
        ParsedLine(2, f"<{AMAZON}|{hostile}>", parse_listing_url(AMAZON), None),
    ]
    hits = {
        "ebay:123456789012": OpenListing(
            "ebay:123456789012", 4, "C0REPORTS", "1700000001.000100", "submitted"
        ),
        "amazon.de:B0ABCDEFGH": OpenListing("amazon.de:B0ABCDEFGH", 5, None, None, "queued"),
    }
    message = "\n".join(map(str, duplicate_lines(lines, hits)))
    assert "TD-4" in message and "TD-5" in message
    assert thread_link("C0REPORTS", "1700000001.000100") in message
    assert "<" not in message and ">" not in message
    assert hostile not in message


# -- the newer builders: reminders, digest, scorecard -----------------------------------------------


def _case(n: int, *, threaded: bool = True) -> Case:
    return Case(
        id=n,
        brand="Acme",
        right_id="acme-eu-tm",
        infringement="counterfeit",
        reporter_id=REPORTER,
        channel_id="C0REPORTS" if threaded else None,
        thread_ts=f"1700000001.{n:06}" if threaded else None,
    )


def _listings_on(n: int, platforms: Sequence[str]) -> list[Listing]:
    return [
        _listing(n * 100 + i, platform=platform, key=f"{platform}:{n}", url=EBAY)
        for i, platform in enumerate(platforms)
    ]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_sla_reminder_and_escalation(hostile: str) -> None:
    every = [*PLATFORMS, hostile, f"{hostile} 2"]
    text, built = reminders._reminder(_case(7), _listings_on(7, every), 7)
    assert_safe(text, built, hostile=hostile)
    assert f"<@{REPORTER}>" in _text(built[0].get("text")), "the reporter is still mentioned"
    cases = [(_case(n, threaded=n % 2 == 0), _listings_on(n, every)) for n in range(1, 61)]
    text, built = reminders._escalation(cases, 7)
    assert_safe(text, built, hostile=hostile)
    shown = json.dumps(built, ensure_ascii=False)
    assert "TD-1" in shown and "more cases" in shown, "a cut list says so"


def test_escalation_of_many_cases_says_how_many_it_leaves_out() -> None:
    cases = [(_case(n), _listings_on(n, list(PLATFORMS))) for n in range(1, 41)]
    _, built = reminders._escalation(cases, 7)
    assert_safe(None, built, hostile="<!channel>")
    shown = _text(built[0].get("text"))
    listed = shown.count("• ")
    assert listed < 40 and f"… and {40 - listed:,} more cases" in shown


def _period(hostile: str) -> PeriodFigures:
    platforms = tuple(
        PlatformFigures(f"{hostile}{n}", 100 - n, 50, 10, 5, 30, 5, 1, 12.5, 80.0)
        for n in range(30)
    )
    oldest = tuple(
        OldListing(
            n, n, hostile, f"{hostile}:{n}", f"https://www.ebay.com/itm/12345678901{n}",
            "needs_info", datetime(2026, 1, 1, tzinfo=UTC), "C0REPORTS", "1700000000.000100",
        )
        for n in range(10)
    )  # fmt: skip
    return PeriodFigures(
        start=datetime(2026, 2, 23, 8, tzinfo=UTC),
        end=datetime(2026, 3, 2, 8, tzinfo=UTC),
        now=datetime(2026, 3, 2, 8, tzinfo=UTC),
        cases=10**6,
        platforms=platforms,
        total=PlatformFigures("", 10**6, 10**5, 10**4, 10, 10, 10, 10, 1.0, 2.0),
        past_sla={item.platform: 10**4 for item in platforms},
        oldest_open=oldest,
        top_sellers=tuple(SellerCount(f"{hostile}{n}", 10) for n in range(10)),
    )


@pytest.mark.parametrize("hostile", HOSTILE)
def test_digest_blocks(hostile: str) -> None:
    current = _period(hostile)
    previous = _period(hostile[::-1])
    for chart in (True, False):
        text, built = digest_blocks(
            current, previous, zone=ZoneInfo("Europe/Berlin"), sla={hostile: 3}, chart=chart
        )
        assert_safe(text, built, hostile=hostile)


def _scores(hostile: str, count: int) -> list[PlatformScore]:
    return [
        PlatformScore(f"{hostile}{n}", 10**5, 10**6, 10**5, 10**4, 1.5, 900.0, 10**4, 10**3)
        for n in range(count)
    ] + [PlatformScore(platform, 1, 2, 1, 1, None, None, 0, 0) for platform in PLATFORMS]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_scorecard_blocks(hostile: str) -> None:
    for count in (0, 1, 40):
        for since in (None, _when()):
            text, built = scorecard_blocks(_scores(hostile, count), since=since)
            assert_safe(text, built, hostile=hostile)
    text, built = scorecard_blocks([], since=None)
    assert_safe(text, built, hostile=hostile)


def test_scorecard_table_of_the_widest_names_stays_whole() -> None:
    # `&` escapes to five characters: the widest a name can get in the table.
    text, built = scorecard_blocks(_scores("&" * 20, 40), since=None)
    assert_safe(text, built, hostile="&" * 20)
    assert all(_text(block.get("text")).count("```") in (0, 2) for block in built), "table cut"
    assert "more platforms in the CSV" in json.dumps(built), "the rows left out are counted"


# -- the bot's own pages: the case list, the Home tab, `status` -------------------------------------

WIDEST = "&" * 75  # a brand name as wide as it can get once escaped (`&amp;`)


def _desk_config(hostile: str) -> AppConfig:
    """The test bot's configuration, plus a brand and right named by the hostile text."""
    base = build_config()
    added = [
        Brand.model_validate(
            {
                "name": hostile[:75],
                "rights": [
                    {
                        "id": "hostile-tm",
                        "kind": "trademark",
                        "mark": hostile,
                        "number": hostile,
                        "office": hostile,
                    }
                ],
            }
        ),
        Brand.model_validate(
            {"name": WIDEST, "rights": [{"id": "widest", "kind": "copyright", "work": hostile}]}
        ),
    ]
    return base.model_copy(update={"brands": [*base.brands, *added]})


DESKS = [pytest.param(text, _desk_config(text), id=name) for name, text in ATTACKS.items()]


async def _file_hostile_report(bot: SlackDriver, hostile: str) -> None:
    _, body = await bot.submit_report(
        urls=f"{EBAY}\n{TAOBAO}",
        brand=hostile[:75],
        right="hostile-tm",
        description=(EXPLANATION + hostile)[:3000],
        seller=hostile[:200],
    )
    assert body.get("response_action") == "update", body
    await _threaded(bot, 1)


async def _threaded(bot: SlackDriver, count: int) -> None:
    """Wait until the worker has posted `count` cases' parent messages (the list links them)."""

    async def done() -> bool:
        async with bot.bot.db.sessions() as session:
            rows, _ = await list_cases(session, limit=count)
        return len(rows) == count and all(row.thread_ts for row in rows)

    await eventually(done)


@pytest.mark.parametrize(("hostile", "config"), DESKS)
async def test_case_list_and_status(bot: SlackDriver, hostile: str) -> None:
    await _file_hostile_report(bot, hostile)
    rt = bot.bot.runtime
    for what in ("open", "mine", "all", "ebay", "taobao"):
        for page in (1, 2):
            text, built = await list_answer(rt, user_id=REPORTER, what=what, page=page)
            assert_safe(text, built, hostile=hostile)
    _, built = await list_answer(rt, user_id=REPORTER, what="mine", page=1)
    assert "/archives/C0REPORTS/p" in json.dumps(built), "the case links to its thread"
    assert escape(hostile[:75]) in json.dumps(built, ensure_ascii=False), "the brand shows"

    await bot.command("status TD-1")
    [answer] = await bot.slack.wait_for_responses(1)
    assert_safe(answer.get("text"), answer["blocks"], hostile=hostile)
    assert "Open the status thread" in json.dumps(answer["blocks"])


@pytest.mark.parametrize(("hostile", "config"), DESKS)
async def test_home_view(bot: SlackDriver, hostile: str) -> None:
    await _file_hostile_report(bot, hostile)
    view = await home_view(bot.bot.runtime, user_id=REPORTER)
    assert_modal_safe(view, hostile=hostile)
    shown = json.dumps(view["blocks"], ensure_ascii=False)
    assert "TD-1" in shown and escape(hostile[:75]) in shown


@pytest.mark.parametrize(("hostile", "config"), DESKS[:1])
async def test_a_full_page_of_the_widest_brand_shows_every_case(
    bot: SlackDriver, hostile: str
) -> None:
    for n in range(12):
        await open_case(
            bot.bot.db,
            config=bot.bot.settings.config,
            draft=ReportDraft(
                urls_text=f"https://www.ebay.com/itm/{100000000000 + n}",
                brand=WIDEST,
                right_id="widest",
                infringement="copyright",
                description=EXPLANATION,
            ),
            reporter_id=REPORTER,
            team_id="T1",
            channel_id="C0TEAM",
            intake_key=f"widest-{n}",
        )
    await _threaded(bot, 12)
    text, built = await list_answer(bot.bot.runtime, user_id=REPORTER, what="mine", page=1)
    assert_safe(text, built, hostile=WIDEST)
    shown = json.dumps(built)
    for n in range(3, 13):
        assert f"|TD-{n}>" in shown, f"TD-{n} is missing from the page"
    view = await home_view(bot.bot.runtime, user_id=REPORTER)
    assert_modal_safe(view, hostile=WIDEST)
    assert "|TD-3>" in json.dumps(view["blocks"])


# -- end to end -----------------------------------------------------------------------------------


async def test_a_hostile_report_reaches_slack_escaped(bot: SlackDriver) -> None:
    hostile = ATTACKS["5000-chars"][:2500] + ATTACKS["right-to-left"] + ATTACKS["entity"]
    _, body = await bot.submit_report(
        urls=f"{EBAY}\n{TAOBAO}", description=EXPLANATION + hostile, seller=hostile[:200]
    )
    assert body.get("response_action") == "update", body

    def thread_replies() -> list[Any]:
        return [c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("thread_ts")]

    [parent] = await bot.slack.wait_for("chat.postMessage")
    await eventually(
        lambda: _ready(any("portal_submitted" in json.dumps(c.params) for c in thread_replies()))
    )
    posted = [c for c in bot.slack.calls if c.method in ("chat.postMessage", "chat.update")]
    assert parent in posted
    for call in posted:
        assert_safe(
            call.params.get("text"),
            call.params.get("blocks") or [],
            hostile=hostile,
            links=[url for _, url in PORTAL_LINKS.values()],
        )
    assert escape(hostile[:100]) in json.dumps(parent.params["blocks"], ensure_ascii=False)


async def _ready(value: Any) -> Any:
    return value


def test_escape_follows_slack_s_order() -> None:
    assert escape("&lt;") == "&amp;lt;"
    assert escape("<!here> & co") == "&lt;!here&gt; &amp; co"
    assert _displayed(escape(ATTACKS["5000-chars"])) == ATTACKS["5000-chars"]
    assert clean_text(ATTACKS["right-to-left"]).startswith("<@U123>")
