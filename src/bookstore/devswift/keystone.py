"""A real OpenStack Keystone on 127.0.0.1 for ``bookstore swift-aio start --keystone`` and tests.

    python -m bookstore.devswift.keystone --data-dir DIR --fd FD [--watch-pid PID]

Keystone (PyPI ``keystone``) runs in a process of its own, with SQLite, Fernet tokens
and an in-memory cache, behind a threaded ``wsgiref`` server. The control side binds the
listening socket and hands it over (``--fd``): the URL is known before the server runs
and no other program can take the port meanwhile, so Swift can be configured and
started while Keystone is still importing.

The first start of a data directory does what ``keystone-manage db_sync``,
``fernet_setup``, ``credential_setup`` and ``bootstrap`` would, in the server process
(about 1 s instead of four ~3 s subprocesses): the schema, the key repositories, the
admin user, project and roles, region RegionOne and the identity endpoints. Later
starts reuse all of it.

Everything but ``serve`` is the control side and never imports keystone: ``begin`` /
``start`` / ``stop`` / ``status``, and ``KeystoneAdmin``, a few identity API calls made
as the bootstrap admin with keystoneauth1 (users, projects, roles, catalog).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bookstore.devswift import aio
from bookstore.devswift.config import HOST, SERVICE_PROJECT, SERVICE_USER, pid_exists

_MODULE = "bookstore.devswift.keystone"
DEFAULT_PORT = 5000
ADMIN_USER = ADMIN_PROJECT = "admin"
DEMO_USER = DEMO_PROJECT = "demo"
DEFAULT_DOMAIN = "default"
FIRST_REGION = "RegionOne"
TOKEN_LIFETIME = 3600  # seconds; Keystone's default


class KeystoneError(aio.SwiftAIOError):
    """Keystone could not be started or set up; the message says why."""


@dataclass(frozen=True)
class KeystoneLayout:
    """Where Keystone keeps its state, under the swift-aio data directory."""

    root: Path

    @classmethod
    def of(cls, data_dir: Path | str) -> KeystoneLayout:
        return cls(Path(data_dir).resolve() / "keystone")

    @property
    def conf(self) -> Path:
        return self.root / "keystone.conf"

    @property
    def database(self) -> Path:
        return self.root / "keystone.db"

    @property
    def fernet_keys(self) -> Path:
        return self.root / "fernet-keys"

    @property
    def credential_keys(self) -> Path:
        return self.root / "credential-keys"

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.json"

    @property
    def bootstrapped(self) -> Path:
        return self.root / "bootstrapped"

    @property
    def pid_file(self) -> Path:
        return self.root / "keystone.pid"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def log_file(self) -> Path:
        return self.root / "keystone.log"


@dataclass(frozen=True)
class KeystoneInfo:
    """How to reach a running Keystone, and the passwords of the users it was set up with."""

    root: Path
    port: int
    pid: int | None
    admin_password: str = field(repr=False)
    service_password: str = field(repr=False)
    demo_password: str = field(repr=False)
    host: str = HOST

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def auth_url(self) -> str:
        """The identity v3 endpoint, e.g. http://127.0.0.1:5000/v3."""
        return f"{self.url}/v3"

    def admin(self, timeout: float = 10.0) -> KeystoneAdmin:
        return KeystoneAdmin(self.auth_url, self.admin_password, timeout=timeout)


# --- settings and config files ---------------------------------------------------------


def load_settings(layout: KeystoneLayout) -> dict:
    """Passwords (and the last port), made once per data directory and kept (0600)."""
    try:
        settings = json.loads(layout.settings_file.read_text())
    except (FileNotFoundError, ValueError):
        settings = {}
    changed = False
    for name in ("admin_password", "service_password", "demo_password"):
        if name not in settings:
            settings[name] = secrets.token_urlsafe(18)
            changed = True
    if changed:
        save_settings(layout, settings)
    return settings


def save_settings(layout: KeystoneLayout, settings: dict) -> None:
    layout.root.mkdir(parents=True, exist_ok=True)
    _write(layout.settings_file, json.dumps(settings, indent=2) + "\n", private=True)


