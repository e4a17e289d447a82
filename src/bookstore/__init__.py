"""Bookstore: Jupyter notebooks and files in OpenStack Swift or S3-compatible storage."""

from __future__ import annotations

__version__ = "0.1.0"
