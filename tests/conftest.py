"""Real servers are started once per session; every test gets a fresh store.

Async tests are plain ``async def`` functions without marks: pytest-jupyter's
plugin runs every coroutine test on its event loop (``jp_asyncio_loop``), the
same loop the Jupyter server under test uses. Fixtures are sync; one that must
await does it with ``jp_asyncio_loop.run_until_complete``.
"""

import os

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server", "fixtures_swift", "kinds"]

#: Credentials a developer's shell may hold; tests configure every store themselves.
AMBIENT_CREDENTIALS = ("OS_", "ST_", "AWS_", "BOOKSTORE_", "JUPYTERHUB_")


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch):
    for name in list(os.environ):
        if name.startswith(AMBIENT_CREDENTIALS):
            monkeypatch.delenv(name)
