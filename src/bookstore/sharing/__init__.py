"""Links to files for anyone, without Jupyter: signed (expiring) and public.

``Sharing`` (in ``service``) is what handlers and the CLI use; it picks the
backend for the store (``swift``: TempURL and a public container; ``s3``:
presigned URLs and a public bucket/prefix), importing it only then.
"""

from .base import (
    KINDS,
    InvalidShare,
    Share,
    ShareBackend,
    SharingNotSupported,
    format_duration,
    parse_duration,
    viewer_url,
)
from .service import Sharing, backend_for

__all__ = [
    "KINDS",
    "InvalidShare",
    "Share",
    "ShareBackend",
    "Sharing",
    "SharingNotSupported",
    "backend_for",
    "format_duration",
    "parse_duration",
    "viewer_url",
]
