"""Ready-made managers for one kind of store, so a config needs only the essentials."""

from __future__ import annotations

from traitlets import Unicode, default

from .manager import BookstoreContentsManager


class SwiftContentsManager(BookstoreContentsManager):
    """Contents in an OpenStack Swift container (auth on ``c.SwiftStore``)."""

    container = Unicode("notebooks", config=True, help="Swift container holding the notebooks.")
    prefix = Unicode("", config=True, help="Folder inside the container, e.g. 'alice/'.")

    @default("store_url")
    def _default_store_url(self) -> str:
        prefix = self.prefix.strip("/")
        return f"swift://{self.container}/{prefix}" if prefix else f"swift://{self.container}"


class S3ContentsManager(BookstoreContentsManager):
    """Contents in an S3 bucket (endpoint and credentials on ``c.S3Store``)."""

    bucket = Unicode("notebooks", config=True, help="S3 bucket holding the notebooks.")
    prefix = Unicode("", config=True, help="Folder inside the bucket, e.g. 'alice/'.")

    @default("store_url")
    def _default_store_url(self) -> str:
        prefix = self.prefix.strip("/")
        return f"s3://{self.bucket}/{prefix}" if prefix else f"s3://{self.bucket}"
