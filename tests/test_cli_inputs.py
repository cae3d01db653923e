"""Bad command-line input is a one-line answer and exit 2, never a traceback or a half-written file;
and `check-config` refuses an app.yaml whose rights cannot make a complete notice. Through the real
CLI, as a subprocess (the environment and helpers of test_cli)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from app_yaml import base_config, config_yaml
from test_cli import env, migrated, run

__all__ = ["env", "migrated"]  # fixtures, used by name


# -- export: bad output paths, failed exports ------------------------------------------------------


def test_export_to_a_directory_is_bad_input_and_leaves_no_file(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()

    result = run("export", "--format", "csv", "--output", str(folder), env=migrated, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert str(folder) in result.stderr and "directory" in result.stderr
    assert list(folder.iterdir()) == []


def test_export_into_a_missing_folder_is_bad_input(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "nowhere" / "cases.csv"

    result = run("export", "--format", "csv", "--output", str(target), env=migrated, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not target.parent.exists()


def test_a_failed_export_leaves_no_partial_file(migrated: dict[str, str], tmp_path: Path) -> None:
    # A database at the right schema version whose cases table is gone: the CSV header is
    # written before reading the cases fails.
    with sqlite3.connect(tmp_path / "takedown.db") as conn:
        conn.execute("DROP TABLE cases")
    target = tmp_path / "cases.csv"

    result = run("export", "--format", "csv", "--output", str(target), env=migrated, cwd=tmp_path)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert list(tmp_path.glob("cases.csv*")) == [] and list(tmp_path.glob(".cases.csv*")) == []


def test_report_with_a_directory_as_its_file_is_bad_input(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    result = run(
        "report", "--file", str(tmp_path), "--brand", "Acme", "--right", "acme-eu-tm",
        "--type", "counterfeit", "--reporter", "U0REPORTER",
        env=migrated, cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# -- check-config: can every notice be built? ----------------------------------------------------


def _brands_with(**right_changes: Any) -> list[dict[str, Any]]:
    """The base brands with acme-eu-tm changed (a value None removes that key)."""
    brands: list[dict[str, Any]] = base_config()["brands"]
    right = brands[0]["rights"][0]
    for key, value in right_changes.items():
        if value is None:
            right.pop(key, None)
        else:
            right[key] = value
    return brands


def test_check_config_fails_on_a_trademark_without_its_registration_number(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(config_yaml(brands=_brands_with(number=None, office=None)), encoding="utf-8")

    result = run("check-config", str(path), env=env, cwd=tmp_path)

    assert result.returncode == 2, result.stdout
    assert "rights.acme-eu-tm.number: a trademark notice needs the registration number" in (
        result.stderr
    )
    assert "rights.acme-eu-tm.office: a trademark notice needs the registration office" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_check_config_names_the_unset_variables_of_a_platforms_oauth(
    env: dict[str, str], tmp_path: Path
) -> None:
    oauth = {
        "client_id": "${EBAY_CLIENT_ID}",
        "client_secret": "${EBAY_CLIENT_SECRET}",
        "refresh_token": "${EBAY_REFRESH_TOKEN}",
    }
    path = tmp_path / "app.yaml"
    path.write_text(
        config_yaml(platforms={"ebay": {"adapter": "ebay_vero", "oauth": oauth}}), encoding="utf-8"
    )
    without = {name: value for name, value in env.items() if not name.startswith("EBAY_")}

    result = run("check-config", str(path), env=without, cwd=tmp_path)

    assert result.returncode == 2
    for key, name in (
        ("client_id", "EBAY_CLIENT_ID"),
        ("client_secret", "EBAY_CLIENT_SECRET"),
        ("refresh_token", "EBAY_REFRESH_TOKEN"),
    ):
        assert f"platforms.ebay.oauth.{key}: environment variable {name} is not set" in (
            result.stderr
        )
