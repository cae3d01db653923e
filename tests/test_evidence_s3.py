"""The S3 evidence store against a real S3-compatible server on loopback (moto in server mode):
content-addressed under the URL's prefix, never overwritten, damaged objects refused."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator

import pytest
from aiobotocore.session import get_session
from moto.server import ThreadedMotoServer

from bot.evidence.location import open_store
from bot.evidence.s3 import S3Store
from bot.evidence.store import EvidenceStoreError

BUCKET = "acme-evidence"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
async def store(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Store:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    async with get_session().create_client("s3", endpoint_url=s3_endpoint) as client:
        buckets = await client.list_buckets()
        if BUCKET not in {b["Name"] for b in buckets.get("Buckets", [])}:
            await client.create_bucket(Bucket=BUCKET)
    opened = open_store(f"s3://{BUCKET}/cases", s3_endpoint=s3_endpoint)
    assert isinstance(opened, S3Store)
    return opened


async def _object(store: S3Store, key: str) -> tuple[bytes, str]:
    async with get_session().create_client("s3", endpoint_url=store.endpoint) as client:
        answer = await client.get_object(Bucket=BUCKET, Key=key)
        async with answer["Body"] as body:
            return await body.read(), str(answer["ETag"])


async def test_bytes_are_kept_under_their_sha256_below_the_prefix(store: S3Store) -> None:
    kept = await store.put(b"<html>listing</html>")
    digest = hashlib.sha256(b"<html>listing</html>").hexdigest()

    assert (kept.sha256, kept.size) == (digest, 20)
    assert await store.exists(digest)
    assert await store.get(digest) == b"<html>listing</html>"
    data, _ = await _object(store, f"cases/{digest[:2]}/{digest[2:4]}/{digest}")
    assert data == b"<html>listing</html>"


async def test_an_object_is_never_overwritten(store: S3Store) -> None:
    kept = await store.put(b"first capture")
    key = f"cases/{kept.sha256[:2]}/{kept.sha256[2:4]}/{kept.sha256}"
    async with get_session().create_client("s3", endpoint_url=store.endpoint) as client:
        # Someone changes the object behind the bot's back…
        await client.put_object(Bucket=BUCKET, Key=key, Body=b"tampered")

    again = await store.put(b"first capture")  # …the bot does not write over it…

    assert again == kept
    assert (await _object(store, key))[0] == b"tampered"
    with pytest.raises(EvidenceStoreError, match="damaged"):  # …and refuses to serve it.
        await store.get(kept.sha256)


async def test_missing_evidence_is_named_and_removal_is_for_good(store: S3Store) -> None:
    kept = await store.put(b"kept for a while")
    await store.remove(kept.sha256)

    assert not await store.exists(kept.sha256)
    with pytest.raises(EvidenceStoreError, match="not in the store"):
        await store.get(kept.sha256)
    await store.remove(kept.sha256)  # missing is not an error


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "s3://bucket/x?region=eu"])
def test_an_s3_url_without_a_bucket_is_refused(url: str) -> None:
    with pytest.raises(EvidenceStoreError, match="EVIDENCE_URL"):
        open_store(url)
