"""The S3 API's pure parts: a page of a listing (prefix, delimiter, max-keys, resume point), continuation
tokens, ETags, dates, and the XML of answers and errors (namespace 2006-03-01, AWS's element order).

Nothing here knows HTTP or the service: transformer/server/routes/s3.py feeds a listing the keys of the views
(writers/listing.py) and sends what these functions write.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote
from xml.sax.saxutils import escape

from writers.listing import COLLAPSED, END

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_KEYS = 1000  #: AWS's default and cap of one page
MAX_KEY_BYTES = 1024  #: AWS's longest key; longer prefixes and keys are refused


class InvalidArgument(ValueError):
    """A request parameter S3 would refuse (400 InvalidArgument)."""


class Entry(NamedTuple):
    """What a listing says of one object; the same facts head and get answer (a tuple: a page makes 1,000)."""

    size: int
    etag: str
    modified: datetime


# ------------------------------------------------------------------------------------------------- pages


@dataclass
class Page:
    contents: list[tuple[str, Entry]] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    resume: str | None = None  #: where the next page starts (exclusive); None: this is the last page


#: the keys of a bucket greater than ``after``, in order, as (key, Entry | None (size unknown: not listed) |
#: COLLAPSED); ``collapse(name)`` tells the walk which names are common prefixes (writers/listing.walk)
Source = Callable[[str, Callable[[str], bool] | None], Iterator[tuple[str, Any]]]


def before(prefix: str) -> str:
    """A string just below every key that starts with ``prefix``, and above every smaller key."""
    if not prefix or prefix[-1] == "\0":
        return prefix[:-1]
    return prefix[:-1] + chr(ord(prefix[-1]) - 1) + END


def page(source: Source, prefix: str, delimiter: str, max_keys: int, after: str) -> Page:
    """One page of a listing: keys and common prefixes (each counts one against ``max_keys``) after ``after``."""
    out = Page()
    if max_keys == 0:
        return out  # AWS: an empty, untruncated page
    start = max(after, before(prefix))

    def common(name: str) -> str | None:
        cut = name.find(delimiter, len(prefix)) if delimiter else -1
        return None if cut < 0 else name[:cut + len(delimiter)]

    collapse = (lambda name: name.startswith(prefix) and common(name) is not None) if delimiter else None
    items = source(start, collapse)
    while True:
        for name, leaf in items:
            if not name.startswith(prefix):
                return out  # keys come in order: past the prefix, nothing more can match
            if leaf is None:
                continue  # its size is unknown until made: not listed (see docs/s3.md)
            if len(out.contents) + len(out.prefixes) == max_keys:
                out.truncated = True
                return out
            cp = common(name)
            if cp is not None:
                out.prefixes.append(cp)
                out.resume = cp + END
                if leaf is COLLAPSED and cp == name:
                    continue  # a whole folder, not walked into: the walk goes on past it by itself
                items = source(out.resume, collapse)  # past everything else under this common prefix
                break
            if leaf is COLLAPSED:
                continue
            out.contents.append((name, leaf))
            out.resume = name
        else:
            return out


# ---------------------------------------------------------------------------------------------- tokens


def token(bucket: str, prefix: str, delimiter: str, resume: str) -> str:
    """An opaque continuation token: where to resume, bound to the listing it continues, with a checksum."""
    payload = "\n".join((bucket, prefix, delimiter, resume)).encode("utf-8", "surrogatepass")
    check = hashlib.blake2b(payload, digest_size=6, person=b"s3-token").digest()
    return base64.urlsafe_b64encode(check + payload).decode().rstrip("=")


def resume_of(text: str, bucket: str, prefix: str, delimiter: str) -> str:
    """Where the listing a token continues resumes; InvalidArgument for a token of another listing or none."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        check, payload = raw[:6], raw[6:]
        fields = payload.decode("utf-8", "surrogatepass").split("\n")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument("The continuation token provided is incorrect") from exc
    if (check != hashlib.blake2b(payload, digest_size=6, person=b"s3-token").digest() or len(fields) != 4
            or fields[:3] != [bucket, prefix, delimiter]):
        raise InvalidArgument("The continuation token provided is incorrect")
    return fields[3]


# ----------------------------------------------------------------------------------------- ETags, dates


def md5_etag(body: bytes) -> str:
    """The body's MD5: what AWS SDKs verify a plain 32-hex ETag against."""
    return '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'


def opaque_etag(*parts: object) -> str:
    """An ETag for a body not yet made: multipart form (``-1``), which SDKs do not take for an MD5."""
    return opaque_etags(*parts[:-1])(parts[-1])


def opaque_etags(*common: object) -> Callable[[object], str]:
    """``opaque_etag(*common, part)`` for many parts: a digest of ``common`` (the dataset version: what changes
    the bytes) made once, then the part's CRC (which key of it: an ETag only has to differ between versions of
    one key, and two keys never share a URL)."""
    base = '"' + hashlib.blake2b("\0".join(map(str, common)).encode(), digest_size=12).hexdigest()

    def etag(part: object) -> str:
        return f'{base}{zlib.crc32(str(part).encode()):08x}-1"'

    return etag


