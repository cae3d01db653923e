"""`takedown-bot <args>` run as its own process, on a test's database and a written app.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app_yaml import config_yaml

REPO = Path(__file__).resolve().parents[1]


def run_cli(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with the tests' app.yaml (written to `tmp_path`), no Slack variables, on
    `database_url`; its output captured, its exit status left to the caller."""
    (tmp_path / "app.yaml").write_text(config_yaml())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(DATABASE_URL=database_url, TAKEDOWN_CONFIG=str(tmp_path / "app.yaml"))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
