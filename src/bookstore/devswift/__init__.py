"""A real single-node OpenStack Swift on 127.0.0.1 for ``make run`` and the tests.

Only the control side lives here; the server (``bookstore.devswift.server``: a proxy
process and its storage servers' child process) is the only one that imports Swift and
eventlet.
"""

from __future__ import annotations

from bookstore.devswift.aio import (
    AIOInfo,
    SwiftAIOError,
    check_authenticated,
    configured_info,
    default_data_dir,
    env_lines,
    run_foreground,
    start,
    status,
    stop,
)

__all__ = [
    "AIOInfo",
    "SwiftAIOError",
    "check_authenticated",
    "configured_info",
    "default_data_dir",
    "env_lines",
    "run_foreground",
    "start",
    "status",
    "stop",
]
