"""Slack listeners: functions at module level, each module wiring its own to Slack's ids in
`register(app)`; this one registers them all, and the one error handler (`handlers.errors`).

A listener's dependencies come through Bolt's context: the composition root installs
`handlers.context.RuntimeInContext`, and a listener that names a parameter `rt` gets the Runtime.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, errors, home, mail, shortcuts, views


def register(app: AsyncApp) -> None:
    errors.register(app)
    commands.register(app)
    shortcuts.register(app)
    views.register(app)
    actions.register(app)
    home.register(app)
    mail.register(app)
