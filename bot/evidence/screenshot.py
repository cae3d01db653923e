"""A captured page rendered by headless Chromium: a PNG screenshot and a PDF (`evidence.screenshot`).

The distribution's `chromium` (Debian's package; `CHROMIUM` names another binary) renders the
bytes the capture kept, from a temporary file, with every host name mapped to nowhere
(`--host-resolver-rules`), so the rendering is of exactly what the WARC holds and the browser makes
no request of its own: no second visit to the marketplace, and nothing a page names (an internal
address, a tracker) is ever loaded. The price: images and styles on other hosts are missing from
the rendering; the WARC has the page as served. Nothing is downloaded at run time; without
Chromium there is no rendering, and `check-config` says so.

The screenshot is of the first `HEIGHT` pixels of the page at `WIDTH` (Chromium's command line
cannot size the window to the page); the PDF has the whole page.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

WIDTH, HEIGHT = 1280, 4000
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


def _arguments(binary: str, profile: Path) -> list[str]:
    arguments = [
        binary,
        "--headless",
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
        f"--window-size={WIDTH},{HEIGHT}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        arguments.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return arguments


async def _run(arguments: list[str], timeout: float) -> str | None:  # noqa: ASYNC109
    process = await asyncio.create_subprocess_exec(
        *arguments, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(timeout):
            _, err = await process.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return f"chromium took more than {timeout:g} s"
    if process.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        return f"chromium exited with {process.returncode}: {tail[0][:200]}"
    return None


async def render_page(page: bytes, *, timeout: float = RENDER_TIMEOUT) -> Rendering:  # noqa: ASYNC109
    """`page` (an HTML document's bytes) as a PNG and a PDF."""
    binary = chromium_path()
    if binary is None:
        return Rendering(problem="chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="takedown-render-") as folder:
        root = Path(folder)
        source = root / "page.html"
        source.write_bytes(page)
        base = _arguments(binary, root / "profile")
        png, pdf = root / "page.png", root / "page.pdf"
        problem = await _run([*base, f"--screenshot={png}", source.as_uri()], timeout)
        if problem is None:
            problem = await _run(
                [*base, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", source.as_uri()],
                timeout,
            )
        if problem is None and not (png.is_file() and pdf.is_file()):
            problem = "chromium wrote no screenshot"
        if problem:
            return Rendering(problem=problem)
        return Rendering(png=png.read_bytes(), pdf=pdf.read_bytes())
