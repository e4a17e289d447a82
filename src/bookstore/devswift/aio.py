"""Start, stop and inspect a single-node Swift ("all in one") in a data directory.

The server runs as ``python -m bookstore.devswift.server`` in its own session,
so neither eventlet nor Swift is ever imported into the calling process (a CLI,
pytest, Jupyter). Its pid file, state file (ports, once ready) and log live in
the data directory, which is all the state there is.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bookstore.devswift.config import (
    ACCOUNT,
    DEFAULT_PORT,
    HOST,
    KEY,
    KEYSTONE_LISTENERS,
    REGION,
    USER,
    KeystoneProxy,
    Layout,
    load_settings,
    pid_exists,
    save_settings,
    write_configs,
)

ENV_DATA_DIR = "BOOKSTORE_SWIFT_AIO_DIR"
_SERVER_MODULE = "bookstore.devswift.server"
_MAX_LOG_BYTES = 50 * 1024 * 1024

# Servers started by this process: kept to reap them (a dead child stays a
# zombie, and looks alive, until its parent waits for it).
_children: dict[int, subprocess.Popen] = {}


class SwiftAIOError(Exception):
    """swift-aio could not do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class AIOInfo:
    """How to reach a running swift-aio: Swift v1.0 (tempauth) and S3 credentials, and,
    when started with Keystone, its v3 URL, a demo user and the proxies it lists."""

    data_dir: Path
    port: int
    pid: int | None = None
    host: str = HOST
    auth_url: str = field(init=False)
    storage_url: str = field(init=False)
    user: str = f"{ACCOUNT}:{USER}"
    key: str = KEY
    s3_endpoint: str = field(init=False)
    s3_access_key: str = field(init=False)
    s3_secret_key: str = field(init=False)
    region: str = REGION
    #: "RegionOne/public" -> port of the Keystone-enabled proxy listed under that name.
    keystone_ports: dict[str, int] = field(default_factory=dict, hash=False)
    keystone_url: str | None = None  # e.g. http://127.0.0.1:5000/v3
    keystone_user: str = "demo"  # owner of project "demo", domain "default"
    keystone_project: str = "demo"
    keystone_password: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        base = f"http://{self.host}:{self.port}"
        object.__setattr__(self, "auth_url", f"{base}/auth/v1.0")
        object.__setattr__(self, "storage_url", f"{base}/v1/AUTH_{ACCOUNT}")
        object.__setattr__(self, "s3_endpoint", base)
        # s3api with tempauth: the access key is the Swift user, the secret its key.
        object.__setattr__(self, "s3_access_key", self.user)
        object.__setattr__(self, "s3_secret_key", self.key)

    @property
    def url(self) -> str:
        return self.s3_endpoint

    def keystone_endpoint(self, region: str = "RegionOne", interface: str = "public") -> str:
        """Base URL of the Keystone-enabled proxy the catalog lists for region/interface."""
        return f"http://{self.host}:{self.keystone_ports[f'{region}/{interface}']}"

    def env(self) -> dict[str, str]:
        """Variables for the ``swift`` CLI / python-swiftclient and for S3 clients; with
        Keystone, also the ``OS_*`` ones of its demo user (openstack CLI, Bookstore)."""
        env = {
            "ST_AUTH": self.auth_url,
            "ST_USER": self.user,
            "ST_KEY": self.key,
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "AWS_ACCESS_KEY_ID": self.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3_secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }
        if self.keystone_url:
            env.update(
                OS_AUTH_URL=self.keystone_url,
                OS_IDENTITY_API_VERSION="3",
                OS_USERNAME=self.keystone_user,
                OS_PASSWORD=self.keystone_password,
                OS_PROJECT_NAME=self.keystone_project,
                OS_USER_DOMAIN_ID="default",
                OS_PROJECT_DOMAIN_ID="default",
                OS_REGION_NAME="RegionOne",
            )
        return env


def default_data_dir() -> Path:
    """``$BOOKSTORE_SWIFT_AIO_DIR``, else ``./.swift-aio``."""
    return Path(os.environ.get(ENV_DATA_DIR) or ".swift-aio")


def env_lines(info: AIOInfo) -> list[str]:
    """Shell lines: ``eval "$(bookstore swift-aio env)"``."""
    return [f"export {name}={value}" for name, value in info.env().items()]


# --- inspecting ---------------------------------------------------------------


def _read_pid(layout: Layout) -> int | None:
    try:
        return int(layout.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _read_state(layout: Layout) -> dict | None:
    try:
        return json.loads(layout.state_file.read_text())
    except (OSError, ValueError):
        return None


def _reap(pid: int) -> None:
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]


