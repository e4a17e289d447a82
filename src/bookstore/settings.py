"""The user's Jupyter configuration, read the way a Jupyter server reads it.

The CLI and ``bookstore://`` paths in kernels use the same ``c.SwiftStore...``
(``c.S3Store...``, ``c.BookstoreContentsManager.store_url``) a person already
wrote for the server, so there is one place for credentials. Light on purpose:
traitlets and jupyter_core only, no server imports.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping

from jupyter_core.paths import jupyter_config_path
from traitlets.config import Application, Config

from .hub import expand_store_url

#: The configured store, as kernels see it (set by ``bookstore.kernels``); never a secret.
STORE_URL_ENV = "BOOKSTORE_STORE_URL"
#: Extra config files, ``os.pathsep``-separated, read after the usual ones.
CONFIG_ENV = "BOOKSTORE_CONFIG"


class ConfigError(Exception):
    """A Jupyter config file that could not be read (its error is the cause)."""


class _ConfigLoader(Application):
    """Only loads files: Jupyter's own way (.py and .json, lowest priority first)."""

    name = "bookstore"


def jupyter_config(
    extra_files: list[str] | None = None, env: Mapping[str, str] = os.environ
) -> Config:
    """The traitlets config a Jupyter server of this user would load, then ``extra_files``.

    ``jupyter_config`` and ``jupyter_server_config`` (.py/.json) from every
    directory of ``jupyter_config_path()`` (``$JUPYTER_CONFIG_DIR``, ``~/.jupyter``,
    ``{sys.prefix}/etc/jupyter``, ``/etc/jupyter``...), then ``$BOOKSTORE_CONFIG``
    and ``extra_files``. A broken file is an error, not a log line.
    """
    loader = _ConfigLoader()
    loader.raise_config_file_errors = True
    path = jupyter_config_path()
    files = [f for f in env.get(CONFIG_ENV, "").split(os.pathsep) if f]
    try:
        for base in ("jupyter_config", "jupyter_server_config"):
            loader.load_config_file(base, path=path)
        for extra in [*files, *(extra_files or [])]:
            if not os.path.isfile(extra):
                raise FileNotFoundError(f"config file {extra!r} does not exist")
            directory, name = os.path.split(os.path.abspath(extra))
            loader.load_config_file(name, path=directory)
    except Exception as exc:  # a config file runs arbitrary code: any error is possible
        raise ConfigError(f"cannot read the Jupyter config: {exc}") from exc
    return loader.config


def configured_store_url(config: Config, env: Mapping[str, str] = os.environ) -> str | None:
    """The store a Jupyter server would use: ``$BOOKSTORE_STORE_URL``, else the config's.

    ``{username}`` is filled from ``$JUPYTERHUB_USER`` (see ``bookstore.hub``).
    """
    url = env.get(STORE_URL_ENV)
    if not url:
        for section in ("BookstoreContentsManager", "SwiftContentsManager"):
            if section in config and "store_url" in config[section]:
                url = config[section].store_url
    return expand_store_url(url, env) if url else None


def read_only(config: Config) -> Config:
    """``config`` for a store that is only read: never create a missing container."""
    out = copy.deepcopy(config)  # Config(config) would share, and so change, its sections
    out.merge(Config({"SwiftStore": {"create_container": False}}))
    return out
