"""A captured page rendered by headless Chromium: a PNG screenshot and a PDF (`evidence.screenshot`).

The distribution's `chromium` (Debian's package; `CHROMIUM` names another binary) renders the
bytes the capture kept, from a temporary file, with every host name mapped to nowhere
(`--host-resolver-rules`), so the rendering is of exactly what the WARC holds and the browser makes
no request of its own: no second visit to the marketplace, and nothing a page names (an internal
address, a tracker) is ever loaded. The price: images and styles on other hosts are missing from
the rendering; the WARC has the page as served. Nothing is downloaded at run time; without
Chromium there is no rendering, and `check-config` says so.

Chromium is driven over its DevTools protocol on a pipe (`devtools.py`): the page is opened at
`WIDTH` CSS pixels wide, and once loaded the screenshot covers the whole content
(`Page.getLayoutMetrics`, then `Page.captureScreenshot` beyond the viewport), up to `MAX_HEIGHT`
pixels (`Rendering.cut_at` says when a page is taller, and the capture's note says so); the PDF
(`Page.printToPDF`) has the whole page.
"""

from __future__ import annotations

import asyncio
import base64
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.evidence.devtools import DevToolsError, Pipe

WIDTH, VIEWPORT_HEIGHT = 1280, 1000
MAX_HEIGHT = 30_000  # a taller page's screenshot stops here (its note says so); the PDF has it all
RENDER_TIMEOUT = 60.0
_NAMES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    """The Chromium binary the bot would run: $CHROMIUM, else `chromium` on PATH; None if none."""
    named = os.environ.get("CHROMIUM", "").strip()
    if named:
        return shutil.which(named)
    return next((found for name in _NAMES if (found := shutil.which(name))), None)


def chromium_status() -> str:
    """One line for check-config: the Chromium screenshots would use, or that there is none."""
    path = chromium_path()
    if path is None:
        return (
            "screenshots: chromium is not installed (apt-get install chromium, or set CHROMIUM): "
            "captures are kept without screenshots"
        )
    return f"screenshots: {path}"


@dataclass(frozen=True)
class Rendering:
    png: bytes = b""
    pdf: bytes = b""
    problem: str | None = None  # why there is no rendering
    cut_at: int | None = None  # the screenshot stops at this height; the page is taller


def _arguments(binary: str, profile: Path) -> list[str]:
    arguments = [
        binary,
        "--headless",
        "--remote-debugging-pipe",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
        "--mute-audio",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{VIEWPORT_HEIGHT}",
        "about:blank",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        arguments.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return arguments


async def _render(browser: Pipe, source: Path, max_height: int) -> Rendering:
    """Open `source` in a new tab, wait for its load, and take the whole page and its PDF."""
    target = await browser.call("Target.createTarget", {"url": "about:blank"})
    attached = await browser.call(
        "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
    )
    session = str(attached["sessionId"])
    await browser.call("Page.enable", session=session)
    await browser.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": VIEWPORT_HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        session,
    )
    await browser.call("Page.navigate", {"url": source.as_uri()}, session)
    await browser.event("Page.loadEventFired", session)
    content = (await browser.call("Page.getLayoutMetrics", session=session))["cssContentSize"]
    height = max(1, math.ceil(content["height"]))
    clip = {"x": 0, "y": 0, "width": WIDTH, "height": min(height, max_height), "scale": 1}
    shot = await browser.call(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": clip},
        session,
    )
    pdf = await browser.call(
        "Page.printToPDF", {"printBackground": True, "displayHeaderFooter": False}, session
    )
    return Rendering(
        png=base64.b64decode(shot["data"]),
        pdf=base64.b64decode(pdf["data"]),
        cut_at=max_height if height > max_height else None,
    )


async def render_page(
    page: bytes,
    *,
    timeout: float = RENDER_TIMEOUT,  # noqa: ASYNC109
    max_height: int = MAX_HEIGHT,
) -> Rendering:
    """`page` (an HTML document's bytes) as a PNG of the whole page (at most `max_height` px
    of it) and a PDF."""
    binary = chromium_path()
    if binary is None:
        return Rendering(problem="chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="takedown-render-") as folder:
        root = Path(folder)
        source = root / "page.html"
        source.write_bytes(page)
        log = root / "chromium.log"
        try:
            async with await Pipe.start(_arguments(binary, root / "profile"), log) as browser:
                async with asyncio.timeout(timeout):
                    return await _render(browser, source, max_height)
        except TimeoutError:
            return Rendering(problem=f"chromium took more than {timeout:g} s")
        except (DevToolsError, KeyError, ValueError, OSError) as error:
            said = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no message"]
            return Rendering(problem=f"chromium failed ({error}): {said[0]}"[:300])
