"""The Slack app manifest for this bot (`takedown-bot manifest`): least-privilege scopes, and the
command and shortcut it declares."""

from __future__ import annotations

from typing import Any

# The app's entry points as Slack knows them: the slash command (bot.slack_ui.help and
# handlers.commands) and the message shortcut's callback id (handlers.shortcuts). They are declared
# here, with the rest of what the manifest tells Slack, so that printing it loads no Slack code.
COMMAND = "/report-listing"
SHORTCUT = "report_listing_message"
REPLY_SHORTCUT = "record_platform_reply"  # handlers.mail: an email pasted into Slack

BOT_SCOPES = [
    "commands",  # /report-listing and the message shortcut
    "chat:write",  # status threads, parent-message updates
    "chat:write.public",  # post status threads in a public report channel without being invited
    # conversations.open with the reporter: a case's thread goes to their DM when the bot cannot
    # post where the case was filed (another person's DM, a private channel it is not in, an
    # archived channel) or no channel is known; bot.jobs.notify.
    "im:write",
    "usergroups:read",  # resolve user groups in access.reporters / approvers / viewers
    "channels:read",  # conversations.info: is the channel a report comes from private?
    "groups:read",  # conversations.members: who may read a case filed in a private channel
    "files:write",  # the weekly digest's chart, a case's evidence bundle, into their threads
    "files:read",  # files uploaded in forms: a CSV/TXT of listing URLs, evidence files
]
BOT_EVENTS = ["app_home_opened"]  # the App Home tab: my cases, open cases, the scorecard


def build_manifest(
    *, url: str | None, socket_mode: bool, name: str = "takedown-bot"
) -> dict[str, Any]:
    """A manifest for HTTP mode (`url` is the bot's public base URL) or Socket Mode."""
    events_url = f"{url.rstrip('/')}/slack/events" if url else None
    command: dict[str, Any] = {
        "command": COMMAND,
        "description": "Report infringing marketplace listings",
        "usage_hint": "[help | status TD-42 | <listing url> …]",
        "should_escape": False,
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": BOT_EVENTS}
    if not socket_mode and events_url:
        command["url"] = events_url
        interactivity["request_url"] = events_url
        events["request_url"] = events_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Report counterfeit listings and follow every takedown to a decision.",
            "background_color": "#1d3557",
        },
        "features": {
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": False},
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [command],
            "shortcuts": [
                {
                    "name": "Report listing",
                    "type": "message",
                    "callback_id": SHORTCUT,
                    "description": "Report the listings linked in this message",
                },
                {
                    "name": "Record platform reply",
                    "type": "message",
                    "callback_id": REPLY_SHORTCUT,
                    "description": "Read a platform's email pasted here and suggest its decision",
                },
            ],
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }
