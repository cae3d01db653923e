"""`takedown-bot shell`: scripted sessions through its input stream, and the Block Kit renderer.

The session tests run the real command in a subprocess with its stdin a pipe, exactly as a person
would pipe a script into it, and read what it prints: the real bot, worker and scheduler behind a
local Slack stand-in, with sandbox platforms that decide within seconds.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.shell.render import (
    Line,
    changed_lines,
    choose,
    mrkdwn_to_text,
    question,
    render_blocks,
    render_message,
    thread_label,
)
from bot.shell.slack import sign_request
from bot.slack_ui import notice_blocks
from bot.slack_ui.case_details import ListingLine
from bot.slack_ui.case_message import case_message
from bot.slack_ui.help import help_blocks
from bot.slack_ui.mrkdwn import escape

ROOT = Path(__file__).resolve().parent.parent

SHELL_CONFIG = """
team:
  timezone: Europe/Berlin
  report_channel: C0TAKEDOWNS
rights_holder:
  name: Acme Outdoor GmbH
  email: brand-protection@acme.example
  address: Hauptstr. 1, 10115 Berlin, DE
  phone: +49 30 1234567
  signatory: Jane Roe, Head of Brand Protection
brands:
  - name: Acme
    rights:
      - id: acme-eu-tm
        kind: trademark
        mark: ACME
        number: "018123456"
        office: EUIPO
        classes: [18, 25]
        jurisdiction: EU
      - id: acme-photos
        kind: copyright
        work: Acme 2026 catalogue product photographs
        url: https://acme.example/catalogue
evidence:
  capture: false  # the shell's listings are real marketplace URLs; no test asks them
platforms:
  ebay:
    adapter: sandbox
    decide_after: 2s
    poll_every: 1s
    needs_info_rate: 0
