"""The README's commands table says what `takedown-bot --help` says: every command, every option.

The table is what people read first; a flag added to the CLI and not to the table (as `report
--seller` once was) is a flag nobody finds."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bot.cli.main import build_parser

README = Path(__file__).resolve().parent.parent / "README.md"


def _table() -> dict[str, str]:
    """Each row of the README's commands table: the command's name -> its first cell."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cell = re.match(r"\| `([^`]+)` \|", line)
        if cell:
            rows[cell.group(1).split()[0]] = cell.group(1)
    return rows


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """The long options a command takes (the first long spelling of each)."""
    found = set()
    for action in parser._actions:
        longs = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
        if longs:
            found.add(longs[0])
    return found


def test_the_table_has_a_row_for_every_command_and_no_other() -> None:
    assert sorted(_table()) == sorted(_commands())


def test_each_row_names_every_option_of_its_command_and_no_other() -> None:
    rows = _table()
    for name, parser in _commands().items():
        named = set(re.findall(r"--[a-z][a-z-]*", rows[name]))
        assert named == _options(parser), name


def _shell_questions() -> list[str]:
    """The questions the README's shell session asks, in order: in the report form's frame, each
    `│ label  (how to answer)` line (options are indented, answers start with an angle quote or an ellipsis)."""
    text = README.read_text(encoding="utf-8")
    session = text.split("```\n$ make transcript", 1)[1].split("\n```", 1)[0]
    form = session.split("┌─ Report listings", 1)[1].split("\n└─", 1)[0].splitlines()[1:]
    return [
        line.removeprefix("│ ").split("  (", 1)[0]
        for line in form
        if line.startswith("│ ") and line[2] not in " ›…✗"
    ]


def _form_questions() -> list[str]:
    from app_yaml import build_config

    from bot.slack_ui.report_form import report_modal

    view = report_modal(build_config(), urls=["https://www.ebay.com/itm/123456789012"])
    return [block["label"]["text"] for block in view["blocks"] if block["type"] == "input"]


def test_the_readme_session_asks_the_report_forms_questions_in_its_order() -> None:
    assert _shell_questions() == _form_questions()
