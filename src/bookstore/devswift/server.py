"""Run a one-node Swift: the proxy in this process, account, container and object
servers in one child process.

    python -m bookstore.devswift.server --data-dir DIR [--port PORT] [--watch-pid PID]

The config files must already be in DIR/etc (``bookstore.devswift.aio`` writes
them). Started by ``bookstore swift-aio start``; never import this module from
a process that is not meant to become the server: it monkey-patches eventlet.

Swift's own ``run_server()`` resets the eventlet hub on each call, which silently
stops servers started before it in the same process; so each WSGI app is built
with ``swift.common.wsgi.loadapp`` and served by an ``eventlet.wsgi.server``
greenthread, all of a process's apps under its one hub.

Two processes, as a real cluster has the proxy and the storage servers on different
hosts: one eventlet process is one core, and under load (a folder rename is 1,000
COPYs) the proxy alone keeps a core busy, the storage servers as much again. The proxy
stays alone in its process so that its ``swift.cache`` (``cache.py``, a dict) is
coherent; the storage servers use no cache.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from bookstore.devswift.config import (
    DEVICE,
    HOST,
    KEYSTONE_LISTENERS,
    KEYSTONE_PROXY,
    PART_POWER,
    SERVERS,
    Layout,
    pid_exists,
)

EXIT_PORT_IN_USE = 3


class StartupError(Exception):
    """A problem the user can fix; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _StderrLogHandler(logging.StreamHandler):
    """Replaces Swift's syslog handler: there is often no /dev/log, and Swift's
    fallback (UDP to localhost:514) loses every line. stderr is the log file."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(sys.__stderr__)

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        return f"{stamp} {super().format(record)}"


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data) + "\n")
    os.replace(tmp, path)


def _remove_own(path: Path, pid: int) -> None:
    """Remove a pid/state file only if it still names this process."""
    try:
        text = path.read_text()
    except OSError:
        return
    try:
        owner = json.loads(text)["pid"] if text.lstrip().startswith("{") else int(text)
    except (ValueError, KeyError, TypeError):
        return
    if owner == pid:
        path.unlink(missing_ok=True)


def _build_rings(layout: Layout, ports: dict[str, int]) -> None:
    from swift.common.ring import RingBuilder

    for server in SERVERS:
        builder = RingBuilder(PART_POWER, 1, 0)
        builder.add_dev(
            {
                "id": 0,
                "region": 1,
                "zone": 1,
                "ip": HOST,
                "port": ports[server],
                "device": DEVICE,
                "weight": 1.0,
                "meta": "",
            }
        )
        builder.rebalance(seed=1)
        builder.get_ring().save(str(layout.ring(server)))


def _listen(port: int) -> Any:
    import eventlet

    # No SO_REUSEPORT (Swift's default): a second server on the same port must
    # fail here instead of silently sharing the port with the first one.
    try:
        return eventlet.listen((HOST, port), backlog=1024, reuse_port=False)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {HOST} is already in use; choose another one with --port "
                "(--port 0 picks a free one)",
                EXIT_PORT_IN_USE,
            ) from None
        raise


def serve(layout: Layout, port: int, watch_pid: int | None = None) -> int:
    started = time.monotonic()
    pid = os.getpid()
    layout.run.mkdir(parents=True, exist_ok=True)
    layout.pid_file.write_text(f"{pid}\n")
    layout.state_file.unlink(missing_ok=True)
    try:
        return _serve(layout, port, watch_pid, started, pid)
    finally:
        _remove_own(layout.state_file, pid)
        _remove_own(layout.pid_file, pid)


def _serve(layout: Layout, port: int, watch_pid: int | None, started: float, pid: int) -> int:
    # Like Swift's run_server: fixes log times to UTC, avoids stat(/etc/localtime).
    os.environ["TZ"] = "UTC+0"
    time.tzset()

    # Swift before eventlet: importing swift silences eventlet's deprecation banner.
    from swift.common import constraints, storage_policy, utils
    from swift.common.utils import logs

    utils.monkey_patch()
    logs.ThreadSafeSysLogHandler = _StderrLogHandler

    from swift.common.http_protocol import SwiftHttpProtocol

    proxy_sock = _listen(port)
    backend_socks = {server: _listen(0) for server in SERVERS}
    # With Keystone (its proxy config exists): one more proxy app, on one socket per
    # catalog endpoint (region/interface), ports picked by the kernel.
    keystone = layout.conf(KEYSTONE_PROXY).exists()
    keystone_socks = {name: _listen(0) for name in KEYSTONE_LISTENERS} if keystone else {}
    ports = {server: sock.getsockname()[1] for server, sock in backend_socks.items()}
    _build_rings(layout, ports)

    # Constraints and storage policies are read from swift_dir/swift.conf,
    # not /etc/swift/swift.conf, once the swift dir is set before any app loads.
    utils.set_swift_dir(str(layout.etc))
    utils.validate_configuration()
    constraints.reload_constraints()
    storage_policy.reload_storage_policies()

    warnings.filterwarnings("ignore", message="capitalize_response_headers is disabled")
    server_kwargs = {
        "protocol": SwiftHttpProtocol,
        "socket_timeout": 60.0,
        # s3api clients (AWS SDKs) need the "ETag" spelling.
        "capitalize_response_headers": False,
        "url_length_limit": constraints.MAX_REQUEST_LINE,
        "log": utils.NullLogger(),  # proxy-logging writes the access log
    }
    stopping: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    # The storage servers: a child that stops on a signal or when this process is gone.
    storage = os.fork()
    if storage == 0:
        proxy_sock.close()
        for sock in keystone_socks.values():
            sock.close()
        backends = [(layout.conf(s), f"{s}-server", [sock]) for s, sock in backend_socks.items()]

        def orphaned() -> bool:
            return bool(stopping) or os.getppid() != pid

        _run_child(lambda: _run(backends, server_kwargs, orphaned))
    for sock in backend_socks.values():
        sock.close()

    apps = [(layout.conf("proxy"), "proxy-server", [proxy_sock])]
    if keystone_socks:
        apps.append((layout.conf(KEYSTONE_PROXY), KEYSTONE_PROXY, list(keystone_socks.values())))

    def ready() -> None:
        actual_port = proxy_sock.getsockname()[1]
        state = {"pid": pid, "port": actual_port, "backend_ports": ports, "started": time.time()}
        if keystone_socks:
            state["keystone_ports"] = {n: s.getsockname()[1] for n, s in keystone_socks.items()}
        _write_json(layout.state_file, state)
        print(
            f"swift-aio: ready on http://{HOST}:{actual_port} (pid {pid}, backends {ports}) "
            f"in {time.monotonic() - started:.2f}s",
            file=sys.stderr,
            flush=True,
        )

    storage_exited = False

    def should_stop() -> bool:
        nonlocal storage_exited
        if stopping:
            return True
        if watch_pid is not None and not pid_exists(watch_pid):
            print(f"swift-aio: process {watch_pid} is gone, stopping", file=sys.stderr)
            return True
        storage_exited = os.waitpid(storage, os.WNOHANG)[0] == storage
        if storage_exited:
            print("swift-aio: the storage servers' process died, stopping", file=sys.stderr)
        return storage_exited

    try:
        return _run(apps, server_kwargs, should_stop, ready)
    finally:
        if not storage_exited:
            _stop_child(storage)
        print("swift-aio: stopped", file=sys.stderr, flush=True)


def _run_child(fn: Callable[[], int]) -> NoReturn:
    """In a forked child: ``fn()``, then exit with its code, never returning into the
    parent's code (its ``finally`` blocks would remove the parent's pid file)."""
    code = 1
    try:
        code = fn()
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def _stop_child(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM, wait, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while os.waitpid(pid, os.WNOHANG)[0] != pid:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return
        time.sleep(0.05)


def _run(
    apps: list[tuple[Path, str, list[Any]]],
    server_kwargs: dict[str, Any],
    should_stop: Callable[[], bool],
    ready: Callable[[], None] | None = None,
) -> int:
    """Serve each (config, log name, sockets) app under this process's one hub until
    ``should_stop()``; ``ready()`` once all are loaded."""
    import eventlet
    import eventlet.hubs
    import eventlet.wsgi
    from swift.common.utils import get_hub
    from swift.common.wsgi import loadapp

    # As Swift's run_server: a fresh hub in each process, and poll rather than epoll,
    # whose one kernel object a forked process would share with its parent.
    eventlet.hubs.use_hub(get_hub())
    threads = []
    for conf, log_name, socks in apps:
        app = loadapp(str(conf), global_conf={"log_name": log_name})
        for sock in socks:
            pool = eventlet.GreenPool(1024)
            threads.append(
                eventlet.spawn(eventlet.wsgi.server, sock, app, custom_pool=pool, **server_kwargs)
            )
    if ready is not None:
        ready()
    while not should_stop():
        eventlet.sleep(0.2)
        if any(thread.dead for thread in threads):
            print("swift-aio: a server thread died, stopping", file=sys.stderr)
            break
    for thread in threads:
        thread.kill()
    for _, _, socks in apps:
        for sock in socks:
            sock.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bookstore.devswift.server")
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--watch-pid", type=int, help="stop when this process exits")
    args = parser.parse_args(argv)
    layout = Layout(args.data_dir.resolve())
    if not layout.conf("proxy").exists():
        print(f"swift-aio: error: no config in {layout.etc}", file=sys.stderr)
        return 2
    try:
        return serve(layout, args.port, args.watch_pid)
    except StartupError as err:
        print(f"swift-aio: error: {err}", file=sys.stderr, flush=True)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
