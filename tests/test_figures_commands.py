"""The figures from Slack and the terminal: `/report-listing digest|scorecard`, the CLI's
`digest`, `scorecard` and `export`, the scheduled digest with its chart, and the App Home."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_kit import run_cli
from conftest import SlackDriver, eventually
from seed import NOW, seed
from sqlalchemy import select

from bot.jobs.schedule import Scheduler
from storage.models import Job


async def test_digest_and_scorecard_answer_ephemerally(bot: SlackDriver) -> None:
    await seed(bot.bot.db)
    await bot.command("digest")
    await bot.command("scorecard --since 2020-01-01")
    await bot.command("scorecard --since yesterday")
    answers = await bot.slack.wait_for_responses(3)
    texts = {json.dumps(a.get("blocks"), ensure_ascii=False) + a.get("text", "") for a in answers}
    assert all(a["response_type"] == "ephemeral" for a in answers)
    assert any("Takedown digest" in t for t in texts)
    assert any("Scorecard" in t or "scorecard" in t for t in texts)
    assert any("expected a date such as 2026-11-01" in t for t in texts)


async def test_scheduled_digest_posts_once_with_its_chart_in_the_thread(bot: SlackDriver) -> None:
    await seed(bot.bot.db)
    config = bot.bot.settings.config.model_copy(
        update={
            "team": bot.bot.settings.config.team.model_copy(
                update={
                    "digest": bot.bot.settings.config.team.digest.model_copy(
                        update={"channels": ["C0DIGEST"]}
                    )
                }
            )
        }
    )
    now = NOW  # the seeded week ends here: Monday 09:00 in Berlin, the digest's moment
    for _ in range(2):  # two workers' schedulers: one digest
        await Scheduler(db=bot.bot.db, config=config, clock=lambda: now).tick()
    bot.bot.worker.wake()
    [message] = await bot.slack.wait_for("files.completeUploadExternal")
    posts = [
        c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("channel") == "C0DIGEST"
    ]
    assert len(posts) == 1 and "Takedown digest" in json.dumps(
        posts[0].params["blocks"], ensure_ascii=False
    )
    assert message.params["thread_ts"] and message.params["channel_id"] == "C0DIGEST"
    [png] = bot.slack.uploads.values()
    assert png.startswith(b"\x89PNG")

    async def digest_jobs() -> list[str]:
        async with bot.bot.db.sessions() as session:
            jobs = (await session.execute(select(Job).where(Job.kind == "digest"))).scalars().all()
        states = [job.state for job in jobs]
        return states if states == ["done"] else []

    assert await eventually(digest_jobs) == ["done"]


async def test_app_home_shows_my_cases_open_listings_and_the_scorecard(bot: SlackDriver) -> None:
    await bot.submit_report(urls="https://www.ebay.com/itm/123456789012")
    event = {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": "Ev1",
        "event_time": 1,
        "event": {"type": "app_home_opened", "user": "U0REPORTER", "channel": "D1", "tab": "home"},
    }
    response = await bot.post(json.dumps(event), "application/json")
    assert response.status == 200
    [call] = await bot.slack.wait_for("views.publish")
    view = json.dumps(call.params["view"], ensure_ascii=False)
    assert call.params["user_id"] == "U0REPORTER"
    assert "Your open cases" in view and "TD-1" in view and "All open listings" in view
    assert "eBay" in view


@pytest.mark.parametrize("fmt", ["csv", "json", "lumen"])
async def test_cli_export_writes_every_format(
    tmp_path: Path, db: object, database_url: str, fmt: str
) -> None:
    await seed(db)  # type: ignore[arg-type]
    out = tmp_path / f"export.{fmt}"
    result = run_cli(tmp_path, database_url, "export", "--format", fmt, "--output", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    if fmt == "csv":
        assert text.splitlines()[0].startswith("case") and len(text.splitlines()) > 200
    else:
        assert json.loads(text)


async def test_cli_digest_dry_run_and_scorecard_csv(
    tmp_path: Path, db: object, database_url: str
) -> None:
    await seed(db)  # type: ignore[arg-type]
    digest = run_cli(tmp_path, database_url, "digest", "--dry-run")
    assert digest.returncode == 0, digest.stderr
    assert "Takedown digest" in digest.stdout
    card = run_cli(
        tmp_path,
        database_url,
        "scorecard",
        "--csv",
        "--since",
        (datetime.now(UTC) - timedelta(days=3650)).strftime("%Y-%m-%d"),
    )
    assert card.returncode == 0, card.stderr
    assert card.stdout.splitlines()[0].startswith("platform")
    bad = run_cli(tmp_path, database_url, "digest")  # no channel configured, not a dry run
    assert bad.returncode == 2 and "--channel" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("scorecard", "--since", "0001-01-01"),
        ("scorecard", "--since", "9999-12-31"),
        ("export", "--format", "csv", "--since", "0001-01-01"),
    ],
)
async def test_cli_since_out_of_range_is_bad_input_in_one_line(
    tmp_path: Path, db: object, database_url: str, args: tuple[str, ...]
) -> None:
    result = run_cli(tmp_path, database_url, *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"takedown-bot: --since {args[-1]!r}") and "1970-01-01" in line
    assert result.stdout == ""


@pytest.mark.parametrize("command", ["scorecard --since 0001-01-01", "scorecard since 0001-01-01"])
async def test_slash_scorecard_since_out_of_range_answers_one_ephemeral_line(
    bot: SlackDriver, command: str
) -> None:
    await bot.command(command)
    [answer] = await bot.slack.wait_for_responses(1)
    assert answer["response_type"] == "ephemeral"
    [block] = answer["blocks"]
    [line] = answer["text"].splitlines()
    assert "0001-01-01" in line or "--since" in line
    assert "Traceback" not in json.dumps(answer) and "Something went wrong" not in answer["text"]
    assert json.dumps(block).count("\\n") == 0
