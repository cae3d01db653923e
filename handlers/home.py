"""The App Home tab, published each time a person opens it."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.desk.home import home_view
from bot.runtime import Runtime

log = logging.getLogger("takedown.handlers")


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") not in (None, "home"):
            return
        user = event["user"]
        try:
            await client.views_publish(user_id=user, view=await home_view(rt, user_id=user))
        except Exception:
            log.exception("could not publish the Home tab")
