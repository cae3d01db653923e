"""Opening the evidence store `EVIDENCE_URL` names (`bot.evidence.store` has the contract)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.evidence.store import EvidenceStore, EvidenceStoreError, FileStore


def open_store(url: str, *, s3_endpoint: str | None = None) -> EvidenceStore:
    """The store `EVIDENCE_URL` names (`s3_endpoint`: EVIDENCE_S3_ENDPOINT, an S3-compatible
    service other than AWS); EvidenceStoreError says what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        # file://./data/evidence is relative (netloc "."); file:///srv/evidence is absolute.
        path = unquote(parts.netloc + parts.path) if parts.netloc in ("", ".") else None
        if not path:
            raise EvidenceStoreError(
                f"EVIDENCE_URL {url!r}: a file URL is file://./relative/folder or "
                "file:///absolute/folder"
            )
        return FileStore(Path(path), url=url)
    if parts.scheme == "s3":
        from bot.evidence.s3 import open_s3  # botocore only where an S3 store is used

        return open_s3(url, endpoint=s3_endpoint)
    raise EvidenceStoreError(
        f"EVIDENCE_URL {url!r}: use file://./data/evidence or s3://bucket/prefix"
    )
