"""An S3-compatible evidence store (`EVIDENCE_URL=s3://bucket/prefix`). Not built yet."""

from __future__ import annotations

from bot.evidence.store import EvidenceStore, EvidenceStoreError


def open_s3(url: str) -> EvidenceStore:
    raise EvidenceStoreError(f"EVIDENCE_URL {url!r}: the S3 store is not built yet")
