"""Helpers of the reliability suite: a REST client that never raises, notebooks, raw Swift."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import nbformat
from nbformat.v4 import new_code_cell, new_notebook
from tornado.httpclient import HTTPRequest
from tornado.simple_httpclient import SimpleAsyncHTTPClient

REPO = Path(__file__).resolve().parents[2]


def notebook(source: str, size: int = 0) -> dict[str, Any]:
    """A valid notebook whose one cell holds ``source`` (padded to about ``size`` bytes)."""
    if size:
        source = source + "\n# " + "x" * max(0, size - len(source))
    return json.loads(nbformat.writes(new_notebook(cells=[new_code_cell(source)])))


def source_of(model: dict[str, Any]) -> str:
    """The first cell's source (as one string, however the notebook JSON split it)."""
    source = model["content"]["cells"][0]["source"]
    return "".join(source) if isinstance(source, list) else source


@dataclass
class Response:
    code: int
    body: Any  # parsed JSON, or {"message": text} for a non-JSON answer
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, dict) else ""


class Rest:
    """/api/contents over a real socket, with its own connection pool (max_clients) so that
    many concurrent writers really are concurrent. Never raises on HTTP errors."""

    def __init__(self, base_url: str, headers: dict[str, str], max_clients: int = 64) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.client = SimpleAsyncHTTPClient(force_instance=True, max_clients=max_clients)

    def close(self) -> None:
        self.client.close()

    async def raw(
        self, method: str, url_path: str, body: bytes | str | None = None, seconds: float = 120
    ) -> Response:
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b"{}"
        request = HTTPRequest(
            self.base_url + url_path,
            method=method,
            body=body,
            headers=self.headers,
            request_timeout=seconds,
            connect_timeout=seconds,
        )
        r = await self.client.fetch(request, raise_error=False)
        text = r.body.decode("utf-8", "replace") if r.body else ""
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = {"message": text}
        return Response(r.code, parsed, dict(r.headers))

    async def call(
        self, method: str, path: str = "", body: Any = None, *, quoted: bool = True, **params: Any
    ) -> Response:
        url = "/api/contents/" + (quote(path, safe="/") if quoted else path)
        if params:
            url += "?" + urlencode(params)
        data = None if body is None else json.dumps(body)
        return await self.raw(method, url, data)


# --- raw Swift, around Bookstore -------------------------------------------------------------


def swift_connection(info):
    from swiftclient.client import Connection

    return Connection(authurl=info.auth_url, user=info.user, key=info.key, retries=2)


def container_snapshot(info, container: str) -> dict[str, str]:
    """Every object of ``container`` -> its ETag (an empty dict if the container is absent)."""
    from swiftclient.exceptions import ClientException

    conn = swift_connection(info)
    try:
        _, objects = conn.get_container(container, full_listing=True)
    except ClientException as exc:
        if exc.http_status == 404:
            return {}
        raise
    finally:
        conn.close()
    return {o["name"]: o["hash"] for o in objects}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- a real `jupyter server` subprocess ------------------------------------------------------


@dataclass
class ServerProcess:
    url: str
    token: str
    proc: subprocess.Popen
    log_path: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def jupyter_server_process(
    home: Path,
    config: dict[str, Any],
    *,
    args: list[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 90,
):
    """``python -m jupyter_server`` with ``config`` (written as a JSON config file), an
    isolated JUPYTER_* home, token auth and a free port; stopped on exit."""
    for sub in ("config", "data", "runtime", "root"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    (home / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
    port, token = free_port(), secrets.token_hex(16)
    log_path = home / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={home / 'root'}",
        *args,
    ]
    full_env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        **(env or {}),
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=home, env=full_env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", token, proc, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited:\n{server.log()[-3000:]}")
            try:
                req = urllib.request.Request(f"{server.url}/api/status", headers=server.headers)
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter server did not start:\n{server.log()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def disabled_server_extensions() -> dict[str, bool]:
    """Every installed server extension switched off but bookstore (a lean, quiet server)."""
    import glob

    import jupyter_core.paths

    names: set[str] = set()
    for directory in jupyter_core.paths.jupyter_config_path():
        for path in glob.glob(os.path.join(directory, "jupyter_server_config.d", "*.json")):
            try:
                with open(path) as f:
                    names |= set(json.load(f).get("ServerApp", {}).get("jpserver_extensions", {}))
            except (OSError, ValueError):
                pass
    return {name: name == "bookstore" for name in names} | {"bookstore": True}
