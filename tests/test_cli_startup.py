"""`takedown-bot --help`, `check-config` and `manifest` start fast because they load only what they
use: no Slack, SQL or chart library (bench/cli.py measures the time; these tests hold the cause).

Each test runs the command in a fresh interpreter, as `takedown-bot` runs, and reads the modules it
loaded from `sys.modules`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from app_yaml import config_yaml

REPO = Path(__file__).resolve().parents[1]

# Runs `main(argv)` as the console script does, then prints the loaded modules' top-level names.
PROBE = """
import contextlib, io, json, sys
from bot.cli.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exit:
        code = exit.code
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""

SLACK = {"slack_bolt", "slack_sdk"}
SQL = {"sqlalchemy", "sqlmodel", "alembic", "aiosqlite", "asyncpg", "storage"}
CHARTS = {"matplotlib"}

# One platform entry per built-in adapter, so validation loads each adapter's module.
EVERY_ADAPTER = """
  ebay:
    adapter: ebay_vero
    token: ebay-token-0123456789
    reason_codes: {counterfeit: "1001", trademark: "1002", copyright: "1003"}
  mercadolibre:
    adapter: mercadolibre
    oauth:
      client_id: "1234567890123456"
      client_secret: meli-client-secret-0123
      refresh_token: meli-refresh-token-0123
    report_reasons: {counterfeit: "PPPI1"}
  etsy:
    adapter: email
    to: ip-notices@etsy.example
    host: smtp.acme.example
  vendor:
    adapter: webhook
    serves: [temu]
    base_url: https://enforcement.vendor.example/api
    secret: webhook-secret-0123456789
  amazon:
    adapter: sandbox
    decide_after: 5s
"""


def loaded_by(*argv: str, tmp_path: Path) -> tuple[set[str], str]:
    """The top-level packages `takedown-bot ARGV` loaded, and what it printed; it must succeed."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SLACK_") and name not in ("TAKEDOWN_CONFIG", "DATABASE_URL")
    }
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["code"] == 0, result.stderr
    return {name.partition(".")[0] for name in report["modules"]}, report["out"]


def test_help_loads_no_slack_sql_http_or_chart_library(tmp_path: Path) -> None:
    loaded, out = loaded_by("--help", tmp_path=tmp_path)
    assert "check-config" in out
    assert loaded & (SLACK | SQL | CHARTS | {"aiohttp", "handlers"}) == set()


def test_check_config_loads_the_adapters_but_no_slack_sql_or_chart_library(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(config_yaml(platforms=yaml.safe_load(EVERY_ADAPTER)))
    loaded, out = loaded_by("check-config", str(path), tmp_path=tmp_path)
    assert "platform mercadolibre: mercadolibre" in out
    assert loaded & (SLACK | SQL | CHARTS | {"handlers"}) == set()


def test_manifest_loads_no_slack_sql_http_or_chart_library(tmp_path: Path) -> None:
    loaded, out = loaded_by("manifest", "--socket-mode", tmp_path=tmp_path)
    assert "/report-listing" in out
    assert loaded & (SLACK | SQL | CHARTS | {"aiohttp", "handlers"}) == set()
