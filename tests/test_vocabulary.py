"""One vocabulary: storage may not import `bot.core.states`, so it keeps copies of the stored
strings. Each copy equals the enums' values, so the two can never drift."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bot.config.schema import INFRINGEMENT_TYPES, RIGHT_KIND_FOR, RIGHT_KINDS
from bot.core.states import (
    AWAITING_YOU,
    CLOSED_LISTING_STATUSES,
    OPEN_LISTING_STATUSES,
    SHOWN_IN_ORDER,
    JobState,
    ListingStatus,
    NoticeState,
    shown_status,
)
from storage import listings as stored_listings
from storage import models
from storage.stats import outcomes

STORAGE = Path(models.__file__).parent
STATUSES = {*ListingStatus, *NoticeState, AWAITING_YOU}
_QUOTED = re.compile(r"'(\w+)'")


def test_listing_statuses_are_the_enum_values_in_lifecycle_order() -> None:
    assert tuple(ListingStatus) == models.LISTING_STATUSES
    assert models.OPEN_STATUSES == OPEN_LISTING_STATUSES
    assert set(models.CLOSED_STATUSES) == CLOSED_LISTING_STATUSES
    assert set(models.AWAITING_STATUSES) == set(OPEN_LISTING_STATUSES) - {ListingStatus.FAILED}


def test_notice_states_are_the_enum_values() -> None:
    assert tuple(NoticeState) == models.NOTICE_STATES


def test_awaiting_you_is_shown_never_stored_and_storage_says_it_the_same_way() -> None:
    assert models.AWAITING_YOU == AWAITING_YOU
    assert AWAITING_YOU not in models.LISTING_STATUSES
    assert set(SHOWN_IN_ORDER) == {*ListingStatus, AWAITING_YOU}
    assert SHOWN_IN_ORDER.index(AWAITING_YOU) == SHOWN_IN_ORDER.index(ListingStatus.QUEUED) + 1
    assert shown_status("queued", "awaiting_person") == AWAITING_YOU
    assert shown_status("queued", "pending") == "queued"
    assert shown_status("failed", "awaiting_person") == "failed"


def test_the_open_listing_index_excludes_exactly_the_closed_statuses() -> None:
    assert set(_QUOTED.findall(models._OPEN_PREDICATE)) == CLOSED_LISTING_STATUSES


def test_the_needs_info_index_names_the_status() -> None:
    for predicate in (models._NEEDS_INFO_SQLITE, models._NEEDS_INFO_POSTGRES):
        assert ListingStatus.NEEDS_INFO in _QUOTED.findall(predicate)


def test_the_job_indexes_name_job_states() -> None:
    for index in models.Job.__table__.indexes:  # type: ignore[attr-defined]
        for dialect in ("sqlite", "postgresql"):
            where = index.dialect_options[dialect]["where"]
            if where is not None:
                assert set(_QUOTED.findall(str(where))) <= set(JobState), index.name


def test_what_a_status_move_stamps_is_named_by_status() -> None:
    assert set(stored_listings.STARTS_SLA_CLOCK) == {
        ListingStatus.SUBMITTED,
        ListingStatus.IN_REVIEW,
    }
    decided = (CLOSED_LISTING_STATUSES - {ListingStatus.RELISTED}) | {ListingStatus.NEEDS_INFO}
    assert set(stored_listings.DECIDED) == decided
    assert set(stored_listings.KEEPS_REASON) == {ListingStatus.RELISTED}


def test_the_figures_place_every_listing_status_in_one_outcome() -> None:
    decided = [status for group in outcomes.DECIDED_AS.values() for status in group]
    placed = [*outcomes.UNDECIDED, *decided]
    assert sorted(placed) == sorted(ListingStatus)
    assert set(outcomes.DECIDED_AS) <= set(ListingStatus)


def test_every_status_storage_compares_or_writes_is_a_core_value() -> None:
    found = {
        (path.relative_to(STORAGE).as_posix(), value)
        for path in STORAGE.rglob("*.py")
        if "migrations" not in path.parts
        for value in _status_literals(ast.parse(path.read_text()))
    }
    assert found, "the scan found no status literal at all: it no longer reads the code"
    strays = {(path, value) for path, value in found if value not in STATUSES}
    assert not strays


def test_the_right_kind_map_covers_every_infringement_type_with_a_known_kind() -> None:
    assert set(RIGHT_KIND_FOR) == set(INFRINGEMENT_TYPES)
    assert set(RIGHT_KIND_FOR.values()) <= set(RIGHT_KINDS)


def _status_literals(tree: ast.AST) -> set[str]:
    """String constants compared with, assigned to or filtered against a `status` column."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_names_status(operand) for operand in operands):
                found |= {text for operand in operands for text in _strings(operand)}
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "in_" and _names_status(node.func.value):
                found |= {text for arg in node.args for text in _strings(arg)}
        elif isinstance(node, ast.keyword) and node.arg == "status":
            found |= _strings(node.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "status":
                    found |= _strings(value)
    return found


def _names_status(node: ast.expr) -> bool:
    return not isinstance(node, ast.Constant) and "status" in ast.unparse(node)


def _strings(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return {text for item in node.elts for text in _strings(item)}
    return set()
