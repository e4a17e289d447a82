"""The processes a benchmark runs against: one real Swift and real ``jupyter server``s.

Every Jupyter server is its own subprocess (its own RSS, its own event loop), on a
free loopback port with token auth, in an isolated JUPYTER_* home, with every
installed server extension switched off except the ones asked for (so two servers
differ only by their contents manager).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from bookstore.devswift import AIOInfo, start, stop

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Swift ----------------------------------------------------------------------------------


@dataclass
class Swift:
    """A swift-aio in a data dir kept across runs (so populated containers are reused)."""

    data_dir: Path
    info: AIOInfo | None = None
    started: bool = False

    def __enter__(self) -> AIOInfo:
        self.info, self.started = start(self.data_dir, 0, stop_with_parent=True)
        return self.info

    def __exit__(self, *exc: object) -> None:
        if self.started:
            stop(self.data_dir)

    def processes(self) -> dict[str, int]:
        """Pids of the proxy and of its storage servers' child (see devswift.server)."""
        assert self.info is not None and self.info.pid is not None
        proxy = psutil.Process(self.info.pid)
        pids = {"swift-proxy": proxy.pid}
        for child in proxy.children():
            pids["swift-storage"] = child.pid
        return pids

    def connection(self):  # a raw swiftclient Connection (the bench's own, never Bookstore's)
        from swiftclient.client import Connection

        assert self.info is not None
        return Connection(
            authurl=self.info.auth_url, user=self.info.user, key=self.info.key, retries=3
        )


# --- Jupyter servers --------------------------------------------------------------------------


def installed_server_extensions() -> set[str]:
    """Every server extension enabled by a jupyter_server_config.d file on this machine."""
    import jupyter_core.paths

    names: set[str] = set()
    for directory in jupyter_core.paths.jupyter_config_path():
        for path in glob.glob(os.path.join(directory, "jupyter_server_config.d", "*.json")):
            with contextlib.suppress(OSError, ValueError):
                with open(path) as f:
                    names |= set(json.load(f).get("ServerApp", {}).get("jpserver_extensions", {}))
    return names


@dataclass
class JupyterServer:
    """``python -m jupyter_server`` with a contents manager configured by ``config``."""

    name: str
    config: dict[str, Any]
    extensions: dict[str, bool] = field(default_factory=dict)
    log_level: str = "WARN"
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    proc: subprocess.Popen | None = None
    home: Path | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 120.0) -> JupyterServer:
        self.home = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))
        for sub in ("config", "data", "runtime", "root"):
            (self.home / sub).mkdir()
        self.port = free_port()
        extensions = {name: False for name in installed_server_extensions()}
        extensions.update({"bench.lagprobe": True, **self.extensions})
        config = json.loads(json.dumps(self.config))  # a copy
        server = config.setdefault("ServerApp", {})
        server.setdefault("root_dir", str(self.home / "root"))
        server["jpserver_extensions"] = {**extensions, **server.get("jpserver_extensions", {})}
        cfg = self.home / "config" / "jupyter_server_config.json"
        cfg.write_text(json.dumps(config, indent=1))
        cmd = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.log_level={self.log_level}",
        ]
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.home / "config"),
            "JUPYTER_DATA_DIR": str(self.home / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONPATH": os.pathsep.join(
                [str(REPO), str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            **self.env,
        }
        self.log_path = self.home / "server.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=self.home, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited:\n{self.log_tail()}")
            try:
                r = httpx.get(f"{self.url}/api/status", headers=self.headers, timeout=2)
                if r.status_code == 200:
                    lag = httpx.get(f"{self.url}/bench/lag", timeout=2)
                    if lag.status_code == 200:
                        return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} server did not start:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def rss(self) -> int:
        return psutil.Process(self.pid).memory_info().rss

    def reset_peak_rss(self) -> bool:
        """Reset VmHWM (peak RSS) to the current RSS (Linux >= 4.0, needs ptrace rights)."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def peak_rss(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> JupyterServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def bookstore_server(info: AIOInfo, container: str, **extra: Any) -> JupyterServer:
    return JupyterServer(
        "bookstore",
        {
            "ServerApp": {"contents_manager_class": "bookstore.BookstoreContentsManager"},
            "BookstoreContentsManager": {"store_url": f"swift://{container}/"},
            "SwiftStore": {"auth_url": info.auth_url, "user": info.user, "key": info.key},
            **extra,
        },
        extensions={"bookstore": True},
    )


def file_server(root: Path) -> JupyterServer:
    """jupyter_server's default contents manager (AsyncLargeFileManager, a FileContentsManager)."""
    return JupyterServer(
        "file",
        {
            "ServerApp": {
                "root_dir": str(root),
                "contents_manager_class": (
                    "jupyter_server.services.contents.largefilemanager.AsyncLargeFileManager"
                ),
            }
        },
    )


def s3contents_server(info: AIOInfo, bucket: str) -> JupyterServer:
    """s3contents' S3ContentsManager on the same Swift through its s3api, path style."""
    return JupyterServer(
        "s3contents",
        {
            "ServerApp": {"contents_manager_class": "s3contents.S3ContentsManager"},
            "S3ContentsManager": {
                "endpoint_url": info.s3_endpoint,
                "access_key_id": info.s3_access_key,
                "secret_access_key": info.s3_secret_key,
                "region_name": info.region,
                "bucket": bucket,
                "s3fs_config_kwargs": {"s3": {"addressing_style": "path"}},
            },
        },
    )
