"""The Jupyter-facing layer: it knows the Store protocol and nothing below it."""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use (PEP 562): the CLI's history/restore need checkpoints, not nbformat.
_LAZY = {
    "BookstoreCheckpoints": ".checkpoints",
    "BookstoreContentsManager": ".manager",
    "CloudFilesContentsManager": ".presets",
    "KeystoneContentsManager": ".presets",
    "S3ContentsManager": ".presets",
    "SwiftContentsManager": ".presets",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
