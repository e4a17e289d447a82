"""pytest plugin: a real single-node Swift (bookstore swift-aio) for the session.

Load it with ``pytest_plugins = ["fixtures_swift"]`` (``tests/`` on sys.path).
Each session (each xdist worker) starts its own server in its own temporary
directory, on ports picked by the kernel, so parallel runs never collide; the
server also stops by itself if this process dies.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bookstore.devswift import AIOInfo, start, stop

__all__ = ["AIOInfo", "swift_aio", "swift_aio_running"]


@contextlib.contextmanager
def swift_aio_running(data_dir: Path, port: int = 0) -> Iterator[AIOInfo]:
    """Start swift-aio in ``data_dir`` (``port=0``: a free port), stop it on exit."""
    info, _ = start(data_dir, port, stop_with_parent=True)
    try:
        yield info
    finally:
        stop(data_dir)


@pytest.fixture(scope="session")
def swift_aio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AIOInfo]:
    """A running Swift: ``auth_url``/``user``/``key`` (tempauth v1.0), ``storage_url``,
    ``s3_endpoint``/``s3_access_key``/``s3_secret_key``/``region``, ``data_dir``."""
    with swift_aio_running(tmp_path_factory.mktemp("swift-aio")) as info:
        yield info
