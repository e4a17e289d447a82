"""Bookstore: Jupyter notebooks and files in OpenStack Swift or S3-compatible storage."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public names -> the module defining them. Imported on first use (PEP 562), so
# `bookstore swift-aio` and the Swift server process don't pay for nbformat.
_LAZY = {
    "BookstoreCheckpoints": "bookstore.contents",
    "BookstoreContentsManager": "bookstore.contents",
    "SwiftContentsManager": "bookstore.contents",
    "S3ContentsManager": "bookstore.contents",
    "KeystoneContentsManager": "bookstore.contents",
    "CloudFilesContentsManager": "bookstore.contents",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bookstore' has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import BookstoreApp
    from .logs import install_secret_redaction

    # Jupyter asks this before linking any application: early enough to keep
    # config-file secrets out of the "Config changed" DEBUG lines that follow.
    install_secret_redaction()

    return [{"module": "bookstore", "app": BookstoreApp}]
