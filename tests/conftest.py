"""Real servers are started once per session; every test gets a fresh store.

Async tests are plain ``async def`` functions without marks: pytest-jupyter's
plugin runs every coroutine test on its event loop (``jp_asyncio_loop``), the
same loop the Jupyter server under test uses. Fixtures are sync; one that must
await does it with ``jp_asyncio_loop.run_until_complete``.
"""

pytest_plugins = ["pytest_jupyter.jupyter_server", "fixtures_swift", "kinds"]
