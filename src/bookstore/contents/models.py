"""Pure functions: object metadata -> Jupyter contents models."""

from __future__ import annotations

import json
import math
import mimetypes
from datetime import UTC, datetime
from typing import Any

import orjson
from jupyter_client.jsonutil import json_default

from ..stores.base import ObjectMeta

NOTEBOOK_CONTENT_TYPE = "application/x-ipynb+json"
HASH_ALGORITHM = "sha256"
#: user-metadata key holding the sha256 of the bytes we wrote, so require_hash needs no download
HASH_METADATA_KEY = "sha256"


def entry_type(path: str) -> str:
    """'notebook' or 'file' by name, as FileContentsManager decides."""
    return "notebook" if path.endswith(".ipynb") else "file"


def base_model(path: str, *, type: str, last_modified: datetime, size: int | None) -> dict:
    return {
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "type": type,
        "writable": True,
        # Object stores keep no creation time; the last write is the best we know.
        "created": last_modified,
        "last_modified": last_modified,
        "size": size,
        "mimetype": None,
        "content": None,
        "format": None,
        "hash": None,
        "hash_algorithm": None,
    }


def object_model(path: str, meta: ObjectMeta, *, type: str | None = None) -> dict[str, Any]:
    """A model without content for a file or notebook stored as ``meta``."""
    kind = type or entry_type(path)
    model = base_model(path, type=kind, last_modified=meta.last_modified, size=meta.size)
    if kind == "file":
        model["mimetype"] = mimetypes.guess_type(path)[0]
    return model


def directory_model(path: str, last_modified: datetime | None = None) -> dict[str, Any]:
    """A model without content for a pseudo-folder: its time is unknown without a marker."""
    return base_model(
        path, type="directory", last_modified=last_modified or datetime.now(UTC), size=None
    )


def stored_hash(meta: ObjectMeta) -> str | None:
    """The sha256 we recorded at write time, if the object still carries it."""
    value = meta.metadata.get(HASH_METADATA_KEY)
    return value if value and len(value) == 64 else None


def json_times(model: dict[str, Any]) -> dict[str, Any]:
    """``model`` with its times as the strings Jupyter's JSON encoder would make.

    A 10,000-entry listing spends most of its encoding time in the encoder's
    per-datetime callback, in one block on the event loop; entries built here
    in chunks make that block four times shorter. The JSON is identical.
    """
    for field in ("created", "last_modified"):
        model[field] = model[field].isoformat().replace("+00:00", "Z")
    return model


class Listing(list):
    """A folder's entries, JSON-encoded a batch at a time as they are built.

    jupyter_server encodes a listing in one ``json.dumps`` on the event loop
    (~30 ms for 10,000 entries, a stall for every other user); Bookstore's
    contents handler (``handlers/contents.py``) splices these batches instead.
    Entries must not change once encoded; appending more is noticed.
    """

    __slots__ = ("_encoded", "_parts")

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[str] = []
        self._encoded = 0

    def encode_pending(self) -> None:
        """Encode the entries added since the last call (as jupyter_server would)."""
        if self._encoded < len(self):
            self._parts.append(json.dumps(self[self._encoded :], default=json_default)[1:-1])
            self._encoded = len(self)

    def json(self) -> str | None:
        """The JSON array of all entries; None if some were added after encoding."""
        if self._encoded != len(self):
            return None
        return "[" + ", ".join(self._parts) + "]"


_SPLICE = "\x00bookstore-listing\x00"


def model_json(model: dict[str, Any]) -> bytes:
    """The model as JSON for a response, reusing a ``Listing``'s encoded entries."""
    listing = model.get("content")
    body = listing.json() if isinstance(listing, Listing) else None
    if body is None:
        return dumps(model)
    outer = json.dumps({**model, "content": _SPLICE}, default=json_default)
    mark = json.dumps(_SPLICE)
    if outer.count(mark) != 1:  # cannot happen with checked names; be exact anyway
        return dumps(model)
    return outer.replace(mark, body).encode("utf-8")


def dumps(model: Any) -> bytes:
    """``json.dumps(model, default=json_default)``'s meaning, by orjson where it can: a
    10 MB notebook in ~1 ms instead of ~50 ms on the event loop. Datetimes go through
    json_default, so they read exactly as jupyter_server writes them. What orjson
    refuses (lone surrogates, integers over 64 bits) is left to json. One difference:
    NaN and infinities become null, where json writes NaN, which browsers refuse."""
    try:
        return orjson.dumps(model, default=json_default, option=orjson.OPT_PASSTHROUGH_DATETIME)
    except orjson.JSONEncodeError:
        return json.dumps(_finite(model), default=json_default).encode("utf-8")


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None, as orjson writes them (null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
