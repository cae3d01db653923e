"""The slash command's help, and the short answers the bot gives in reply to it."""

from __future__ import annotations

from bot.core.platforms import PLATFORMS
from bot.manifest import COMMAND
from bot.slack_ui.mrkdwn import Blocks, context_line, escape, mrkdwn


def help_blocks(*, unknown: str | None = None) -> tuple[str, Blocks]:
    """The usage message; `unknown` (what the person typed, when the bot did not understand it)
    is quoted first."""
    lines = [
        f"`{COMMAND}` — open the report form",
        f"`{COMMAND} {escape('<url> [<url> …]')}` — open the form with these listings filled in",
        f"`{COMMAND} status TD-42` — where a case stands",
        f"`{COMMAND} list {escape('[open|mine|all|<platform>]')}` — cases, newest first",
        f"`{COMMAND} digest` — this week's figures (only you see them)",
        f"`{COMMAND} scorecard [--since 2026-11-01]` — each platform's responsiveness",
        f"`{COMMAND} bundle TD-42` — a case's evidence bundle (ZIP), uploaded in its thread",
        f"`{COMMAND} inbox` — platforms' emails no case was found for (approvers)",
        f"`{COMMAND} help` — this message",
    ]
    blocks: Blocks = []
    if unknown is not None:
        blocks.append(
            {
                "type": "section",
                "text": mrkdwn(f":thinking_face: I did not understand `{escape(unknown[:100])}`."),
            }
        )
    blocks.append(
        {"type": "section", "text": mrkdwn("*Report infringing listings*\n" + "\n".join(lines))}
    )
    supported = ", ".join(PLATFORMS.values())
    blocks.append(context_line(f"Platforms: {supported}"))
    text = f"I did not understand `{escape(unknown[:100])}`. " if unknown else ""
    return (
        text
        + f"Usage: {COMMAND} [help | status TD-42 | list | digest | scorecard | bundle TD-42 | {escape('<url>')} …]",
        blocks,
    )


def notice_text(text: str) -> tuple[str, Blocks]:
    """A short ephemeral answer."""
    return text, [{"type": "section", "text": mrkdwn(text)}]
