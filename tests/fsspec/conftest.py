"""``bookstore://`` against the session's real Swift.

Until the package's ``fsspec.specs`` entry point is installed, the tests
register the class by hand (and hand kernels a stand-in dist-info on
PYTHONPATH): what they check is the same lookup by protocol name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fsspec.registry import known_implementations, registry

import fsspec
from bookstore.fsspec_fs import BookstoreFileSystem
from kinds import unique

ENTRY_POINT = "bookstore = bookstore.fsspec_fs:BookstoreFileSystem"


def entry_point_installed() -> bool:
    return "bookstore" in known_implementations or "bookstore" in registry


if not entry_point_installed():
    fsspec.register_implementation("bookstore", BookstoreFileSystem)


@pytest.fixture
def entry_point_path(tmp_path) -> str | None:
    """A directory to put on a kernel's PYTHONPATH so it finds the entry point, if needed."""
    if "bookstore" in known_implementations:
        return None
    info = tmp_path / "shim" / "bookstore_fsspec_shim-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: bookstore-fsspec-shim\nVersion: 0\n"
    )
    (info / "entry_points.txt").write_text(f"[fsspec.specs]\n{ENTRY_POINT}\n")
    return str(info.parent)


@pytest.fixture
def container() -> str:
    return unique("fs")


@pytest.fixture
def swift_auth(swift_aio) -> dict[str, str]:
    return {"auth_url": swift_aio.auth_url, "user": swift_aio.user, "key": swift_aio.key}


@pytest.fixture
def bookstore_env(monkeypatch, tmp_path, swift_aio, container) -> Path:
    """A user whose store is swift://{container}: credentials in the environment, no
    Jupyter config of the machine. Returns the (empty) JUPYTER_CONFIG_DIR."""
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("BOOKSTORE_STORE_URL", f"swift://{container}")
    monkeypatch.setenv("ST_AUTH", swift_aio.auth_url)
    monkeypatch.setenv("ST_USER", swift_aio.user)
    monkeypatch.setenv("ST_KEY", swift_aio.key)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    BookstoreFileSystem.clear_instance_cache()
    yield config_dir
    for fs in list(BookstoreFileSystem._cache.values()):
        fs.close()
    BookstoreFileSystem.clear_instance_cache()


@pytest.fixture
def fs(bookstore_env) -> BookstoreFileSystem:
    return fsspec.filesystem("bookstore")
