"""Bookstore: Jupyter notebooks and files in OpenStack Swift or S3-compatible storage."""

from __future__ import annotations

from typing import Any

from .contents import BookstoreCheckpoints, BookstoreContentsManager, SwiftContentsManager

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import BookstoreApp

    return [{"module": "bookstore", "app": BookstoreApp}]


__all__ = [
    "BookstoreCheckpoints",
    "BookstoreContentsManager",
    "SwiftContentsManager",
    "__version__",
]