def _write(path: Path, text: str, *, private: bool = False) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    if private:
        tmp.chmod(0o600)
    os.replace(tmp, path)


def _key_repository(path: Path) -> None:
    """What ``keystone-manage fernet_setup`` makes: a staged key (0) and a primary (1)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    for name in ("0", "1"):
        key = path / name
        if not key.exists():
            _write(key, base64.urlsafe_b64encode(os.urandom(32)).decode(), private=True)


def write_config(layout: KeystoneLayout) -> None:
    layout.root.mkdir(parents=True, exist_ok=True)
    _key_repository(layout.fernet_keys)
    _key_repository(layout.credential_keys)
    _write(
        layout.conf,
        f"""\
[DEFAULT]
debug = false
use_stderr = true

[database]
connection = sqlite:///{layout.database}

[token]
provider = fernet
expiration = {TOKEN_LIFETIME}

[fernet_tokens]
key_repository = {layout.fernet_keys}

[fernet_receipts]
key_repository = {layout.fernet_keys}

[credential]
key_repository = {layout.credential_keys}

[cache]
# Tokens validate in ~15 ms instead of ~100 ms.
enabled = true
backend = dogpile.cache.memory

[identity]
# bcrypt's minimum: a password check takes ~2 ms instead of ~250 ms. Dev only.
password_hash_rounds = 4
""",
        private=True,
    )


# --- control side: start, stop, status ---------------------------------------------------


def status(data_dir: Path | str) -> KeystoneInfo | None:
    """The running Keystone of this data directory, or None (not running or not ready)."""
    layout = KeystoneLayout.of(data_dir)
    pid = aio._read_pid(layout)  # same file names as Swift's Layout
    if pid is None or not aio._is_our_server(pid, _MODULE):
        return None
    state = aio._read_state(layout)
    if state is None or state.get("pid") != pid:
        return None
    return _info(layout, int(state["port"]), pid)


def _info(layout: KeystoneLayout, port: int, pid: int | None) -> KeystoneInfo:
    settings = load_settings(layout)
    return KeystoneInfo(
        root=layout.root,
        port=port,
        pid=pid,
        admin_password=settings["admin_password"],
        service_password=settings["service_password"],
        demo_password=settings["demo_password"],
    )


@dataclass
class Starting:
    """A Keystone process that was started and may not answer yet; its URL is known."""

    layout: KeystoneLayout
    proc: subprocess.Popen
    info: KeystoneInfo
    log_offset: int

    @property
    def auth_url(self) -> str:
        return self.info.auth_url

    def wait(self, timeout: float = 60.0) -> KeystoneInfo:
        """Return once Keystone answers its version document; raise if it does not."""
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                aio._children.pop(self.proc.pid, None)
                raise KeystoneError(
                    f"Keystone exited with code {code} while starting; log "
                    f"({self.layout.log_file}):\n{aio._log_tail(self.layout, self.log_offset, 20)}"
                )
            state = aio._read_state(self.layout)
            if state is not None and state.get("pid") == self.proc.pid:
                try:
                    _probe(self.info.auth_url)
                    return self.info
                except OSError as err:
                    last_error = str(err)
            time.sleep(0.05)
        raise KeystoneError(
            f"Keystone did not become ready within {timeout:.0f}s ({last_error}); log "
            f"({self.layout.log_file}):\n{aio._log_tail(self.layout, self.log_offset, 20)}"
        )


def begin(
    data_dir: Path | str, port: int | None = None, *, stop_with_parent: bool = False
) -> KeystoneInfo | Starting:
    """Start Keystone unless it runs; don't wait for it (see ``Starting.wait``).

    ``port=None`` reuses the data directory's last port (5000 at first); 0 picks a free one.
    """
    layout = KeystoneLayout.of(data_dir)
    running = status(data_dir)
    if running is not None:
        return running
    check_installed()
    settings = load_settings(layout)
    if port is None:
        port = int(settings.get("port", DEFAULT_PORT))
    sock = _bind(port)
    try:
        actual = sock.getsockname()[1]
        if port and settings.get("port") != port:
            settings["port"] = port
            save_settings(layout, settings)
        write_config(layout)
        offset = layout.log_file.stat().st_size if layout.log_file.exists() else 0
        cmd = [sys.executable, "-m", _MODULE, "--data-dir", str(layout.root)]
        cmd += ["--fd", str(sock.fileno())]
        if stop_with_parent:
            cmd += ["--watch-pid", str(os.getpid())]
        with open(layout.log_file, "ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(sock.fileno(),),
                env=aio._server_env(),
            )
    finally:
        sock.close()  # the child has its own copy
    aio._children[proc.pid] = proc
    layout.pid_file.write_text(f"{proc.pid}\n")
    return Starting(layout, proc, _info(layout, actual, proc.pid), offset)


def start(
    data_dir: Path | str,
    port: int | None = None,
    *,
    timeout: float = 60.0,
    stop_with_parent: bool = False,
) -> tuple[KeystoneInfo, bool]:
    """Start Keystone and wait for it; ``(info, started)`` like ``aio.start``."""
    pending = begin(data_dir, port, stop_with_parent=stop_with_parent)
    if isinstance(pending, KeystoneInfo):
        return pending, False
    try:
        return pending.wait(timeout), True
    except BaseException:
        stop(data_dir)
        raise


def stop(data_dir: Path | str, *, timeout: float = 10.0) -> bool:
    """Stop Keystone (SIGTERM, then SIGKILL); False if it was not running."""
    layout = KeystoneLayout.of(data_dir)
    pid = aio._read_pid(layout)
    running = pid is not None and aio._is_our_server(pid, _MODULE)
    if running:
        assert pid is not None
        aio._terminate(pid, timeout, _MODULE)
        if aio._is_our_server(pid, _MODULE):
            raise KeystoneError(f"could not stop Keystone (pid {pid})")
    layout.pid_file.unlink(missing_ok=True)
    layout.state_file.unlink(missing_ok=True)
    return running


def check_installed() -> None:
    import importlib.util

    missing = [m for m in ("keystone", "keystonemiddleware") if importlib.util.find_spec(m) is None]
    if missing:
        raise KeystoneError(
            f"{' and '.join(missing)} not installed in this Python environment "
            f"({sys.executable}); install with: pip install 'bookstore[keystone-aio]'"
        )


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as err:
        sock.close()
        raise KeystoneError(
            f"cannot listen on {HOST}:{port} for Keystone ({err.strerror}); "
            "is another Keystone running? (--port 0 picks free ports)"
        ) from None
    sock.listen(128)  # connections wait in the backlog until the server accepts them
    sock.set_inheritable(True)
    return sock


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _probe(auth_url: str) -> None:
    try:
        with _opener.open(auth_url, timeout=5.0) as resp:
            resp.read()
    except urllib.error.HTTPError as err:
        raise OSError(f"{auth_url} answered {err.code}") from None


# --- control side: the identity API, as admin ------------------------------------------


class KeystoneAdmin:
    """Idempotent set-up calls to Keystone's v3 API as the bootstrap admin."""

    def __init__(self, auth_url: str, password: str, *, timeout: float = 10.0) -> None:
        from keystoneauth1 import session
        from keystoneauth1.identity import v3

        self.auth_url = auth_url.rstrip("/")
        plugin = v3.Password(
            auth_url=self.auth_url,
            username=ADMIN_USER,
            password=password,
            project_name=ADMIN_PROJECT,
            user_domain_id=DEFAULT_DOMAIN,
            project_domain_id=DEFAULT_DOMAIN,
        )
        self.session = session.Session(auth=plugin, timeout=timeout)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.session.request(f"{self.auth_url}{path}", method, **kwargs)
        return resp.json() if resp.content else None

    def _find(self, collection: str, **filters: str) -> dict | None:
        items = self._call("GET", f"/{collection}", params=filters)[collection]
        return items[0] if items else None

    def _ensure(self, collection: str, body: dict, **filters: str) -> str:
        found = self._find(collection, **filters)
        if found is not None:
            return found["id"]
        singular = collection[:-1]
        return self._call("POST", f"/{collection}", json={singular: body})[singular]["id"]

    def ensure_domain(self, name: str) -> str:
        if name == DEFAULT_DOMAIN:
            return DEFAULT_DOMAIN
        return self._ensure("domains", {"name": name}, name=name)

    def ensure_project(self, name: str, domain_id: str = DEFAULT_DOMAIN) -> str:
        body = {"name": name, "domain_id": domain_id}
        return self._ensure("projects", body, name=name, domain_id=domain_id)

    def ensure_role(self, name: str) -> str:
        return self._ensure("roles", {"name": name}, name=name)

    def ensure_user(
        self,
        name: str,
        password: str,
        *,
        domain_id: str = DEFAULT_DOMAIN,
        project_id: str | None = None,
    ) -> str:
        """The user, with this password (reset if it differs) and default project."""
        body: dict[str, Any] = {"name": name, "domain_id": domain_id, "password": password}
        if project_id:
            body["default_project_id"] = project_id
        found = self._find("users", name=name, domain_id=domain_id)
        if found is None:
            return self._call("POST", "/users", json={"user": body})["user"]["id"]
        self._call("PATCH", f"/users/{found['id']}", json={"user": body})
        return found["id"]

    def grant(self, user_id: str, project_id: str, role: str = "member") -> None:
        role_id = self.ensure_role(role)
        self._call("PUT", f"/projects/{project_id}/users/{user_id}/roles/{role_id}")

    def ensure_region(self, region: str) -> None:
        resp = self.session.get(f"{self.auth_url}/regions/{region}", raise_exc=False)
        if resp.status_code == 404:
            self._call("POST", "/regions", json={"region": {"id": region}})

    def ensure_endpoint(self, service_id: str, region: str, interface: str, url: str) -> str:
        self.ensure_region(region)
        found = self._find(
            "endpoints", service_id=service_id, interface=interface, region_id=region
        )
        if found is None:
            body = {
                "service_id": service_id,
                "interface": interface,
                "region_id": region,
                "url": url,
            }
            return self._call("POST", "/endpoints", json={"endpoint": body})["endpoint"]["id"]
        if found["url"] != url:
            self._call("PATCH", f"/endpoints/{found['id']}", json={"endpoint": {"url": url}})
        return found["id"]

    def register_swift(self, endpoints: dict[str, str], service_password: str) -> None:
        """The object-store service, one endpoint per "Region/interface" -> proxy base URL,
        and the service user the proxy validates tokens as. Also points the identity
        endpoints at this Keystone (its port may have changed since the bootstrap)."""
        identity = self._find("services", type="identity")
        if identity is not None:
            for interface in ("public", "internal"):
                self.ensure_endpoint(identity["id"], FIRST_REGION, interface, self.auth_url)
        swift = self._ensure(
            "services", {"type": "object-store", "name": "swift"}, type="object-store"
        )
        for name, base in endpoints.items():
            region, interface = name.split("/")
            self.ensure_endpoint(swift, region, interface, f"{base}/v1/AUTH_$(project_id)s")
        project = self.ensure_project(SERVICE_PROJECT)
        user = self.ensure_user(SERVICE_USER, service_password, project_id=project)
        self.grant(user, project, "service")  # may validate tokens (keystone's policy)
        self.grant(user, project, "admin")  # older keystones: admin only

    def ensure_member(
        self, user: str, password: str, project: str, domain: str = DEFAULT_DOMAIN
    ) -> tuple[str, str]:
        """A user owning a project's Swift account; returns (user_id, project_id)."""
        domain_id = self.ensure_domain(domain)
        project_id = self.ensure_project(project, domain_id)
        user_id = self.ensure_user(user, password, domain_id=domain_id, project_id=project_id)
        self.grant(user_id, project_id, "member")
        return user_id, project_id

    def revoke(self, token: str) -> None:
        """Revoke a token: Keystone (and Swift, which asks Keystone) refuse it from now on."""
        self._call("DELETE", "/auth/tokens", headers={"X-Subject-Token": token})