def _is_our_server(pid: int, module: str = _SERVER_MODULE) -> bool:
    """True if ``pid`` is alive (not a zombie) and runs ``python -m module``."""
    _reap(pid)
    proc = Path(f"/proc/{pid}")
    if proc.parent.is_dir():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            return False
        state = stat.rsplit(")", 1)[1].split()[0]
        # A recycled pid belongs to some other program: never signal it.
        return state not in ("Z", "X") and module.encode() in cmdline
    return pid_exists(pid)  # no /proc (macOS): trust the pid file


def status(data_dir: Path | str | None = None) -> AIOInfo | None:
    """The running server's info, or None if it is not running (or not ready yet)."""
    layout = Layout(Path(data_dir or default_data_dir()).resolve())
    pid = _read_pid(layout)
    if pid is None or not _is_our_server(pid):
        return None
    state = _read_state(layout)
    if state is None or state.get("pid") != pid:
        return None
    return _with_keystone(AIOInfo(data_dir=layout.root, port=int(state["port"]), pid=pid), state)


def _with_keystone(info: AIOInfo, state: dict) -> AIOInfo:
    """``info`` plus Keystone's URL and demo user, if this server has Keystone proxies."""
    ports = state.get("keystone_ports")
    if not ports:
        return info
    from bookstore.devswift import keystone

    ks = keystone.status(info.data_dir)
    return replace(
        info,
        keystone_ports={name: int(port) for name, port in ports.items()},
        keystone_url=ks.auth_url if ks else None,
        keystone_password=ks.demo_password if ks else "",
    )


def configured_info(data_dir: Path | str | None = None) -> AIOInfo:
    """Info for the running server, else for the port the next ``start`` will use."""
    info = status(data_dir)
    if info is not None:
        return info
    layout = Layout(Path(data_dir or default_data_dir()).resolve())
    port = _saved_port(layout)
    return AIOInfo(data_dir=layout.root, port=port or DEFAULT_PORT)


