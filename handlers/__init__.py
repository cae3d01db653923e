"""Slack listeners. Each module exposes `register(app, rt)`; this one registers them all."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.runtime import Runtime
from handlers import actions, commands, errors, home, shortcuts, views


def register(app: AsyncApp, rt: Runtime) -> None:
    errors.register(app, rt)
    commands.register(app, rt)
    shortcuts.register(app, rt)
    views.register(app, rt)
    actions.register(app, rt)
    home.register(app, rt)
