"""A real JupyterHub on loopback: two users, each with their own Swift account.

alice's server uses Bookstore with alice's credentials (tempauth ``test:tester``,
account AUTH_test), bob's with bob's (``test2:tester2``, AUTH_test2); both get
``swift://hub-<id>-{username}``. The Hub runs ``SimpleLocalProcessSpawner``
(every server as this OS user, as in most container spawners: a kernel can read
what its server can), so isolation must come from the credentials, and this
checks that it does: through the Jupyter API alice sees only her notebooks, and
with alice's key the store refuses bob's account outright.

Needs ``configurable-http-proxy``: ``$BOOKSTORE_HUB_PROXY`` (a command), else the
npm package in the repository's ``node_modules/.bin``, else one on ``PATH`` or
beside this Python (PyPI's ``configurable-http-proxy``, a Python reimplementation).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import anyio
import psutil
import pytest
import requests
from traitlets.config import Config

from bookstore import errors
from bookstore.hub import escape_username, expand_store_url
from bookstore.stores.registry import open_store

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
USERS = {
    "alice": {"swift_user": "test:tester", "key": "testing", "account": "AUTH_test"},
    "bob": {"swift_user": "test2:tester2", "key": "testing2", "account": "AUTH_test2"},
}
PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}


def proxy_command() -> list[str] | None:
    if command := os.environ.get("BOOKSTORE_HUB_PROXY"):
        return command.split()
    local = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return [str(local)]
    # PATH, then beside this Python (the PyPI reimplementation installs there)
    found = shutil.which("configurable-http-proxy") or shutil.which(
        "configurable-http-proxy", path=str(Path(sys.executable).parent)
    )
    return [found] if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    def __init__(self, root: Path, swift, proxy: list[str]) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = uuid.uuid4().hex
        self.store_url = f"swift://hub-{uuid.uuid4().hex[:8]}-{{username}}"
        self.credentials = {
            name: {"auth_url": swift.auth_url, "user": u["swift_user"], "key": u["key"]}
            for name, u in USERS.items()
        }
        self.base_storage = swift.storage_url.rsplit("/", 1)[0]  # .../v1
        settings = {
            "root": str(root),
            "config_root": str(root / "user-config"),
            "port": self.port,
            "hub_port": free_port(),
            "proxy_api_port": free_port(),
            "proxy_command": proxy,
            "proxy_token": uuid.uuid4().hex,
            "service_token": self.token,
            "passwords": PASSWORDS,
            "credentials": self.credentials,
            "store_url": self.store_url,
            "singleuser": str(Path(sys.executable).parent / "jupyterhub-singleuser"),
        }
        env = {**os.environ, "BOOKSTORE_HUB_TEST": json.dumps(settings)}
        self.log = open(root / "hub.log", "wb")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(HERE / "hub_config.py")],
            cwd=root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(
            method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kwargs
        )

    def wait(self, check, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"jupyterhub exited: {self.tail()}")
            try:
                if check():
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}: {self.tail()}")

    def tail(self) -> str:
        self.log.flush()
        return (self.root / "hub.log").read_text(errors="replace")[-4000:]

    def with_store(self, name: str, fn, options: dict | None = None):
        """``fn(store)`` on user ``name``'s store, with their credentials (or ``options``)."""
        url = expand_store_url(self.store_url, {"JUPYTERHUB_USER": name})
        config = Config({"SwiftStore": {**self.credentials[name], **(options or {})}})

        async def go():
            store = open_store(url, config=config)
            try:
                return await fn(store)
            finally:
                await store.close()

        return anyio.run(go)

    def stop(self) -> None:
        try:
            for name in USERS:
                self.api("DELETE", f"/users/{name}/server")
        except requests.RequestException:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def hub(swift_aio, tmp_path_factory):
    proxy = proxy_command()
    if proxy is None:
        pytest.skip(
            "JupyterHub needs configurable-http-proxy: `npm install --prefix . "
            "configurable-http-proxy@5` in the repository (or set $BOOKSTORE_HUB_PROXY)"
        )
    hub = Hub(tmp_path_factory.mktemp("hub"), swift_aio, proxy)
    try:
        hub.wait(lambda: hub.api("GET", "/").status_code == 200, "the Hub")
        for name in USERS:
            assert hub.api("POST", f"/users/{name}/server").status_code in (201, 202)

        def ready() -> bool:
            models = [hub.api("GET", f"/users/{n}").json() for n in USERS]
            if any("" not in m["servers"] for m in models):  # a spawn failed
                raise AssertionError(f"a single-user server died: {hub.tail()}")
            return all(m["servers"][""]["ready"] for m in models)

        hub.wait(ready, "both single-user servers", timeout=90)
        yield hub
    finally:
        hub.stop()


