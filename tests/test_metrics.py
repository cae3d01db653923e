"""`GET /metrics`: Prometheus text with jobs, submissions, decisions and acknowledgement latency."""

from __future__ import annotations

from conftest import SlackDriver, eventually

WANTED = (
    'takedown_submissions_total{outcome="awaiting_person",platform="taobao"} 1.0',
    'takedown_jobs{kind="submit",state="done"} 1.0',
    'takedown_job_runs_total{kind="notify",outcome="done"}',
    'takedown_ack_seconds_count{kind="command"} 1.0',
    'takedown_ack_seconds_count{kind="view_submission"} 1.0',
    "takedown_queue_age_seconds",
)


async def test_metrics_report_jobs_submissions_and_ack_latency(bot: SlackDriver) -> None:
    await bot.submit_report(urls="https://item.taobao.com/item.htm?id=612345678901")
    await bot.command("help")
    missing: list[str] = []

    async def scraped() -> bool:
        response = await bot.http.get(f"{bot.url}/metrics")
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
        missing[:] = [line for line in WANTED if line not in text]
        return not missing

    await eventually(scraped)
    assert missing == []