def _saved_port(layout: Layout) -> int | None:
    try:
        return int(json.loads(layout.settings_file.read_text())["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- checks -------------------------------------------------------------------


def check_swift_installed() -> None:
    if importlib.util.find_spec("swift") is None:
        raise SwiftAIOError(
            "OpenStack Swift is not installed in this Python environment "
            f"({sys.executable}); install it with: pip install 'bookstore[swift-aio]'"
        )


def check_xattrs(directory: Path) -> None:
    """Swift keeps object metadata in user xattrs; fail early where there are none."""
    directory.mkdir(parents=True, exist_ok=True)
    probe = directory / f".xattr-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        os.setxattr(probe, "user.swift.probe", b"1")
    except (OSError, AttributeError) as err:  # AttributeError: no os.setxattr (macOS)
        raise SwiftAIOError(
            f"the data directory {directory} does not support user extended attributes "
            f"({err}), which Swift needs to store object metadata. Use a directory on a "
            "filesystem that does (ext4, xfs, btrfs, tmpfs on Linux >= 6.6), e.g. "
            f"--data-dir /var/tmp/swift-aio or ${ENV_DATA_DIR}."
        ) from None
    finally:
        probe.unlink(missing_ok=True)


def check_port_free(port: int, host: str = HOST) -> None:
    """Swift binds with SO_REUSEPORT, so a clash would otherwise go unnoticed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR (not REUSEPORT) ignores TIME_WAIT leftovers but still
        # conflicts with any listener, including one that set SO_REUSEPORT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise SwiftAIOError(
                    f"port {port} on {host} is already in use; choose another one "
                    "with --port (--port 0 picks a free one)"
                ) from None
            raise SwiftAIOError(f"cannot bind {host}:{port}: {err}") from None


# --- starting -----------------------------------------------------------------


def prepare(
    data_dir: Path | str | None = None,
    port: int | None = None,
    keystone: KeystoneProxy | None = None,
) -> tuple[Layout, int]:
    """Check everything that can be checked and write the configs; returns the port to use.

    With ``keystone``, the server will also run the proxy validating Keystone tokens.
    """
    layout = Layout(Path(data_dir or default_data_dir()).resolve())
    check_swift_installed()
    check_xattrs(layout.root)
    settings = load_settings(layout)
    if port is None:
        port = int(settings.get("port", DEFAULT_PORT))
    if not 0 <= port <= 65535:
        raise SwiftAIOError(f"invalid port {port}")
    if settings.get("port") != port:
        settings["port"] = port
        save_settings(layout, settings)
    if port:
        check_port_free(port)
    write_configs(layout, settings, keystone)
    return layout, port


def server_command(layout: Layout, port: int, watch_pid: int | None = None) -> list[str]:
    cmd = [sys.executable, "-m", _SERVER_MODULE, "--data-dir", str(layout.root)]
    cmd += ["--port", str(port)]
    if watch_pid is not None:
        cmd += ["--watch-pid", str(watch_pid)]
    return cmd


def _server_env() -> dict[str, str]:
    # The server must import this very copy of bookstore, even when it is not
    # installed and only on sys.path (e.g. via pytest's `pythonpath`).
    package_root = str(Path(__file__).resolve().parents[2])
    path = [package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path), "PYTHONUNBUFFERED": "1"}


def start(
    data_dir: Path | str | None = None,
    port: int | None = None,
    *,
    timeout: float = 60.0,
    stop_with_parent: bool = False,
    keystone: bool = False,
) -> tuple[AIOInfo, bool]:
    """Start the server in the background unless it already runs.

    Returns ``(info, started)``; ``started`` is False if it was already running.
    Returns only once an authenticated request has succeeded. ``port=None``
    reuses the data directory's last port (8080 at first); ``port=0`` picks a
    free one. ``stop_with_parent`` makes the server exit when this process does.

    ``keystone``: also a real Keystone (``bookstore.devswift.keystone``; port 5000, or a
    free one with ``port=0``) and a proxy validating its tokens, listed in its catalog
    as object-store endpoints of RegionOne and RegionTwo, public and internal. Swift
    starts while Keystone does; this returns once a Keystone user could use Swift.
    """
    layout = Layout(Path(data_dir or default_data_dir()).resolve())
    running = status(layout.root)
    if running is not None and keystone and running.keystone_url is None:
        raise SwiftAIOError(
            f"already running without Keystone at {running.url} (pid {running.pid}); stop it first"
        )
    if running is not None:
        return running, False
    pid = _read_pid(layout)
    if pid is not None and _is_our_server(pid):  # started, not ready yet
        deadline = time.monotonic() + timeout
        while running is None and _is_our_server(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
            running = status(layout.root)
        if running is not None:
            return running, False
    if not keystone:
        layout, port = prepare(layout.root, port)
        return _start_swift(layout, port, timeout, stop_with_parent), True

    from bookstore.devswift import keystone as ks

    started = time.monotonic()
    pending = ks.begin(layout.root, 0 if port == 0 else None, stop_with_parent=stop_with_parent)
    try:
        known = pending if isinstance(pending, ks.KeystoneInfo) else pending.info
        proxy = KeystoneProxy(known.auth_url, known.service_password)
        layout, port = prepare(layout.root, port, proxy)
        info = _start_swift(layout, port, timeout, stop_with_parent)
        try:
            ks_info = pending if isinstance(pending, ks.KeystoneInfo) else pending.wait(timeout)
            admin = ks_info.admin()
            admin.register_swift(
                {name: info.keystone_endpoint(*name.split("/")) for name in KEYSTONE_LISTENERS},
                ks_info.service_password,
            )
            admin.ensure_member(info.keystone_user, ks_info.demo_password, info.keystone_project)
            info = replace(
                info, keystone_url=ks_info.auth_url, keystone_password=ks_info.demo_password
            )
            _check_keystone(info, max(5.0, timeout - (time.monotonic() - started)))
        except BaseException:
            stop(layout.root)
            raise
    except BaseException:
        ks.stop(layout.root)
        raise
    return info, True


def _start_swift(layout: Layout, port: int, timeout: float, stop_with_parent: bool) -> AIOInfo:
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if layout.log_file.stat().st_size > _MAX_LOG_BYTES:
            layout.log_file.replace(layout.log_file.with_suffix(".log.old"))
    log_offset = layout.log_file.stat().st_size if layout.log_file.exists() else 0
    with open(layout.log_file, "ab") as log:
        proc = subprocess.Popen(
            server_command(layout, port, os.getpid() if stop_with_parent else None),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the calling terminal must not stop it
            env=_server_env(),
        )
    _children[proc.pid] = proc
    layout.pid_file.write_text(f"{proc.pid}\n")
    try:
        info = _wait_ready(layout, proc, timeout, log_offset)
    except BaseException:
        _terminate(proc.pid, 5.0)
        raise
    return info


def _log_tail(layout: Any, offset: int, lines: int = 15) -> str:
    """The last ``lines`` of ``layout.log_file`` written after ``offset``."""
    try:
        with open(layout.log_file, "rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _wait_ready(layout: Layout, proc: subprocess.Popen, timeout: float, log_offset: int) -> AIOInfo:
    deadline = time.monotonic() + timeout
    info: AIOInfo | None = None
    last_error = "server did not report ready"
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            _children.pop(proc.pid, None)
            tail = _log_tail(layout, log_offset)
            errors = [line for line in tail.splitlines() if line.startswith("swift-aio: error:")]
            if errors:
                raise SwiftAIOError(errors[-1].removeprefix("swift-aio: error: "))
            raise SwiftAIOError(
                f"Swift exited with code {code} while starting; log ({layout.log_file}):\n{tail}"
            )
        if info is None:
            state = _read_state(layout)
            if state is not None and state.get("pid") == proc.pid:
                info = AIOInfo(data_dir=layout.root, port=int(state["port"]), pid=proc.pid)
                ports = state.get("keystone_ports") or {}
                info = replace(info, keystone_ports={n: int(p) for n, p in ports.items()})
        if info is not None:
            try:
                check_authenticated(info)
                return info
            except (OSError, SwiftAIOError) as err:
                last_error = str(err)
        time.sleep(0.05)
    raise SwiftAIOError(
        f"Swift did not become ready within {timeout:.0f}s ({last_error}); "
        f"log ({layout.log_file}):\n{_log_tail(layout, log_offset)}"
    )


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via HTTP_PROXY


def check_authenticated(info: AIOInfo, timeout: float = 5.0) -> None:
    """Get a token, then HEAD the account with it; raises if either fails."""
    req = urllib.request.Request(
        info.auth_url, headers={"X-Auth-User": info.user, "X-Auth-Key": info.key}
    )
    try:
        with _opener.open(req, timeout=timeout) as resp:
            token = resp.headers["X-Auth-Token"]
            storage_url = resp.headers["X-Storage-Url"]
        head = urllib.request.Request(storage_url, method="HEAD", headers={"X-Auth-Token": token})
        with _opener.open(head, timeout=timeout) as resp:
            resp.read()
    except urllib.error.HTTPError as err:
        raise SwiftAIOError(f"{err.url} answered {err.code} {err.reason}") from None


def _check_keystone(info: AIOInfo, timeout: float) -> None:
    """A Keystone token of the demo user opens its account through every listed proxy."""
    from keystoneauth1 import exceptions as ksa
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    plugin = v3.Password(
        auth_url=info.keystone_url,
        username=info.keystone_user,
        password=info.keystone_password,
        project_name=info.keystone_project,
        user_domain_id="default",
        project_domain_id="default",
    )
    sess = session.Session(auth=plugin, timeout=5.0)
    deadline = time.monotonic() + timeout
    while True:
        try:
            access = plugin.get_access(sess)
            for name in KEYSTONE_LISTENERS:
                region, interface = name.split("/")
                url = access.service_catalog.url_for(
                    service_type="object-store", region_name=region, interface=interface
                )
                sess.head(url, authenticated=True)
            return
        except (ksa.ClientException, OSError) as err:
            if time.monotonic() > deadline:
                raise SwiftAIOError(f"Keystone users cannot use Swift: {err}") from None
            time.sleep(0.1)


# --- stopping -----------------------------------------------------------------


def _terminate(pid: int, timeout: float, module: str = _SERVER_MODULE) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        if not _is_our_server(pid, module):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        child = _children.get(pid)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(wait)
            _reap(pid)
            continue
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _is_our_server(pid, module):
            time.sleep(0.05)


def stop(data_dir: Path | str | None = None, *, timeout: float = 10.0) -> bool:
    """Stop the server; returns False if it was not running."""
    layout = Layout(Path(data_dir or default_data_dir()).resolve())
    pid = _read_pid(layout)
    was_running = pid is not None and _is_our_server(pid)
    if was_running:
        assert pid is not None
        _terminate(pid, timeout)
        if _is_our_server(pid):
            raise SwiftAIOError(f"could not stop the Swift server (pid {pid})")
    layout.pid_file.unlink(missing_ok=True)
    layout.state_file.unlink(missing_ok=True)
    if (layout.root / "keystone" / "keystone.pid").exists():
        from bookstore.devswift import keystone

        keystone.stop(layout.root, timeout=timeout)
    return was_running


def run_foreground(data_dir: Path | str | None = None, port: int | None = None) -> None:
    """Replace this process with the server (for ``make run``; Ctrl-C stops it)."""
    layout = Layout(Path(data_dir or default_data_dir()).resolve())
    running = status(layout.root)
    if running is not None:
        raise SwiftAIOError(f"already running at {running.url} (pid {running.pid})")
    layout, port = prepare(layout.root, port)
    cmd = server_command(layout, port)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(cmd[0], cmd, _server_env())
