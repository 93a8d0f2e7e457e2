"""Conditional requests (RFC 9110 section 13): a strong ETag on each read of a student or a
course, 304 when `If-None-Match` names it, and 412 when `If-Match` on a PATCH or DELETE
names another than the resource's current one.

The tag is a hash of the body the read would send, so it changes whenever a byte of it does
(a student's courses and their counts included): a cache that holds it holds those bytes.
A write checks `If-Match` against the representation read under the row lock it writes
under (the repositories' `precondition`), so nothing can change it between the two.
"""

import hashlib
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from service.problems import BadRequest, PreconditionFailed
from service.repositories import Precondition
from service.web import JSONResponse

# RFC 9110 entity-tag: an optional W/ and a quoted string of visible characters but `"`.
_TAG = re.compile(r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"')


def _tags(request: Request, header: str) -> list[str] | None:
    """The header's entity tags (`*` as itself), None when absent; 400 when malformed."""
    raw = request.headers.get(header)
    if raw is None:
        return None
    if raw.strip() == "*":
        return ["*"]
    tags = [part.strip() for part in raw.split(",")]
    if not all(_TAG.fullmatch(tag) for tag in tags):
        raise BadRequest(f'{header} must be * or a comma list of entity tags like "abc"')
    return tags


def etag(body: bytes | memoryview) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def read(request: Request, content: dict[str, Any]) -> Response:
    """The read's response with its ETag, or 304 when `If-None-Match` already names it
    (compared weakly, as RFC 9110 says for this header)."""
    response = JSONResponse(content)
    tag = etag(response.body)
    tags = _tags(request, "If-None-Match")
    if tags is not None and ("*" in tags or tag in (t.removeprefix("W/") for t in tags)):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return response


def precondition(request: Request) -> Precondition | None:
    """What a write checks against the current representation before it writes: None
    without `If-Match`; else a check raising 412 unless the header names the
    representation's strong ETag (or is `*`, which any existing resource meets)."""
    tags = _tags(request, "If-Match")
    if tags is None:
        return None

    def check(current: dict[str, Any]) -> None:
        if "*" in tags:
            return
        tag = etag(JSONResponse(current).body)
        if tag not in tags:  # strong comparison: a weak tag never matches
            raise PreconditionFailed(
                f"If-Match names {', '.join(tags)}; the resource's current ETag is {tag}"
            )

    return check
