"""Ready-made managers for one kind of store, so a config needs only the essentials."""

from __future__ import annotations

from traitlets import Bool, Unicode, default

from ..stores.base import Store
from ..stores.registry import open_store
from .manager import BookstoreContentsManager


def _store_url(scheme: str, location: str, prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{scheme}://{location}/{prefix}" if prefix else f"{scheme}://{location}"


class SwiftContentsManager(BookstoreContentsManager):
    """Contents in an OpenStack Swift container (auth on ``c.SwiftStore``)."""

    container = Unicode("notebooks", config=True, help="Swift container holding the notebooks.")
    prefix = Unicode("", config=True, help="Folder inside the container, e.g. 'alice/'.")

    @default("store_url")
    def _default_store_url(self) -> str:
        return _store_url("swift", self.container, self.prefix)


class S3ContentsManager(BookstoreContentsManager):
    """Contents in an S3 bucket (endpoint and credentials on ``c.S3Store``)."""

    bucket = Unicode("notebooks", config=True, help="S3 bucket holding the notebooks.")
    prefix = Unicode("", config=True, help="Folder inside the bucket, e.g. 'alice/'.")

    @default("store_url")
    def _default_store_url(self) -> str:
        return _store_url("s3", self.bucket, self.prefix)


class KeystoneContentsManager(SwiftContentsManager):
    """Contents in Swift, authenticating with OpenStack Keystone (v3, or v2.0).

    Takes the 2013-era names (``auth_url``, ``username``, ``password``, ``tenant_name``,
    ``region``) and today's (``project_name``, ``user_domain_name``, ``region_name``,
    application credentials, ...). What is set here goes to the store; anything else can
    still come from ``c.SwiftStore`` (or clouds.yaml with ``c.SwiftStore.cloud``).
    """

    auth_url = Unicode("", config=True, help="Keystone URL, e.g. https://keystone:5000/v3.")
    auth_version = Unicode("", config=True, help="'3' or '2.0' (default: from auth_url).")
    username = Unicode("", config=True, help="Keystone user name.")
    password = Unicode("", config=True, help="Keystone password. Never logged.")
    tenant_name = Unicode("", config=True, help="Project name (v2.0 word for project_name).")
    tenant_id = Unicode("", config=True, help="Project id (v2.0 word for project_id).")
    project_name = Unicode("", config=True, help="Keystone project name.")
    project_id = Unicode("", config=True, help="Keystone project id.")
    user_domain_name = Unicode("", config=True, help="Domain of the user (default: 'default').")
    user_domain_id = Unicode("", config=True, help="Domain id of the user.")
    project_domain_name = Unicode("", config=True, help="Domain of the project.")
    project_domain_id = Unicode("", config=True, help="Domain id of the project.")
    application_credential_id = Unicode("", config=True, help="Application credential id.")
    application_credential_secret = Unicode(
        "", config=True, help="Application credential secret. Never logged."
    )
    region = Unicode("", config=True, help="Region of the Swift endpoint (old name).")
    region_name = Unicode("", config=True, help="Region of the Swift endpoint in the catalog.")
    interface = Unicode("", config=True, help="Catalog interface: 'public' or 'internal'.")

    def store_options(self) -> dict[str, str]:
        """The SwiftStore settings this manager's configuration makes (only those set)."""
        options = {
            "auth_url": self.auth_url,
            "auth_version": self.auth_version,
            "user": self.username,
            "key": self.password,
            "project_name": self.project_name or self.tenant_name,
            "project_id": self.project_id or self.tenant_id,
            "user_domain_name": self.user_domain_name,
            "user_domain_id": self.user_domain_id,
            "project_domain_name": self.project_domain_name,
            "project_domain_id": self.project_domain_id,
            "application_credential_id": self.application_credential_id,
            "application_credential_secret": self.application_credential_secret,
            "region_name": self.region_name or self.region,
            "interface": self.interface,
        }
        return {k: v for k, v in options.items() if v}

    @default("store")
    def _default_store(self) -> Store:
        return open_store(self.store_url, parent=self, **self.store_options())


class CloudFilesContentsManager(BookstoreContentsManager):
    """Contents in Rackspace Cloud Files, configured as in 2013::

    c.ServerApp.contents_manager_class = 'bookstore.CloudFilesContentsManager'
    c.CloudFilesContentsManager.account_name = 'USER_NAME'
    c.CloudFilesContentsManager.account_key = 'API_KEY'
    c.CloudFilesContentsManager.container_name = 'notebooks'
    c.CloudFilesContentsManager.region = 'DFW'   # 'LON' for the UK
    """

    account_name = Unicode("", config=True, help="Rackspace user name.")
    account_key = Unicode("", config=True, help="Rackspace API key. Never logged.")
    container_name = Unicode("notebooks", config=True, help="Cloud Files container.")
    prefix = Unicode("", config=True, help="Folder inside the container, e.g. 'alice/'.")
    region = Unicode("DFW", config=True, help="Region: DFW, ORD, IAD, LON, SYD, HKG, ...")
    identity_url = Unicode(
        "https://identity.api.rackspacecloud.com/v2.0/",
        config=True,
        help="Rackspace Identity (v2.0) endpoint.",
    )
    servicenet = Bool(
        False,
        config=True,
        help="Use the region's internal (ServiceNet) endpoint: for servers in the same region.",
    )

    @default("store_url")
    def _default_store_url(self) -> str:
        return _store_url("swift", self.container_name, self.prefix)

    def store_options(self) -> dict[str, str]:
        """The SwiftStore settings for Rackspace Identity and the region's Cloud Files."""
        options = {
            "auth_type": "rackspace",
            "auth_url": self.identity_url,
            "user": self.account_name,
            "key": self.account_key,
            "region_name": self.region.upper(),
            "interface": "internal" if self.servicenet else "public",
        }
        return {k: v for k, v in options.items() if v}

    @default("store")
    def _default_store(self) -> Store:
        return open_store(self.store_url, parent=self, **self.store_options())

    def info_string(self) -> str:
        return (
            f"Serving {self.account_name}'s notebooks on Rackspace CloudFiles from "
            f"container {self.container_name} in the {self.region.upper()} region."
        )
