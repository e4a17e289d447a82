"""Real servers are started once per session; every test gets a fresh store.

Async tests are plain ``async def`` functions without marks: pytest-jupyter's
plugin runs every coroutine test on its event loop (``jp_asyncio_loop``), the
same loop the Jupyter server under test uses. Fixtures are sync; one that must
await does it with ``jp_asyncio_loop.run_until_complete``.
"""

import gc
import os
import subprocess

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server", "fixtures_swift", "kinds"]

#: Credentials a developer's shell may hold; tests configure every store themselves.
AMBIENT_CREDENTIALS = ("OS_", "ST_", "AWS_", "BOOKSTORE_", "JUPYTERHUB_")


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch):
    for name in list(os.environ):
        if name.startswith(AMBIENT_CREDENTIALS):
            monkeypatch.delenv(name)


def _running_children() -> list[str]:
    """Command lines of this process's children still running (not zombies)."""
    found = []
    for stat in os.scandir("/proc"):
        if not stat.name.isdigit():
            continue
        try:
            with open(f"/proc/{stat.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) != os.getpid() or fields[0] == "Z":
                continue
            with open(f"/proc/{stat.name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            if "multiprocessing.resource_tracker" not in cmdline:  # ends with us, by design
                found.append(f"{stat.name}: {cmdline[:200]}")
        except (OSError, IndexError, ValueError):
            continue
    return found


def _unwaited_popens() -> list[str]:
    """Popen objects still alive whose process was never waited for: at exit, each
    becomes Python's "ResourceWarning: subprocess N is still running"."""
    return [
        f"{p.pid}: {p.args!r}"[:200]
        for p in gc.get_objects()
        if isinstance(p, subprocess.Popen) and p.returncode is None and p.poll() is None
    ]


def pytest_sessionfinish(session, exitstatus):
    """Servers the tests started must be stopped by them: name any still running (they
    would outlive the run, and show only as Python's 'subprocess N is still running')."""
    left = _running_children() if os.path.isdir("/proc") else []
    unwaited = _unwaited_popens()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and (left or unwaited):
        reporter.write_line(f"child processes still running: {left}", red=True)
        reporter.write_line(f"Popen objects never waited for: {unwaited}", red=True)
