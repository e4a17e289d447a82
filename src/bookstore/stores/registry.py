"""Store URLs -> Store instances, importing each backend only when it is used."""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import unquote, urlsplit

from .base import Store

# scheme -> (module, class, extra that provides its client library)
_BACKENDS: dict[str, tuple[str, str, str | None]] = {
    "swift": ("bookstore.stores.swift", "SwiftStore", "swift"),
    "s3": ("bookstore.stores.s3", "S3Store", "s3"),
    "gs": ("bookstore.stores.s3", "GCSStore", "s3"),  # through obstore; untested here
    "az": ("bookstore.stores.s3", "AzureStore", "s3"),  # through obstore; untested here
    "file": ("bookstore.stores.local", "LocalStore", None),
    "memory": ("bookstore.stores.memory", "MemoryStore", None),
}


class StoreURLError(ValueError):
    """A store URL that cannot be used, with a message saying how to fix it."""


def store_class(scheme: str) -> type:
    """The Store class for ``scheme``, with a pip hint when its extra is missing."""
    try:
        module, cls, extra = _BACKENDS[scheme]
    except KeyError:
        known = ", ".join(f"{s}://" for s in _BACKENDS)
        raise StoreURLError(f"unknown store scheme {scheme!r}; use one of {known}") from None
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as exc:
        if extra is None:
            raise
        raise StoreURLError(
            f"{scheme}:// stores need extra packages: pip install 'bookstore[{extra}]' ({exc})"
        ) from exc


def split_store_url(url: str) -> tuple[str, str, str]:
    """``swift://container/some/prefix`` -> ("swift", "container", "some/prefix/")."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme:
        raise StoreURLError(f"store URL {url!r} has no scheme, e.g. swift://notebooks/alice")
    if scheme == "file":  # file:///abs/dir: the whole path is the location
        return scheme, unquote(parts.path) or "/", ""
    location = unquote(parts.netloc)
    prefix = unquote(parts.path).strip("/")
    return scheme, location, f"{prefix}/" if prefix else ""


def open_store(url: str, *, parent: Any = None, **options: Any) -> Store:
    """Build the store a URL names; ``parent`` lets traitlets config reach the store."""
    scheme, location, prefix = split_store_url(url)
    cls = store_class(scheme)
    return cls.from_url(location, prefix, parent=parent, **options)
