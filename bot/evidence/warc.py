"""A capture as a WARC file (ISO 28500, gzip'd per record), the archivists' format for web pages.

The file holds, in order: a `warcinfo` record (the software), then for each exchange of the fetch
a `request` record (the headers sent) and its `response` record (status line, headers and body as
received, with the address connected to in `WARC-IP-Address`), and last a `metadata` record: the
listing URL asked for, the final URL, the verdict and its note, and the SHA-256 of the final
response's body. aiohttp removes chunked transfer coding while reading, so a `Transfer-Encoding`
header is left out of the stored response (the body is stored as one piece); any content encoding
(gzip) is kept as sent.
"""

from __future__ import annotations

import io
import json
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from bot.evidence.fetch import USER_AGENT, Exchange, PageFetch
from bot.evidence.store import sha256_of
from bot.evidence.verdicts import Judgement

MEDIA_TYPE = "application/warc"


def _request_line(url: str) -> str:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return f"GET {target}"


def _write_exchange(writer: WARCWriter, exchange: Exchange) -> None:
    date = datetime_to_iso_date(exchange.at)
    request = writer.create_warc_record(
        exchange.url,
        "request",
        payload=io.BytesIO(b""),
        http_headers=StatusAndHeaders(
            _request_line(exchange.url),
            exchange.request_headers,
            protocol="HTTP/1.1",
            is_http_request=True,
        ),
        warc_headers_dict={"WARC-Date": date, "WARC-IP-Address": exchange.address},
    )
    headers = [
        (name, value)
        for name, value in exchange.response_headers
        if name.lower() != "transfer-encoding"
    ]
    extra = {"WARC-Date": date, "WARC-IP-Address": exchange.address}
    if exchange.truncated:
        extra["WARC-Truncated"] = "length"
    response = writer.create_warc_record(
        exchange.url,
        "response",
        payload=io.BytesIO(exchange.body),
        http_headers=StatusAndHeaders(
            f"{exchange.status} {exchange.reason}".strip(), headers, protocol="HTTP/1.1"
        ),
        warc_headers_dict=extra,
    )
    request.rec_headers.add_header(
        "WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID")
    )
    writer.write_record(request)
    writer.write_record(response)


def capture_warc(fetch: PageFetch, judgement: Judgement) -> bytes:
    """The WARC file (gzip'd records) of one capture."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    writer.write_record(
        writer.create_warcinfo_record(
            "capture.warc.gz", {"software": USER_AGENT, "format": "WARC File Format 1.1"}
        )
    )
    for exchange in fetch.exchanges:
        _write_exchange(writer, exchange)
    last = fetch.last
    facts = {
        "requested_url": fetch.requested_url,
        "final_url": fetch.final_url,
        "started": fetch.started.isoformat(),
        "status": last.status if last else None,
        "body_sha256": sha256_of(last.body) if last else None,
        "truncated": bool(last and last.truncated),
        "verdict": str(judgement.verdict),
        "note": judgement.note,
        "problem": fetch.problem,
    }
    writer.write_record(
        writer.create_warc_record(
            fetch.requested_url,
            "metadata",
            payload=io.BytesIO(json.dumps(facts, indent=1, sort_keys=True).encode()),
            warc_content_type="application/json",
            warc_headers_dict={"WARC-Date": datetime_to_iso_date(fetch.started)},
        )
    )
    return out.getvalue()
