"""The evidence store: bytes kept by their SHA-256, never overwritten.

`EVIDENCE_URL` names it: `file://./data/evidence` (the default: a folder, relative to the working
directory) or `s3://bucket/prefix` (any S3-compatible service, `bot.evidence.s3`). Content
addressing makes a put idempotent: the same bytes put twice are one object, and an object that
exists is never written again, so a capture or a file once kept cannot be changed through the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_HEX = frozenset("0123456789abcdef")


class EvidenceStoreError(Exception):
    """The store cannot be used as configured, or an object is missing or damaged; the message
    says which, for the person who set EVIDENCE_URL."""


@dataclass(frozen=True, slots=True)
class Kept:
    sha256: str
    size: int


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_digest(sha256: str) -> str:
    """A SHA-256 as the store names objects: 64 lowercase hex digits (anything else is refused,
    so a name from a URL cannot walk out of the store)."""
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise EvidenceStoreError(f"{sha256[:80]!r} is not a SHA-256 (64 lowercase hex digits)")
    return sha256


class EvidenceStore(Protocol):
    """Where evidence bytes live. Every method is safe to call from several processes at once."""

    url: str

    async def put(self, data: bytes) -> Kept:
        """Keep `data` under its SHA-256; an object already kept is left as it is."""
        ...

    async def get(self, sha256: str) -> bytes:
        """The bytes kept under `sha256`; EvidenceStoreError if none are, or they do not match."""
        ...

    async def exists(self, sha256: str) -> bool: ...

    async def remove(self, sha256: str) -> None:
        """Retention only (`evidence.keep_days`): gone for good; missing is not an error."""
        ...


class FileStore:
    """Objects as files `<root>/ab/cd/<sha256>`, written to a temporary file and linked into
    place, so a reader never sees half an object and an existing one is never replaced."""

    def __init__(self, root: Path, *, url: str = "") -> None:
        self.root = root
        self.url = url or root.as_uri()

    def _path(self, sha256: str) -> Path:
        check_digest(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(self, data: bytes) -> Kept:
        digest = sha256_of(data)
        await asyncio.to_thread(self._write, self._path(digest), data)
        return Kept(digest, len(data))

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o440)
            with contextlib.suppress(FileExistsError):  # another writer got there first
                os.link(temporary, path)
        finally:
            os.unlink(temporary)

    async def get(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise EvidenceStoreError(f"evidence {sha256} is not in the store {self.url}") from None
        if sha256_of(data) != sha256:
            raise EvidenceStoreError(f"evidence {sha256} in {self.url} is damaged (hash differs)")
        return data

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self._path(sha256).exists)

    async def remove(self, sha256: str) -> None:
        await asyncio.to_thread(self._path(sha256).unlink, missing_ok=True)
