"""The Jupyter-facing layer: it knows the Store protocol and nothing below it."""

from .checkpoints import BookstoreCheckpoints
from .manager import BookstoreContentsManager
from .presets import S3ContentsManager, SwiftContentsManager

__all__ = [
    "BookstoreCheckpoints",
    "BookstoreContentsManager",
    "S3ContentsManager",
    "SwiftContentsManager",
]