@functools.lru_cache(maxsize=256)  # one date per dataset, formatted for each of its thousands of keys
def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def http_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


# ------------------------------------------------------------------------------------------------- XML


def _text(value: str, url: bool = False) -> str:
    if url:
        value = quote(value, safe="/", errors="surrogatepass")
    return escape(value) if ("&" in value or "<" in value or ">" in value) else value  # keys rarely need it


def _element(name: str, value: object, url: bool = False) -> str:
    text = _text(value, url) if isinstance(value, str) else str(value)
    return f"<{name}>{text}</{name}>" if text != "" else f"<{name}></{name}>"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _contents(items: list[tuple[str, Entry]], url: bool) -> str:
    return "".join(
        f"<Contents><Key>{_text(key, url)}</Key><LastModified>{iso(e.modified)}</LastModified>"
        f"<ETag>{e.etag.replace(chr(34), '&quot;')}</ETag><Size>{e.size}</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        for key, e in items)


def _prefixes(prefixes: list[str], url: bool) -> str:
    return "".join(f"<CommonPrefixes>{_element('Prefix', p, url)}</CommonPrefixes>" for p in prefixes)


def _list_tail(delimiter: str, url: bool, result: Page, unqualified_copies: bool) -> list[str]:
    """What both listing versions end with, in the order AWS sends it; ``unqualified_copies``: see ``list_v2``."""
    parts = [_element("Delimiter", delimiter, url)] if delimiter else []
    if url:
        parts.append("<EncodingType>url</EncodingType>")
    contents, prefixes = _contents(result.contents, url), _prefixes(result.prefixes, url)
    parts += [_element("IsTruncated", _bool(result.truncated)), contents, prefixes]
    if unqualified_copies:
        parts += [contents.replace("<Contents>", '<Contents xmlns="">'),
                  prefixes.replace("<CommonPrefixes>", '<CommonPrefixes xmlns="">')]
    return [*parts, "</ListBucketResult>"]


def list_v2(bucket: str, prefix: str, delimiter: str, max_keys: int, url: bool, result: Page,
            continuation: str | None, next_token: str | None, start_after: str | None,
            unqualified_copies: bool = False) -> bytes:
    """ListObjectsV2's answer. ``unqualified_copies``: every ``Contents`` and ``CommonPrefixes`` once more in no
    namespace, for Neuroglancer releases up to 2.41.2, whose XPath (``//CommonPrefixes/Prefix``) matches only
    elements in no namespace while they require the root in S3's (fixed in google/neuroglancer#946); a reader
    that matches S3's namespace, as later Neuroglancer does, sees each entry once. Clients that drop namespaces
    (botocore, fast-xml-parser) would see each twice: routes send them only to the view prefixes' listings
    fetched by a browser."""
    parts = [XML_HEAD, f'<ListBucketResult xmlns="{NS}">', _element("Name", bucket), _element("Prefix", prefix, url)]
    if continuation is not None:
        parts.append(_element("ContinuationToken", continuation))
    if next_token is not None:
        parts.append(_element("NextContinuationToken", next_token))
    if start_after:
        parts.append(_element("StartAfter", start_after, url))
    parts += [_element("KeyCount", len(result.contents) + len(result.prefixes)), _element("MaxKeys", max_keys)]
    return "".join(parts + _list_tail(delimiter, url, result, unqualified_copies)).encode()


def list_v1(bucket: str, prefix: str, delimiter: str, max_keys: int, url: bool, result: Page, marker: str) -> bytes:
    parts = [XML_HEAD, f'<ListBucketResult xmlns="{NS}">', _element("Name", bucket), _element("Prefix", prefix, url),
             _element("Marker", marker, url)]
    if result.truncated and delimiter and result.resume is not None:  # AWS sends NextMarker only with a delimiter
        parts.append(_element("NextMarker", result.resume.removesuffix(END), url))
    parts.append(_element("MaxKeys", max_keys))
    return "".join(parts + _list_tail(delimiter, url, result, False)).encode()


def list_buckets(names: list[str], created: datetime) -> bytes:
    buckets = "".join(f"<Bucket>{_element('Name', n)}<CreationDate>{iso(created)}</CreationDate></Bucket>"
                      for n in names)
    return (f'{XML_HEAD}<ListAllMyBucketsResult xmlns="{NS}"><Owner><ID>anonymous</ID>'
            f"<DisplayName>anonymous</DisplayName></Owner><Buckets>{buckets}</Buckets></ListAllMyBucketsResult>"
            ).encode()


def location() -> bytes:
    return f'{XML_HEAD}<LocationConstraint xmlns="{NS}"></LocationConstraint>'.encode()


def error(code: str, message: str, resource: str, request_id: str, **extra: str) -> bytes:
    """``resource`` (the request's path, which may hold any character) is URL-encoded: XML cannot carry them all."""
    more = "".join(_element(k, v) for k, v in extra.items())
    return (f"{XML_HEAD}<Error>{_element('Code', code)}{_element('Message', message)}{more}"
            f"{_element('Resource', resource, url=True)}{_element('RequestId', request_id)}</Error>").encode()