def user_token(hub: Hub, name: str) -> dict[str, str]:
    r = hub.api("POST", f"/users/{name}/tokens", json={"note": "test", "expires_in": 600})
    assert r.status_code == 201, r.text
    return {"Authorization": f"token {r.json()['token']}"}


def contents(hub: Hub, server: str, path: str, headers: dict[str, str]) -> requests.Response:
    return requests.get(f"{hub.url}/user/{server}/api/contents/{path}", headers=headers, timeout=30)


NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_each_user_sees_only_their_own_store(hub):
    hub.with_store("alice", lambda s: s.put("alice-notes.ipynb", json.dumps(NOTEBOOK).encode()))
    hub.with_store("bob", lambda s: s.put("bob-secret.ipynb", json.dumps(NOTEBOOK).encode()))
    alice = user_token(hub, "alice")

    listing = contents(hub, "alice", "", alice)
    assert listing.status_code == 200, listing.text
    assert [e["name"] for e in listing.json()["content"]] == ["alice-notes.ipynb"]
    assert contents(hub, "alice", "bob-secret.ipynb", alice).status_code == 404
    # bob's server does not let alice in at all
    assert contents(hub, "bob", "", alice).status_code == 403

    # what alice saves lands in her container, in her account, and not in bob's
    r = requests.put(
        f"{hub.url}/user/alice/api/contents/new.ipynb",
        headers=alice,
        json={"type": "notebook", "content": NOTEBOOK},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    assert hub.with_store("alice", lambda s: s.head("new.ipynb")).size > 0
    with pytest.raises(errors.NotFound):
        hub.with_store("bob", lambda s: s.head("new.ipynb"))


def test_alice_credentials_cannot_reach_bob_account(hub):
    """alice's key, aimed at bob's account and container: Swift says 403, whatever the call."""
    hub.with_store("bob", lambda s: s.put("bob-secret.ipynb", json.dumps(NOTEBOOK).encode()))
    bob_account = f"{hub.base_storage}/{USERS['bob']['account']}"
    trespass = {**hub.credentials["alice"], "storage_url": bob_account, "create_container": False}
    for attempt in (
        lambda s: s.head("bob-secret.ipynb"),
        lambda s: s.get("bob-secret.ipynb"),
        lambda s: s.put("planted.ipynb", b"{}"),
        lambda s: s.delete("bob-secret.ipynb"),
    ):
        with pytest.raises(errors.PermissionDenied):
            hub.with_store("bob", attempt, trespass)
    assert hub.with_store("bob", lambda s: s.head("bob-secret.ipynb")).size > 0


def test_logins_use_each_users_own_password(hub):
    def login(user: str, password: str) -> int:
        s = requests.Session()
        s.get(f"{hub.url}/hub/login", timeout=30)
        r = s.post(
            f"{hub.url}/hub/login",
            data={"username": user, "password": password, "_xsrf": s.cookies.get("_xsrf")},
            allow_redirects=False,
            timeout=30,
        )
        return r.status_code

    assert login("alice", PASSWORDS["alice"]) == 302
    assert login("bob", PASSWORDS["alice"]) == 403


def test_servers_and_kernels_hold_no_store_secret_in_their_environment(hub):
    state = hub.api("GET", "/users/alice").json()["servers"][""]["state"]
    server = psutil.Process(state["pid"])
    env = server.environ()
    assert "ST_KEY" not in env and "testing" not in env.values()
    config_dir = Path(env["JUPYTER_CONFIG_DIR"])
    assert (config_dir / "jupyter_server_config.json").stat().st_mode & 0o077 == 0

    alice = user_token(hub, "alice")
    r = requests.post(f"{hub.url}/user/alice/api/kernels", headers=alice, json={}, timeout=60)
    assert r.status_code == 201, r.text
    try:
        kernels = [
            p for p in server.children(recursive=True) if "ipykernel" in " ".join(p.cmdline())
        ]
        assert kernels, "no kernel process under alice's server"
        kernel_env = kernels[0].environ()
        assert kernel_env["BOOKSTORE_STORE_URL"] == hub.store_url.replace(
            "{username}", escape_username("alice")
        )
        assert "ST_KEY" not in kernel_env
    finally:
        requests.delete(
            f"{hub.url}/user/alice/api/kernels/{r.json()['id']}", headers=alice, timeout=30
        )
