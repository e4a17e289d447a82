"""Key and content-type rules every store shares, so a key valid on one store is valid on all."""

from __future__ import annotations

import mimetypes

from ..errors import InvalidRequest

#: Swift's and S3's limit on a whole object name, prefix included.
MAX_KEY_BYTES = 1024
#: Names we keep for ourselves (LocalStore's staging dir and folder-marker files).
RESERVED_SEGMENT_PREFIX = ".bookstore-"


def check_key(key: str) -> str:
    """Return ``key`` if it is portable to every store, else raise InvalidRequest.

    Portable keys are non-empty UTF-8 without control characters or backslashes
    (a separator on Windows; a newline would forge log lines), have no empty, ``.`` or ``..``
    segment (only a trailing ``/``, for a folder marker), no segment starting
    ``.bookstore-`` and at most ``MAX_KEY_BYTES``: what a file system can hold
    without a key escaping its root or two keys naming one file.
    """
    if not isinstance(key, str) or not key:
        raise InvalidRequest(f"object key {key!r} must be a non-empty string")
    try:
        size = len(key.encode())
    except UnicodeEncodeError:
        raise InvalidRequest(f"object key {key!r} is not valid UTF-8") from None
    if size > MAX_KEY_BYTES:
        raise InvalidRequest(f"object key {key[:40]!r}... is {size} bytes; the limit is 1024")
    if any(ch < " " or ch == "\x7f" for ch in key):
        raise InvalidRequest(f"object key {key!r} contains a control character")
    if "\\" in key:  # a path separator on Windows: a key could escape a file:// root there
        raise InvalidRequest(f"object key {key!r} contains a backslash")
    segments = key.split("/")
    if segments[-1] == "":
        segments.pop()  # "a/b/" is the folder marker of "a/b"
    for segment in segments:
        if segment in ("", ".", ".."):
            raise InvalidRequest(f"object key {key!r} has an empty, '.' or '..' segment")
        if segment.startswith(RESERVED_SEGMENT_PREFIX):
            raise InvalidRequest(
                f"object key {key!r}: names starting {RESERVED_SEGMENT_PREFIX!r} are reserved"
            )
    return key


def folders_above(key: str) -> list[tuple[str, str]]:
    """(folder, ``key`` relative to it) for each folder above ``key``, deepest first, the
    root ``""`` last: where a contents root holding ``key`` may be."""
    parts = key.strip("/").split("/")
    return [
        ("".join(f"{p}/" for p in parts[:depth]), "/".join(parts[depth:]))
        for depth in range(len(parts) - 1, -1, -1)
    ]


def is_reserved(key: str) -> bool:
    """Whether ``key`` is one of ours (a temporary, a marker): never listed as content."""
    return any(s.startswith(RESERVED_SEGMENT_PREFIX) for s in key.split("/"))


def prefix_can_match(prefix: str) -> bool:
    """Whether some portable key starts with ``prefix`` (if not, a listing is just empty)."""
    if any(ch < " " or ch in "\x7f\\" for ch in prefix):
        return False
    try:
        if len(prefix.encode()) > MAX_KEY_BYTES:
            return False
    except UnicodeEncodeError:
        return False
    *whole, last = prefix.split("/")  # the last segment may be partial: "a/.." begins "a/..b"
    for segment in whole:
        if segment in ("", ".", "..") or segment.startswith(RESERVED_SEGMENT_PREFIX):
            return False
    return not last.startswith(RESERVED_SEGMENT_PREFIX)


def normalize_prefix(prefix: str) -> str:
    """``"a/b"``, ``"/a/b/"`` -> ``"a/b/"``; ``""`` stays ``""``."""
    prefix = prefix.strip("/")
    return check_key(prefix + "/") if prefix else ""


#: What a put without a content type stores (as SwiftStore does).
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def guess_content_type(key: str) -> str:
    """A content type for a file nobody labelled (one a person put in a LocalStore)."""
    return mimetypes.guess_type(key, strict=False)[0] or DEFAULT_CONTENT_TYPE


def etag_matches(stored: str | None, wanted: str) -> bool:
    return stored is not None and stored == wanted.strip('"')
