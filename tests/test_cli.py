"""`python -m bot …` as an operator runs it: real processes, a controlled environment, exit codes."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_yaml import config_yaml

REPO = Path(__file__).resolve().parents[1]
FAKE_CREDENTIALS = {
    "SLACK_BOT_TOKEN": "xoxb-cli-test-0000000000",
    "SLACK_SIGNING_SECRET": "cli-test-signing-secret",
    "SLACK_API_URL": "http://127.0.0.1:9/",  # nothing should call Slack; if it does, it fails fast
}
STARTUP_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The process environment without Slack credentials or our settings, and a fresh database."""
    ours = ("DATABASE_URL", "TAKEDOWN_CONFIG", "PORT", "LOG_LEVEL")
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SLACK_") and name not in ours
    }
    clean["DATABASE_URL"] = sqlite_url(tmp_path / "takedown.db")
    clean["TAKEDOWN_CONFIG"] = str(REPO / "app.yaml")
    clean["PYTHONPATH"] = str(REPO)
    return clean


def run(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def migrated(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """`env` whose DATABASE_URL has been migrated with `takedown-bot migrate`."""
    result = run("migrate", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return env


@pytest.fixture
def serving(
    migrated: dict[str, str], tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`takedown-bot serve` running on a free port with fake credentials; stopped afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        env={**migrated, **FAKE_CREDENTIALS, "PORT": str(port)},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=STARTUP_TIMEOUT)


def get_health(port: int) -> tuple[int, dict[str, object]]:
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for_health(process: subprocess.Popen[str], port: int) -> tuple[int, dict[str, object]]:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, stderr = process.communicate()
            pytest.fail(f"serve exited with {process.returncode} before answering:\n{stderr}")
        try:
            return get_health(port)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    pytest.fail(f"serve did not answer GET /healthz within {STARTUP_TIMEOUT} s")


# -- help -----------------------------------------------------------------------------------------


def test_help_lists_every_command(env: dict[str, str], tmp_path: Path) -> None:
    result = run("--help", env=env, cwd=tmp_path)

    assert result.returncode == 0
    for command in ("serve", "worker", "migrate", "check-config", "manifest"):
        assert command in result.stdout


def test_no_command_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "COMMAND" in result.stderr
    assert "Traceback" not in result.stderr


# -- check-config ---------------------------------------------------------------------------------


def test_check_config_accepts_the_shipped_app_yaml(env: dict[str, str]) -> None:
    result = run("check-config", env=env, cwd=REPO)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
    assert "Acme Outdoor GmbH" in result.stdout


def test_check_config_reads_the_file_named_by_takedown_config(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(config_yaml(), encoding="utf-8")

    result = run("check-config", env={**env, "TAKEDOWN_CONFIG": str(path)}, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ok: {path}")
    assert "Bravo" in result.stdout


def test_check_config_reports_every_error_of_a_broken_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(
        config_yaml(
            team={"colour": "blue", "timezone": "Nowhere/Town"},
            platforms={"taobao": {"adapter": "fax"}},
        ),
        encoding="utf-8",
    )

    result = run("check-config", str(path), env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "3 configuration error(s)" in result.stderr
    assert "team.colour: unknown key" in result.stderr
    assert "team.timezone: unknown time zone 'Nowhere/Town'" in result.stderr
    assert "platforms.taobao.adapter: unknown adapter 'fax'" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_names_a_missing_environment_variable(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(
        config_yaml(platforms={"ebay": {"adapter": "ebay_vero", "token": "${EBAY_VERO_TOKEN}"}}),
        encoding="utf-8",
    )
    without = {name: value for name, value in env.items() if name != "EBAY_VERO_TOKEN"}

    result = run("check-config", str(path), env=without, cwd=tmp_path)

    assert result.returncode == 2
    assert "platforms.ebay.token: environment variable EBAY_VERO_TOKEN is not set" in result.stderr


def test_check_config_reports_a_missing_file(env: dict[str, str], tmp_path: Path) -> None:
    result = run("check-config", str(tmp_path / "missing.yaml"), env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "file not found" in result.stderr
    assert "Traceback" not in result.stderr


# -- serve without what it needs ------------------------------------------------------------------


def test_serve_without_slack_credentials_says_what_to_set(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = run("serve", env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "SLACK_SIGNING_SECRET" in result.stderr
    assert "takedown-bot manifest" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_in_socket_mode_without_credentials_asks_for_the_app_token(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = run("serve", "--socket-mode", env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "SLACK_APP_TOKEN" in result.stderr
    assert "takedown-bot manifest --socket-mode" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_a_broken_config_reports_it_without_a_traceback(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(config_yaml(team={"colour": "blue"}), encoding="utf-8")

    result = run(
        "serve", env={**env, **FAKE_CREDENTIALS, "TAKEDOWN_CONFIG": str(path)}, cwd=tmp_path
    )

    assert result.returncode == 2
    assert "team.colour: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


# -- migrate, and serve's schema check ------------------------------------------------------------


def test_migrate_creates_a_fresh_sqlite_database(env: dict[str, str], tmp_path: Path) -> None:
    database = tmp_path / "fresh" / "takedown.db"

    result = run("migrate", env={**env, "DATABASE_URL": sqlite_url(database)}, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "database is at schema" in result.stdout
    assert database.is_file()


def test_migrate_twice_leaves_the_database_at_the_same_schema(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    result = run("migrate", env=migrated, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "database is at schema" in result.stdout


def test_serve_refuses_an_unmigrated_database(env: dict[str, str], tmp_path: Path) -> None:
    unmigrated = {
        **env,
        **FAKE_CREDENTIALS,
        "DATABASE_URL": sqlite_url(tmp_path / "unmigrated.db"),
        "PORT": str(free_port()),
    }

    result = run("serve", env=unmigrated, cwd=tmp_path, timeout=20)

    assert result.returncode == 2
    assert "takedown-bot migrate" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_on_an_unmigrated_database_leaves_nothing_unclosed(
    env: dict[str, str], tmp_path: Path
) -> None:
    unmigrated = {
        **env,
        **FAKE_CREDENTIALS,
        "DATABASE_URL": sqlite_url(tmp_path / "unmigrated.db"),
        "PORT": str(free_port()),
    }

    result = run("serve", env=unmigrated, cwd=tmp_path, timeout=20)

    assert result.returncode == 2
    assert "Unclosed" not in result.stderr


# -- worker ---------------------------------------------------------------------------------------


def test_worker_without_a_bot_token_says_what_to_set(env: dict[str, str], tmp_path: Path) -> None:
    result = run("worker", env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_refuses_an_unmigrated_database_and_leaves_nothing_unclosed(
    env: dict[str, str], tmp_path: Path
) -> None:
    unmigrated = {**env, **FAKE_CREDENTIALS, "DATABASE_URL": sqlite_url(tmp_path / "unmigrated.db")}

    result = run("worker", env=unmigrated, cwd=tmp_path, timeout=20)

    assert result.returncode == 2
    assert "takedown-bot migrate" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Unclosed" not in result.stderr


# -- serve, running -------------------------------------------------------------------------------


def test_serve_answers_healthz_once_started(serving: tuple[subprocess.Popen[str], int]) -> None:
    process, port = serving

    status, body = wait_for_health(process, port)

    assert status == 200
    assert body["status"] == "ok"
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert checks["database"] == "ok"
    assert checks["worker"] == "ok"


def test_serve_stops_cleanly_on_sigterm(serving: tuple[subprocess.Popen[str], int]) -> None:
    process, port = serving
    wait_for_health(process, port)

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=STARTUP_TIMEOUT)

    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "Unclosed" not in stderr


def test_serve_never_logs_the_slack_credentials(serving: tuple[subprocess.Popen[str], int]) -> None:
    process, port = serving
    wait_for_health(process, port)

    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=STARTUP_TIMEOUT)

    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        assert FAKE_CREDENTIALS[name] not in stdout + stderr


def test_worker_waits_for_a_database_that_is_not_up_yet(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_API_URL="http://127.0.0.1:9/",
        DATABASE_URL="postgresql://postgres@127.0.0.1:9/nothing-listens-here",
        TAKEDOWN_CONFIG=str(REPO / "app.yaml"),
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert worker.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in worker.stderr], daemon=True
    ).start()
    seen: list[str] = []
    try:
        # Still trying, not crashed: it says so (however long a loaded machine takes to start it).
        while not any("database not reachable" in line for line in seen):
            seen.append(lines.get(timeout=STARTUP_TIMEOUT))
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
    err = "".join(seen)
    while not lines.empty():
        err += lines.get()
    assert worker.returncode == 0, err
    assert "database not reachable" in err and "Traceback" not in err


def test_serve_starts_without_bolts_token_warning(
    serving: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = serving
    wait_for_health(process, port)

    process.send_signal(signal.SIGTERM)
    _stdout, stderr = process.communicate(timeout=STARTUP_TIMEOUT)

    assert "will be unused" not in stderr, stderr