"""

EBAY = "https://www.ebay.com/itm/123456789012"
TAOBAO = "https://item.taobao.com/item.htm?id=123456789"
TAOBAO_2 = "https://item.taobao.com/item.htm?id=987654321"


def run_shell(
    tmp_path: Path, lines: list[str], *, wait: float = 20.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "shell.yaml"
    config.write_text(SHELL_CONFIG, encoding="utf-8")
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SLACK_") and key not in ("TAKEDOWN_CONFIG", "LOG_LEVEL")
    }
    environ.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'shell.db'}", NO_COLOR="1", **(env or {})
    )
    return subprocess.run(
        [sys.executable, "-m", "bot", "shell", "--config", str(config), "--wait", str(wait)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environ,
        timeout=90,
    )


def report_form(*urls: str, right: str = "1") -> list[str]:
    """The lines that answer the report form: URLs (prefilled), brand (the only one), right,
    type, a description (two lines, ended by an empty line), no evidence, no seller, no URL file,
    no evidence files, no lines to skip."""
    command = " ".join(("/report-listing", *urls))
    description = ["Fake ACME goods sold with our logo", "and our catalogue photos.", ""]
    return [command, "", "", right, "1", *description, "", "", "", "", ""]


# -- sessions -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_report_flow_reaches_a_decision_in_the_status_thread(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_shell(tmp_path, report_form(EBAY))
    out = result.stdout
    assert result.returncode == 0, result.stderr
    # The form, asked field by field.
    assert "┌─ Report listings" in out
    assert (
        f"│ Listing URLs, one per line  (optional; several lines, an empty line ends; Enter keeps: {EBAY})"
        in out
    )
    assert "│   1) Acme: acme-eu-tm (trademark EUIPO 018123456)" in out
    assert "│ Infringement type  (a number)" in out
    assert "│ ✅ TD-1 is open with 1 listing." in out
    # The parent message in the report channel, then replies in its thread, in order.
    parent = out.index("#C0TAKEDOWNS · takedown-bot\n  TD-1 · Acme · Counterfeit goods")
    assert "IP right: acme-eu-tm (trademark EUIPO 018123456)  ·  Reported by: @you" in out
    in_review = out.index("  └ TD-1 thread · takedown-bot\n      🔍 In review on eBay")
    decided = max(out.find("✅ Removed on eBay"), out.find("❌ Rejected on eBay"))
    assert parent < in_review < decided, out + "\n--- stderr ---\n" + result.stderr
    assert f"ebay:123456789012 ({EBAY})" in out
    assert "↻ (updated) TD-1" in out
    assert "Status: closed: 1 removed" in out or "Status: closed: 1 rejected" in out
    assert time.monotonic() - started < 30


def test_a_second_session_on_the_same_database_files_its_report_too(tmp_path: Path) -> None:
    first = run_shell(tmp_path, report_form(TAOBAO), wait=1)
    assert first.returncode == 0, first.stderr
    assert "│ ✅ TD-1 is open with 1 listing." in first.stdout
    second = run_shell(tmp_path, report_form(TAOBAO_2), wait=1)
    assert second.returncode == 0, second.stderr
    assert "already filed" not in second.stdout
    assert "│ ✅ TD-2 is open with 1 listing." in second.stdout
    with sqlite3.connect(tmp_path / "shell.db") as conn:
        cases = conn.execute("SELECT id, intake_key FROM cases ORDER BY id").fetchall()
    assert [case_id for case_id, _ in cases] == [1, 2]
    assert cases[0][1] != cases[1][1]


def test_a_validation_error_is_shown_beside_its_field_and_asked_again(tmp_path: Path) -> None:
    description = ["Fake ACME backpacks with our logo.", ""]
    lines = [
        "/report-listing",
        "not a url",
        "",
        "",
        "1",
        "1",
        *description,
        "",
        "",
        "",
        "",
        "",
        EBAY,
        "",
        "quit",
    ]
    result = run_shell(tmp_path, lines)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "┌─ Report listings (please correct)" in out
    assert "│ ✗ Listing URLs, one per line: line 1: Not a URL" in out
    again = out.index("(please correct)")
    assert "│ Listing URLs, one per line" in out[again:]
    assert "Enter keeps: not a url" in out[again:]  # what was typed stays, as in Slack
    assert "│ ✅ TD-1 is open with 1 listing." in out[again:]


def test_pressing_a_numbered_button_opens_its_form_and_records_the_answer(tmp_path: Path) -> None:
    # [1] is the parent message's Add evidence; the notice's buttons follow.
    lines = [*report_form(TAOBAO), "wait", "press 2", "ALI-778899", "wait"]
    result = run_shell(tmp_path, lines)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "📋 Awaiting you: file this notice on Alibaba IP Protection Platform" in out
    assert "[1] Add evidence" in out
    assert "[2] Submitted…  [3] Could not submit  [4] View notice" in out
    assert "(you pressed [2] Submitted…)" in out
    assert "┌─ Confirm submission" in out
    assert "│ Taobao complaint or report number" in out
    assert "📤 Submitted on Taobao (ref. `ALI-778899`)" in out
    assert "[5] Record decision…  [6] Withdraw  [7] View notice  [8] Correct decision…" in out


def test_a_button_with_a_confirmation_asks_first(tmp_path: Path) -> None:
    reason = ["The form rejects the registration number", ""]  # Could not submit asks why
    script = [
        "wait",
        "press 3",
        *reason,
        "wait",
        "press 6",
        "n",
        "press 6",
        "y",
        "wait",
        "press 99",
    ]
    result = run_shell(tmp_path, [*report_form(TAOBAO), *script])
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "(you pressed [3] Could not submit)" in out
    assert "│ Why could it not be filed on Taobao?" in out
    assert "▎ The form rejects the registration number" in out
    assert "[5] Retry  [6] Withdraw" in out
    question = "Withdraw these listings? They stop being tracked in this case."
    assert out.count(question) == 2
    assert "Withdraw? [y/N] n\n(cancelled)" in out
    assert out.count("(you pressed [6] Withdraw)") == 1
    assert "↩️ Withdrawn on Taobao: taobao:123456789" in out
    assert "There is no button [99]." in out


def test_view_notice_shows_the_guide_as_it_was_kept(tmp_path: Path) -> None:
    result = run_shell(tmp_path, [*report_form(TAOBAO), "wait", "press 4"])
    out = result.stdout
    assert result.returncode == 0, result.stderr
    modal = out[out.index("┌─ Notice as sent") :]
    assert "│ Adapter: `portal`" in modal and "│ SHA-256: `" in modal
    assert "│     Rights holder: Acme Outdoor GmbH" in modal
    assert f"│     Listing URLs: {TAOBAO}" in modal


def test_help_answers_privately_and_secrets_never_show(tmp_path: Path) -> None:
    lines = ["/report-listing help", "help", "/report-listing nonsense", "/unknown-command"]
    result = run_shell(tmp_path, lines, env={"LOG_LEVEL": "DEBUG"})
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "#shell · takedown-bot (only visible to you)\n  Report infringing listings" in out
    assert "  `/report-listing status TD-42` — where a case stands" in out
    assert "press N (or N)" in out  # the shell's own help
    assert "🤔 I did not understand `nonsense`." in out
    assert "takedown-bot has no /unknown-command command (it has /report-listing)." in out
    assert "xoxb-shell-" not in out + result.stderr


def test_input_ending_inside_a_form_closes_it(tmp_path: Path) -> None:
    result = run_shell(tmp_path, ["/report-listing", EBAY, ""], wait=0)
    assert result.returncode == 0, result.stderr
    assert "└─ (form closed)" in result.stdout


def test_a_bad_configuration_exits_2_with_the_reason(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("brands: []\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "shell", "--config", str(config)],
        input="",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"},
        timeout=60,
    )
    assert result.returncode == 2
    assert "rights_holder: required key is missing" in result.stderr
    assert "Traceback" not in result.stderr


# -- signing --------------------------------------------------------------------------------------


def test_requests_are_signed_as_slack_signs_them() -> None:
    body = b"command=%2Freport-listing&text=help"
    headers = sign_request("s3cret", body, timestamp=int(time.time()))
    verifier = SignatureVerifier("s3cret")
    assert verifier.is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert not SignatureVerifier("other").is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


# -- the renderer ---------------------------------------------------------------------------------


def texts(lines: list[Line]) -> list[str]:
    return [line.text for line in lines]


def test_mrkdwn_links_mentions_and_entities_read_as_text() -> None:
    users = {"U1": "jane"}
    assert mrkdwn_to_text("<https://a.example/x?a=1&amp;b=2|R&amp;D>", users=users) == (
        "R&D (https://a.example/x?a=1&b=2)"
    )
    assert mrkdwn_to_text("<https://a.example>") == "https://a.example"
    assert mrkdwn_to_text("by <@U1> and <@U2>", users=users) == "by @jane and @U2"
    assert mrkdwn_to_text("ask <!subteam^S0LEGAL> in <#C1|legal>") == "ask @S0LEGAL in #legal"
    assert mrkdwn_to_text("*Removed* _now_ ~never~ :white_check_mark:") == "Removed now never ✅"
    assert mrkdwn_to_text("head\n> quoted") == "head\n▎ quoted"
    assert mrkdwn_to_text("*Label*\n```a\nb```") == "Label\n    a\n    b"


def test_escaped_user_text_shows_literally_never_as_a_link_or_ping() -> None:
    hostile = "<!channel> <https://evil.example|click> & co"
    assert mrkdwn_to_text(f"Seller: {escape(hostile)}") == f"Seller: {hostile}"


def test_case_message_renders_header_fields_links_and_context() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    text, blocks = case_message(
        ref="TD-7",
        brand="Acme & Co",
        right_label="acme-eu-tm (trademark EUIPO 018123456)",
        infringement="counterfeit",
        reporter_id="U1",
        created_at=datetime(2026, 5, 1, 8, 0, tzinfo=UTC),
        zone=ZoneInfo("Europe/Berlin"),
        counts={("ebay", "in_review"): 1},
        listings=[ListingLine("ebay", EBAY, "in_review")],
    )
    lines = render_message(text, blocks, users={"U1": "jane"})
    assert lines[0] == Line("TD-7 · Acme & Co · Counterfeit goods", "bold")
    assert texts(lines)[1:] == [
        "IP right: acme-eu-tm (trademark EUIPO 018123456)  ·  Reported by: @jane",
        "Listings: 1  ·  Status: open: 1 in review",
        f"🔍 eBay: {EBAY} — in review",
        "[1] Add evidence",
        "Opened 2026-05-01 10:00 CEST · updates in this thread",
    ]
    assert lines[-1].style == "dim"
    assert thread_label(text, blocks) == "TD-7"


def test_buttons_are_numbered_through_the_callback() -> None:
    _, blocks = notice_blocks.notice_failed(
        notice_id=5, platform="ebay", channel="ebay", error="401 <bad token>", reporter_id="U1"
    )
    seen: list[tuple[str, str]] = []

    def number(element: dict[str, object], block_id: str) -> int:
        seen.append((str(element["action_id"]), block_id))
        return 40 + len(seen)

    lines = render_blocks(blocks, users={"U1": "jane"}, number=number)
    assert texts(lines)[-1] == "[41] Retry  [42] Withdraw"
    assert lines[-1].style == "cyan"
    assert seen == [(notice_blocks.RETRY, "failed:5"), (notice_blocks.WITHDRAW, "failed:5")]
    assert "▎ 401 <bad token>" in texts(lines)


def test_a_message_without_blocks_shows_its_text() -> None:
    assert texts(render_message("Hello <@U1>", None, users={"U1": "jane"})) == ["Hello @jane"]
    _, blocks = help_blocks(unknown="digest")
    shown = texts(render_blocks(blocks))
    assert shown[0] == "🤔 I did not understand `digest`."


def test_an_update_shows_only_what_changed() -> None:
    before = [Line("TD-1"), Line("Status: open"), Line("eBay — queued")]
    after = [Line("TD-1"), Line("Status: closed"), Line("eBay — removed")]
    assert texts(changed_lines(before, after)) == ["Status: closed", "eBay — removed"]


def test_choices_accept_numbers_labels_defaults_and_all() -> None:
    options = [
        {"text": {"type": "plain_text", "text": "Removed"}, "value": "removed"},
        {"text": {"type": "plain_text", "text": "Rejected"}, "value": "rejected"},
    ]
    assert choose("2", options, default=[], multi=False) == [2]
    assert choose("rejected", options, default=[], multi=False) == [2]
    assert choose("", options, default=[1], multi=False) == [1]
    assert choose("3", options, default=[], multi=False) is None
    assert choose("all", options, default=[], multi=True) == [1, 2]
    assert choose("2, 1", options, default=[], multi=True) == [2, 1]
    assert choose("-", options, default=[1], multi=True) == []


def test_answers_take_the_shape_slack_gives_state_values() -> None:
    from bot.config.loading import parse_config
    from bot.slack_ui.report_form import report_modal

    config = parse_config(SHELL_CONFIG, environ={})
    blocks = {b["block_id"]: b for b in report_modal(config, urls=[EBAY])["blocks"]}
    urls = question(blocks["urls"])
    assert urls.multiline and urls.default == EBAY
    assert urls.answer("") == ({"type": "plain_text_input", "value": EBAY}, None)
    assert question(blocks["brand"]).default == [1]  # the only brand is preselected
    state, _ = question(blocks["right"]).answer("2")
    assert state == {
        "type": "static_select",
        "selected_option": blocks["right"]["element"]["options"][1],
    }
    assert question(blocks["right"]).answer("") == (None, "this field is required")
    assert question(blocks["seller"]).answer("") == (
        {"type": "plain_text_input", "value": None},
        None,
    )
    again = question(blocks["seller"], {"type": "plain_text_input", "value": "ACME-OUTLET"})
    assert again.answer("")[0] == {"type": "plain_text_input", "value": "ACME-OUTLET"}
    assert again.answer("-")[0] == {"type": "plain_text_input", "value": None}
    many = {
        "type": "input",
        "block_id": "listings",
        "label": {"type": "plain_text", "text": "Listings"},
        "element": {
            "type": "multi_static_select",
            "action_id": "listings",
            "options": blocks["right"]["element"]["options"],
            "initial_options": blocks["right"]["element"]["options"],
        },
    }
    assert question(many).default == [1, 2]
    assert question(many).answer("2")[0] == {
        "type": "multi_static_select",
        "selected_options": [blocks["right"]["element"]["options"][1]],
    }
