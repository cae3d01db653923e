"""The file evidence store: content-addressed, never overwritten, names checked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.evidence.location import open_store
from bot.evidence.store import EvidenceStoreError, FileStore


async def test_bytes_are_kept_under_their_sha256_and_read_back(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    kept = await store.put(b"<html>listing</html>")

    assert kept.sha256 == hashlib.sha256(b"<html>listing</html>").hexdigest()
    assert kept.size == 20
    assert await store.exists(kept.sha256)
    assert await store.get(kept.sha256) == b"<html>listing</html>"
    assert (tmp_path / kept.sha256[:2] / kept.sha256[2:4] / kept.sha256).is_file()


async def test_putting_the_same_bytes_twice_keeps_one_object_unchanged(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    first = await store.put(b"same")
    path = tmp_path / first.sha256[:2] / first.sha256[2:4] / first.sha256
    before = path.stat().st_mtime_ns

    second = await store.put(b"same")

    assert second == first
    assert path.stat().st_mtime_ns == before
    assert [p.name for p in path.parent.iterdir()] == [first.sha256]  # no temporary file left


async def test_a_damaged_object_is_refused_not_served(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    kept = await store.put(b"original")
    path = tmp_path / kept.sha256[:2] / kept.sha256[2:4] / kept.sha256
    path.chmod(0o600)
    path.write_bytes(b"tampered")

    with pytest.raises(EvidenceStoreError, match="damaged"):
        await store.get(kept.sha256)


@pytest.mark.parametrize("name", ["../../etc/passwd", "A" * 64, "abc", ""])
async def test_a_name_that_is_not_a_sha256_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(EvidenceStoreError, match="not a SHA-256"):
        await FileStore(tmp_path).get(name)


def test_evidence_url_names_a_folder_relative_or_absolute(tmp_path: Path) -> None:
    relative = open_store("file://./data/evidence")
    absolute = open_store(f"file://{tmp_path}")

    assert isinstance(relative, FileStore) and relative.root == Path("./data/evidence")
    assert isinstance(absolute, FileStore) and absolute.root == tmp_path


@pytest.mark.parametrize("url", ["ftp://host/x", "file://host/x", "evidence"])
def test_an_evidence_url_the_bot_cannot_use_is_named(url: str) -> None:
    with pytest.raises(EvidenceStoreError, match="EVIDENCE_URL"):
        open_store(url)
