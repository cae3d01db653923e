"""`takedown-bot manifest`: what a person pastes into api.slack.com, checked against Slack's schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from bot.manifest import BOT_SCOPES

REPO = Path(__file__).resolve().parents[1]
SCHEMA_PATH = (
    Path(__file__).resolve().parents[2] / "shared/reference/slack/manifest.schema.1.0.0.json"
)
BASE_URL = "https://bot.example.com"
EVENTS_URL = f"{BASE_URL}/slack/events"
LEAST_PRIVILEGE = {
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "usergroups:read",
    "channels:read",
    "groups:read",
    "files:write",
    "files:read",
}


def run_manifest(*args: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SLACK_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "bot", "manifest", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def manifest_from_cli(*args: str) -> dict[str, Any]:
    result = run_manifest(*args)
    assert result.returncode == 0, result.stderr
    manifest: dict[str, Any] = yaml.safe_load(result.stdout)
    return manifest


def schema_errors(manifest: dict[str, Any]) -> list[str]:
    if not SCHEMA_PATH.is_file():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA_PATH}")
    validator = Draft7Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    return [
        f"{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(manifest)
    ]


@pytest.fixture(scope="module")
def http_manifest() -> dict[str, Any]:
    return manifest_from_cli("--url", BASE_URL)


@pytest.fixture(scope="module")
def socket_manifest() -> dict[str, Any]:
    return manifest_from_cli("--socket-mode")


# -- HTTP mode ------------------------------------------------------------------------------------


def test_http_manifest_validates_against_slacks_schema(http_manifest: dict[str, Any]) -> None:
    assert schema_errors(http_manifest) == []


def test_the_schema_check_catches_a_manifest_slack_would_reject(
    http_manifest: dict[str, Any],
) -> None:
    broken = json.loads(json.dumps(http_manifest))
    del broken["features"]["slash_commands"][0]["description"]

    assert schema_errors(broken) != []


def test_the_slash_command_is_sent_to_the_events_url(http_manifest: dict[str, Any]) -> None:
    [command] = http_manifest["features"]["slash_commands"]

    assert command["command"] == "/report-listing"
    assert command["url"] == EVENTS_URL


def test_interactivity_is_sent_to_the_events_url(http_manifest: dict[str, Any]) -> None:
    interactivity = http_manifest["settings"]["interactivity"]

    assert interactivity == {"is_enabled": True, "request_url": EVENTS_URL}


def test_a_trailing_slash_on_the_url_gives_the_same_events_url() -> None:
    manifest = manifest_from_cli("--url", BASE_URL + "/")

    assert manifest["settings"]["interactivity"]["request_url"] == EVENTS_URL


def test_http_manifest_is_not_in_socket_mode(http_manifest: dict[str, Any]) -> None:
    assert http_manifest["settings"]["socket_mode_enabled"] is False


def test_the_message_shortcuts_report_listings_and_record_platform_replies(
    http_manifest: dict[str, Any],
) -> None:
    report, reply = http_manifest["features"]["shortcuts"]

    assert report["type"] == reply["type"] == "message"
    assert report["callback_id"] == "report_listing_message"
    assert (reply["name"], reply["callback_id"]) == (
        "Record platform reply",
        "record_platform_reply",
    )


def test_the_bot_asks_only_for_least_privilege_scopes(http_manifest: dict[str, Any]) -> None:
    scopes = http_manifest["oauth_config"]["scopes"]

    assert set(scopes) == {"bot"}
    assert scopes["bot"] == BOT_SCOPES
    assert set(scopes["bot"]) == LEAST_PRIVILEGE


def test_the_bot_asks_for_no_admin_or_history_scope(http_manifest: dict[str, Any]) -> None:
    scopes = http_manifest["oauth_config"]["scopes"]["bot"]

    assert not [scope for scope in scopes if scope.startswith("admin") or ":history" in scope]


# -- Socket Mode ----------------------------------------------------------------------------------


def test_socket_mode_manifest_validates_against_slacks_schema(
    socket_manifest: dict[str, Any],
) -> None:
    assert schema_errors(socket_manifest) == []


def test_socket_mode_manifest_enables_socket_mode(socket_manifest: dict[str, Any]) -> None:
    assert socket_manifest["settings"]["socket_mode_enabled"] is True
    assert socket_manifest["settings"]["interactivity"] == {"is_enabled": True}


def test_socket_mode_manifest_has_no_request_urls(socket_manifest: dict[str, Any]) -> None:
    [command] = socket_manifest["features"]["slash_commands"]

    assert "url" not in command
    assert "request_url" not in socket_manifest["settings"]["interactivity"]
    assert "/slack/events" not in yaml.safe_dump(socket_manifest)


def test_socket_mode_manifest_keeps_the_same_scopes(socket_manifest: dict[str, Any]) -> None:
    assert socket_manifest["oauth_config"]["scopes"]["bot"] == BOT_SCOPES


# -- usage errors ---------------------------------------------------------------------------------


def test_manifest_without_url_or_socket_mode_says_what_to_give() -> None:
    result = run_manifest()

    assert result.returncode == 2
    assert result.stdout == ""
    assert "--url https://" in result.stderr
    assert "--socket-mode" in result.stderr
    assert "Traceback" not in result.stderr


def test_manifest_refuses_a_plain_http_url() -> None:
    result = run_manifest("--url", "http://bot.example.com")

    assert result.returncode == 2
    assert result.stdout == ""
    assert "https://" in result.stderr
    assert "Traceback" not in result.stderr


def test_manifest_refuses_a_url_without_a_host() -> None:
    result = run_manifest("--url", "https://")

    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_app_home_events_reach_the_same_url(http_manifest: dict[str, Any]) -> None:
    events = http_manifest["settings"]["event_subscriptions"]
    assert events == {
        "bot_events": ["app_home_opened"],
        "request_url": "https://bot.example.com/slack/events",
    }
    assert http_manifest["features"]["app_home"]["home_tab_enabled"] is True
