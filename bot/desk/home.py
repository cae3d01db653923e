"""The App Home tab: my open cases, every open listing by status (a portal listing nobody has
filed yet shown as *awaiting you*), and the platform scorecard.

For a viewer only (`access.viewers`); others are told who can help. The case list leaves out what
the person may not read (cases filed in private channels they are not in); the counts and the
scorecard are the team's figures, which name no case."""

from __future__ import annotations

from typing import Any

from bot.core.states import SHOWN_OPEN_STATUSES
from bot.desk.case_list import list_answer
from bot.desk.inbox import home_section
from bot.runtime import Runtime
from bot.slack_ui.case_message import STATUS_EMOJI
from bot.slack_ui.mrkdwn import Blocks, context_line, mrkdwn, plain
from storage.listings import open_listing_counts

MAX_HOME_BLOCKS = 100


async def home_view(rt: Runtime, *, user_id: str) -> dict[str, Any]:
    """The Home tab for `user_id`, rendered from the database."""
    # Imported here so the app starts without the figures' SQL (storage.stats); they load the
    # first time someone opens Home.
    from bot.figures.digest import load_scores
    from bot.figures.scorecard import decision_sources, scorecard_blocks

    blocks: Blocks = [{"type": "header", "text": plain("Takedown desk", limit=150)}]
    if not await rt.access.is_viewer(user_id):
        blocks.append({"type": "section", "text": mrkdwn(rt.access.viewer_refusal())})
        return {"type": "home", "blocks": blocks}
    _, mine = await list_answer(rt, user_id=user_id, what="mine", page=1)
    blocks += [b for b in mine if b.get("type") != "actions"]
    blocks += await home_section(rt, user_id=user_id)  # platforms' emails to triage (approvers)
    async with rt.db.sessions() as session:
        counts = await open_listing_counts(session)
    blocks.append({"type": "divider"})
    if counts:
        lines = [
            f"{STATUS_EMOJI.get(status, '')} {status.replace('_', ' ')}: *{counts[status]:,}*"
            for status in SHOWN_OPEN_STATUSES
            if counts.get(status)
        ]
        blocks.append(
            {"type": "section", "text": mrkdwn("*All open listings*\n" + "\n".join(lines))}
        )
    else:
        blocks.append(
            {
                "type": "section",
                "text": mrkdwn("*All open listings*\nNone: every reported listing is decided."),
            }
        )
    blocks.append({"type": "divider"})
    scores = await load_scores(rt.db, rt.config, now=rt.clock())
    sources = await decision_sources(rt.db, since=None, now=rt.clock())
    _, score_blocks = scorecard_blocks(scores, since=None, sources=sources)
    blocks += score_blocks
    blocks.append(
        context_line("Report listings with /report-listing; this tab refreshes when you open it.")
    )
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}
