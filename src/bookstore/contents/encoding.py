"""A save's bytes and digests: nbformat's exact JSON, SHA-256 and MD5, off the event loop.

The JSON is nbformat's layout (``indent=1``, sorted keys) byte for byte, but its
strings are escaped by orjson: the standard library encodes a 10 MB notebook (mostly
base64 images) in ~33 ms, this in ~10. Only the layout is walked in Python;
anything unusual (non-string keys, other types) falls back to ``json``.

Every save hashes its bytes twice: SHA-256 (stored as metadata: Jupyter's
``hash`` without a download) and MD5 (sent to the store, which refuses a body
that arrives different). ``encode_notebook`` is meant for a worker thread, so
a big notebook's validation and encoding do not stall other users; a big
body's two hashes run side by side in two threads (hashlib releases the GIL).
Hashing while encoding, piece by piece, was tried and was slower: the encoder
holds the GIL and the hash threads waited for it at every piece.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import nbformat
import orjson
from nbformat.v4.nbjson import BytesEncoder
from nbformat.v4.rwbase import split_lines, strip_transient
from traitlets.log import get_logger

#: Bodies at least this big are hashed in worker threads (smaller: the hop costs more).
DIGEST_IN_THREADS = 1 << 20

# What nbformat.v4.rwbase.strip_transient drops from a notebook's metadata.
_TRANSIENT = frozenset({"orig_nbformat", "orig_nbformat_minor", "signature"})
# nbformat.writes' own settings (nbformat.v4.nbjson.JSONWriter.writes).
_ENCODER = BytesEncoder(indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False)
# A big body's MD5, hashed here while the calling thread hashes its SHA-256.
_HASHERS = ThreadPoolExecutor(4, thread_name_prefix="bookstore-md5")


@dataclass(frozen=True)
class Encoded:
    data: bytes
    sha256: str
    md5: str


def notebook_json(
    nb: nbformat.NotebookNode, capture_validation_error: dict[str, Any], end: bytes = b""
) -> bytes:
    """``nbformat.writes(nb, NO_CONVERT, capture_validation_error=...)`` as UTF-8, byte for
    byte, then ``end``, without its deep copy of the whole notebook (a sixth of a save's
    CPU at 10 MB).

    ``nb`` must be the caller's own: it is changed in place (lines split, transient
    metadata dropped).
    """
    if nb.get("nbformat") != 4:
        text = nbformat.writes(
            nb, version=nbformat.NO_CONVERT, capture_validation_error=capture_validation_error
        )
        return text.encode("utf-8") + end
    _validate(nb, capture_validation_error)
    return json_bytes(strip_transient(split_lines(nb)), end)


def encode_notebook(nb: nbformat.NotebookNode, capture_validation_error: dict[str, Any]) -> Encoded:
    """The bytes ``nbformat.write`` puts in a file (``notebook_json`` and a newline, as
    FileContentsManager stores them), with their digests.

    nbformat validates before it writes, because validation repairs missing or repeated
    cell ids, and sees what the writing then strips (``strip_transient``). Without
    either, validation only reads the notebook the writing wrote: it then runs after
    the encoding, while the digests are computed (a third of a 10 MB save's CPU, which
    hashlib spends without the GIL).
    """
    if nb.get("nbformat") != 4 or _validate_first(nb):
        return digest(notebook_json(nb, capture_validation_error, b"\n"))
    data = json_bytes(strip_transient(split_lines(nb)), b"\n")
    return digest(data, meanwhile=lambda: _validate(nb, capture_validation_error))


def _validate(nb: nbformat.NotebookNode, capture_validation_error: dict[str, Any]) -> None:
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        get_logger().error("Notebook JSON is invalid: %s", exc)
        capture_validation_error["ValidationError"] = exc


def _validate_first(nb: nbformat.NotebookNode) -> bool:
    """Whether validation must see ``nb`` before it is written: it would add or renew
    cell ids (v4.5 and later), or judge what writing strips. Odd shapes: left to
    nbformat, in its order."""
    minor, cells, meta = nb.get("nbformat_minor", 0), nb.get("cells"), nb.get("metadata")
    if not isinstance(minor, int) or not isinstance(cells, list) or not isinstance(meta, dict):
        return True
    if not all(isinstance(c, dict) and isinstance(c.get("metadata", {}), dict) for c in cells):
        return True
    if _TRANSIENT.intersection(meta) or any("trusted" in c.get("metadata", {}) for c in cells):
        return True
    if minor < 5:
        return False
    if not all("id" in c for c in cells):
        return True
    try:
        return len({c["id"] for c in cells}) != len(cells)
    except TypeError:  # an id nbformat would refuse, not repair: left to it
        return True


class _Unusual(Exception):
    """A value the fast encoder leaves to ``json`` (and its errors)."""


def json_bytes(obj: Any, end: bytes = b"") -> bytes:
    """``_ENCODER.encode(obj).encode("utf-8") + end``, byte for byte, with orjson escaping
    strings (``end`` joined with the rest: no copy of a big body to add it)."""
    out: list[bytes] = []
    try:
        _put(obj, 0, out.append)
    except (_Unusual, orjson.JSONEncodeError, RecursionError):
        return _ENCODER.encode(obj).encode("utf-8") + end  # the reference, its exact errors
    out.append(end)
    return b"".join(out)


def _newline(level: int) -> bytes:
    return b"\n" + b" " * level


def _float(value: float) -> bytes:
    # json.encoder's floatstr (allow_nan=True)
    if value != value:
        return b"NaN"
    if math.isinf(value):
        return b"Infinity" if value > 0 else b"-Infinity"
    return float.__repr__(value).encode()


def _put(o: Any, level: int, put: Any) -> None:
    # The order of json.encoder's _iterencode: str, None, True, False, int, float, ...
    if isinstance(o, str):
        put(orjson.dumps(o))
    elif o is None:
        put(b"null")
    elif o is True:
        put(b"true")
    elif o is False:
        put(b"false")
    elif isinstance(o, int):
        put(int.__repr__(o).encode())
    elif isinstance(o, float):
        put(_float(o))
    elif isinstance(o, list | tuple):
        if not o:
            put(b"[]")
            return
        inner = _newline(level + 1)
        put(b"[" + inner)
        if all(type(x) is str for x in o):  # source and text lines: the common case
            put((b"," + inner).join(map(orjson.dumps, o)))
        else:
            for i, x in enumerate(o):
                if i:
                    put(b"," + inner)
                _put(x, level + 1, put)
        put(_newline(level) + b"]")
    elif isinstance(o, dict):
        if not o:
            put(b"{}")
            return
        if not all(type(k) is str for k in o):
            raise _Unusual  # json turns numbers into keys, and sorting mixed keys fails
        inner = _newline(level + 1)
        put(b"{" + inner)
        for i, (k, v) in enumerate(sorted(o.items())):
            put((b"," + inner if i else b"") + orjson.dumps(k) + b": ")
            _put(v, level + 1, put)
        put(_newline(level) + b"}")
    elif isinstance(o, bytes):
        _put(o.decode("ascii"), level, put)  # BytesEncoder.default
    else:
        raise _Unusual


def digest(data: bytes, meanwhile: Callable[[], None] | None = None) -> Encoded:
    """``data`` with its SHA-256 and MD5, the two computed side by side when it is big,
    and beside ``meanwhile()`` (work that needs the GIL) when given."""
    if len(data) < DIGEST_IN_THREADS:
        if meanwhile is not None:
            meanwhile()
        return Encoded(data, _sha256(data), _md5(data))
    md5 = _HASHERS.submit(_md5, data)
    if meanwhile is None:
        return Encoded(data, _sha256(data), md5.result())
    sha256 = _HASHERS.submit(_sha256, data)
    meanwhile()
    return Encoded(data, sha256.result(), md5.result())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


async def digest_async(data: bytes) -> Encoded:
    """``digest`` that waits for big bodies' hashes in a worker thread, not on the loop."""
    if len(data) < DIGEST_IN_THREADS:
        return digest(data)
    return await anyio.to_thread.run_sync(digest, data)
