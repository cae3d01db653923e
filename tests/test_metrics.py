"""`GET /metrics`: Prometheus text with jobs, submissions, decisions and acknowledgement latency."""

from __future__ import annotations

from conftest import SlackDriver, eventually


async def test_metrics_report_jobs_submissions_and_ack_latency(bot: SlackDriver) -> None:
    await bot.submit_report(urls="https://item.taobao.com/item.htm?id=612345678901")
    await bot.command("help")

    async def scraped() -> str:
        response = await bot.http.get(f"{bot.url}/metrics")
        text = await response.text()
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        return (
            text
            if 'takedown_submissions_total{outcome="awaiting_person",platform="taobao"} 1.0' in text
            else ""
        )

    text = await eventually(scraped)
    assert 'takedown_ack_seconds_count{kind="command"} 1.0' in text
    assert 'takedown_ack_seconds_count{kind="view_submission"} 1.0' in text
    assert 'takedown_job_runs_total{kind="notify",outcome="done"}' in text
    assert "takedown_queue_age_seconds" in text
