"""An S3-compatible evidence store: `EVIDENCE_URL=s3://bucket/prefix` (AWS S3, MinIO, Ceph, R2…).

Objects are `<prefix>/ab/cd/<sha256>`, as in the folder store. Credentials and region come from
the standard AWS variables and files (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
`AWS_PROFILE`…), read by botocore; a service other than AWS is named by `EVIDENCE_S3_ENDPOINT`
(`http://127.0.0.1:9000`).

Never overwritten: a put first asks whether the object exists (and stops there if it does), then
writes it with `If-None-Match: *`, so a concurrent writer's object is never replaced (the service
answers 412 and the put stands, as the bytes are the same). A service that does not implement
conditional writes (it answers 501) gets a plain write: the key is the SHA-256 of the bytes, so
the most such a write can do is put the very same bytes again. Every get is checked against its
hash, so an object changed behind the bot's back is refused, not served.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from bot.evidence.store import EvidenceStore, EvidenceStoreError, Kept, check_digest, sha256_of

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def open_s3(url: str, *, endpoint: str | None = None) -> EvidenceStore:
    """The store `s3://bucket/prefix` names; EvidenceStoreError when it names no bucket."""
    parts = urlsplit(url)
    if not parts.netloc or parts.query or parts.fragment:
        raise EvidenceStoreError(
            f"EVIDENCE_URL {url!r}: an S3 URL is s3://bucket or s3://bucket/prefix "
            "(set EVIDENCE_S3_ENDPOINT for a service other than AWS)"
        )
    return S3Store(bucket=parts.netloc, prefix=parts.path.strip("/"), url=url, endpoint=endpoint)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3Store:
    def __init__(self, *, bucket: str, prefix: str, url: str, endpoint: str | None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.url = url
        self.endpoint = endpoint or None
        self._session = get_session()

    def _key(self, sha256: str) -> str:
        check_digest(sha256)
        name = f"{sha256[:2]}/{sha256[2:4]}/{sha256}"
        return f"{self.prefix}/{name}" if self.prefix else name

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[Any]:
        """A client for one operation (botocore caches the service model; the connection pool
        goes with the client, so none is left open)."""
        try:
            async with self._session.create_client("s3", endpoint_url=self.endpoint) as client:
                yield client
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise
            raise EvidenceStoreError(f"the evidence store {self.url}: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise EvidenceStoreError(f"the evidence store {self.url}: {exc}") from exc

    async def put(self, data: bytes) -> Kept:
        digest = sha256_of(data)
        kept = Kept(digest, len(data))
        if await self.exists(digest):
            return kept
        async with self._client() as client:
            request = {"Bucket": self.bucket, "Key": self._key(digest), "Body": data}
            try:
                await client.put_object(**request, IfNoneMatch="*")
            except ClientError as exc:
                if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                    return kept  # another writer put the same bytes first
                if _code(exc) not in ("NotImplemented", "501"):
                    raise
                await client.put_object(**request)  # same key, same bytes: see the docstring
        return kept

    async def get(self, sha256: str) -> bytes:
        key = self._key(sha256)
        try:
            async with self._client() as client:
                answer = await client.get_object(Bucket=self.bucket, Key=key)
                async with answer["Body"] as body:
                    data: bytes = await body.read()
        except ClientError as exc:
            raise EvidenceStoreError(f"evidence {sha256} is not in the store {self.url}") from exc
        if sha256_of(data) != sha256:
            raise EvidenceStoreError(f"evidence {sha256} in {self.url} is damaged (hash differs)")
        return data

    async def exists(self, sha256: str) -> bool:
        key = self._key(sha256)
        try:
            async with self._client() as client:
                await client.head_object(Bucket=self.bucket, Key=key)
        except ClientError:
            return False
        return True

    async def remove(self, sha256: str) -> None:
        key = self._key(sha256)
        async with self._client() as client:
            await client.delete_object(Bucket=self.bucket, Key=key)