# --- server side ---------------------------------------------------------------------------


def serve(layout: KeystoneLayout, sock: socket.socket, watch_pid: int | None = None) -> int:
    """Set Keystone up if needed, then answer on ``sock`` until SIGTERM."""
    started = time.monotonic()
    pid = os.getpid()
    port = sock.getsockname()[1]
    warnings.simplefilter("ignore")  # oslo/keystone deprecations: not ours to fix
    # jsonschema compiles rfc3987_syntax's grammar at import (~2 s); Keystone's schemas
    # don't need IRI checks, so keep it out.
    sys.modules.setdefault("rfc3987_syntax", None)
    sys.argv = sys.argv[:1]  # oslo.config parses sys.argv
    os.environ["OS_KEYSTONE_CONFIG_FILES"] = str(layout.conf)

    from keystone.server.flask import core

    def setup_once() -> None:  # config is loaded, backends are not (yet)
        if layout.bootstrapped.exists():
            return
        _bootstrap(layout, f"http://{HOST}:{port}/v3")
        layout.bootstrapped.write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))

    app = core.initialize_application(
        "public", post_log_configured_function=setup_once, config_files=[str(layout.conf)]
    )
    server = _wsgi_server(sock, app)
    thread = threading.Thread(target=server.serve_forever, name="keystone-wsgi", daemon=True)
    thread.start()

    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda s, f: stopping.append(s))
    _write(layout.state_file, json.dumps({"pid": pid, "port": port, "started": time.time()}))
    print(
        f"keystone: ready on http://{HOST}:{port}/v3 (pid {pid}) in "
        f"{time.monotonic() - started:.2f}s",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not stopping and thread.is_alive():
            time.sleep(0.2)
            if watch_pid is not None and not pid_exists(watch_pid):
                print(f"keystone: process {watch_pid} is gone, stopping", file=sys.stderr)
                break
    finally:
        server.shutdown()
        server.server_close()
        for path in (layout.state_file, layout.pid_file):
            if aio._read_pid(layout) == pid:  # not a newer server's files
                path.unlink(missing_ok=True)
    print("keystone: stopped", file=sys.stderr, flush=True)
    return 0


def _bootstrap(layout: KeystoneLayout, identity_url: str) -> None:
    """keystone-manage db_sync + bootstrap, in this process (the config is loaded)."""
    from keystone.cmd.bootstrap import Bootstrapper
    from keystone.common import provider_api
    from keystone.common.sql import upgrades

    began = time.monotonic()
    upgrades.offline_sync_database_to_version()
    boot = Bootstrapper()  # loads the backends
    boot.admin_username, boot.admin_password = ADMIN_USER, load_settings(layout)["admin_password"]
    boot.project_name = ADMIN_PROJECT
    boot.admin_role_name = "admin"
    boot.service_name = "keystone"
    boot.region_id = FIRST_REGION
    boot.public_url = boot.internal_url = identity_url
    boot.immutable_roles = True
    boot.bootstrap()
    # initialize_application loads the backends again, into an empty registry.
    provider_api.ProviderAPIs._clear_registry_instances()
    print(f"keystone: bootstrapped in {time.monotonic() - began:.2f}s", file=sys.stderr)


def _wsgi_server(sock: socket.socket, app: Any) -> Any:
    import socketserver
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

    class Handler(WSGIRequestHandler):
        def address_string(self) -> str:  # no reverse DNS lookups
            return self.client_address[0]

    class Server(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    server = Server(sock.getsockname()[:2], Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.server_name, server.server_port = HOST, sock.getsockname()[1]
    server.setup_environ()
    server.set_app(app)
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {_MODULE}")
    parser.add_argument("--data-dir", required=True, type=Path, help="the keystone/ directory")
    parser.add_argument("--fd", type=int, required=True, help="a listening socket to serve")
    parser.add_argument("--watch-pid", type=int, help="stop when this process exits")
    args = parser.parse_args(argv)
    layout = KeystoneLayout(args.data_dir.resolve())
    if not layout.conf.exists():
        print(f"keystone: error: no config in {layout.root}", file=sys.stderr)
        return 2
    sock = socket.socket(fileno=args.fd)
    pid = os.getpid()
    layout.pid_file.write_text(f"{pid}\n")
    with contextlib.suppress(KeyboardInterrupt):
        return serve(layout, sock, args.watch_pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
