"""Kernels that can reach the store without holding its secrets in their environment.

A kernel inherits the server's environment, so ``ST_KEY`` or
``AWS_SECRET_ACCESS_KEY`` set for the server would be one ``os.environ`` away
from every notebook. ``BookstoreKernelManager`` drops such variables from the
kernel's environment and adds ``BOOKSTORE_STORE_URL``, so ``bookstore://`` paths
(``bookstore.fsspec_fs``) open the server's store with the credentials the user
already has in their Jupyter config::

    c.MultiKernelManager.kernel_manager_class = "bookstore.kernels.BookstoreKernelManager"

This keeps secrets out of *environment* listings and logs; it is not a
sandbox: a kernel runs as the same OS user as the server and can read what the
server can. Per-user credentials are what isolate users (README, "JupyterHub").
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from jupyter_server.services.kernels.kernelmanager import ServerKernelManager
from traitlets import List, Unicode

from .hub import expand_store_url
from .settings import STORE_URL_ENV

#: Secrets the stores read from the environment (directly, or through openstacksdk's
#: ``OS_*`` and obstore's ``AWS_*``/``AZURE_*``/``GOOGLE_*`` variables), and paths to
#: key files: a kernel that finds them would authenticate as the server.
SECRET_ENV = (
    "ST_KEY",
    "OS_PASSWORD",
    "OS_TOKEN",
    "OS_AUTH_TOKEN",
    "OS_ACCESS_TOKEN",
    "OS_REFRESH_TOKEN",
    "OS_PASSCODE",
    "OS_CLIENT_SECRET",
    "OS_APPLICATION_CREDENTIAL_SECRET",
    "OS_CONSUMER_SECRET",
    "OS_ACCESS_SECRET",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_MASTER_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_TOKEN",
    "AZURE_STORAGE_CLIENT_SECRET",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_SERVICE_ACCOUNT_PATH",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
)
#: Any other variable of those families that looks like a secret (names change between
#: library versions; a list alone would miss the next one).
SECRET_PATTERN = (
    r"(ST|OS|AWS|AZURE|GOOGLE|GCS|GCP)_\w*(SECRET|TOKEN|PASSWORD|PASSCODE|CREDENTIALS|_KEY)\w*"
)


def scrub_env(
    env: Mapping[str, str], names: Iterable[str] = SECRET_ENV, pattern: str = SECRET_PATTERN
) -> dict[str, str]:
    """A copy of ``env`` without the variables in ``names`` or fully matching ``pattern``."""
    drop = set(names)
    secret = re.compile(pattern) if pattern else None
    return {
        k: v
        for k, v in env.items()
        if k not in drop and not (secret is not None and secret.fullmatch(k))
    }


class BookstoreKernelManager(ServerKernelManager):
    """A kernel manager whose kernels get ``BOOKSTORE_STORE_URL`` and no store secrets."""

    secret_env = List(
        Unicode(),
        default_value=list(SECRET_ENV),
        config=True,
        help="Environment variables never passed to kernels.",
    )
    secret_env_pattern = Unicode(
        SECRET_PATTERN,
        config=True,
        help="A regex: variables whose whole name matches are not passed to kernels either "
        "('' for none).",
    )
    store_url = Unicode(
        "",
        config=True,
        help="BOOKSTORE_STORE_URL for kernels (default: the server's contents manager's).",
    )

    def _server_store_url(self) -> str:
        if self.store_url:
            return self.store_url
        # kernel manager -> MappingKernelManager -> ServerApp
        server = getattr(self.parent, "parent", None)
        url = getattr(getattr(server, "contents_manager", None), "store_url", "")
        return url if isinstance(url, str) else ""

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:
        env = scrub_env(kw.get("env") or os.environ, self.secret_env, self.secret_env_pattern)
        if url := self._server_store_url():
            env[STORE_URL_ENV] = expand_store_url(url, env)
        kw["env"] = env
        return await super()._async_pre_start_kernel(**kw)
