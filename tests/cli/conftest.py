"""The ``bookstore`` command against the session's real Swift.

``cli`` invokes the command in this process (click's CliRunner: fast, and
``memory://`` stores are shared with the test); ``env`` holds what a user's
shell would (ST_AUTH/ST_USER/ST_KEY) and an empty ``JUPYTER_CONFIG_DIR``, so
no config of the machine leaks in.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import Cli

from kinds import unique


@pytest.fixture
def swift_env(swift_aio, tmp_path) -> dict[str, str]:
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    return {
        "ST_AUTH": swift_aio.auth_url,
        "ST_USER": swift_aio.user,
        "ST_KEY": swift_aio.key,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "BOOKSTORE_STORE_URL": "",
    }


@pytest.fixture
def cli(swift_env) -> Cli:
    return Cli(swift_env, Path(swift_env["JUPYTER_CONFIG_DIR"]))


@pytest.fixture
def container() -> str:
    """A fresh container name: swift://{container}/..."""
    return unique("cli")
