"""The App Home tab, published each time a person opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.desk.home import home_view
from bot.runtime import Runtime


async def home_opened(event: dict[str, Any], client: AsyncWebClient, rt: Runtime) -> None:
    if event.get("tab") not in (None, "home"):
        return
    user = event["user"]
    await client.views_publish(user_id=user, view=await home_view(rt, user_id=user))


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(home_opened)
