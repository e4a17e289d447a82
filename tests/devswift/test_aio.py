"""bookstore swift-aio: the CLI, the pytest fixture, and the Swift features we rely on."""

from __future__ import annotations

import errno
import importlib.util
import os
import socket
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import obstore
import pytest
from click.testing import CliRunner
from obstore.store import S3Store
from swiftclient.client import ClientException, Connection
from swiftclient.utils import generate_temp_url

from bookstore import devswift
from bookstore.cli import main
from bookstore.devswift import aio

pytest_plugins = ["fixtures_swift"]

_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def swift_aio_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["swift-aio", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def parse_env(output: str) -> dict[str, str]:
    env = {}
    for line in output.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value
    return env


@pytest.fixture(scope="module")
def cli_aio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A server started and stopped through the CLI; yields (data dir, `env` variables)."""
    data_dir = tmp_path_factory.mktemp("cli-aio")
    code, out = swift_aio_cli("start", "--data-dir", str(data_dir), "--port", "0")
    assert code == 0, out
    assert "running at http://127.0.0.1:" in out
    try:
        code, out = swift_aio_cli("env", "--data-dir", str(data_dir))
        assert code == 0, out
        yield data_dir, parse_env(out)
    finally:
        code, out = swift_aio_cli("stop", "--data-dir", str(data_dir))
        assert (code, out.strip()) == (0, "swift-aio: stopped")
    code, out = swift_aio_cli("status", "--data-dir", str(data_dir))
    assert (code, out.strip()) == (3, "swift-aio: stopped")
    assert not (data_dir / "run" / "swift.pid").exists()


@pytest.fixture(scope="module")
def conn(cli_aio: tuple[Path, dict[str, str]]) -> Connection:
    env = cli_aio[1]
    return Connection(env["ST_AUTH"], env["ST_USER"], env["ST_KEY"], retries=0)


def new_container(conn: Connection, headers: dict[str, str] | None = None) -> str:
    name = f"c-{uuid.uuid4().hex[:8]}"
    conn.put_container(name, headers=headers)
    return name


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with _no_proxy.open(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# --- the CLI ----------------------------------------------------------------


def test_env_prints_swift_and_s3_variables(cli_aio: tuple[Path, dict[str, str]]) -> None:
    data_dir, env = cli_aio
    info = devswift.status(data_dir)
    assert info is not None
    port = info.port
    assert env == {
        "ST_AUTH": f"http://127.0.0.1:{port}/auth/v1.0",
        "ST_USER": "test:tester",
        "ST_KEY": "testing",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "test:tester",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def test_status_and_idempotent_start(cli_aio: tuple[Path, dict[str, str]]) -> None:
    data_dir, env = cli_aio
    code, out = swift_aio_cli("status", "--data-dir", str(data_dir))
    assert code == 0
    assert f"running at {env['AWS_ENDPOINT_URL']}" in out
    pid = devswift.status(data_dir).pid  # type: ignore[union-attr]

    code, out = swift_aio_cli("start", "--data-dir", str(data_dir))
    assert code == 0
    assert f"already running at {env['AWS_ENDPOINT_URL']} (pid {pid})" in out


def test_stopped_data_dir(tmp_path: Path) -> None:
    assert swift_aio_cli("status", "--data-dir", str(tmp_path)) == (3, "swift-aio: stopped\n")
    assert swift_aio_cli("stop", "--data-dir", str(tmp_path)) == (0, "swift-aio: was not running\n")
    code, out = swift_aio_cli("env", "--data-dir", str(tmp_path))
    assert code == 0
    assert parse_env(out)["ST_AUTH"] == "http://127.0.0.1:8080/auth/v1.0"


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port with a listener that, like Swift's, set SO_REUSEPORT."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_start_on_a_taken_port_fails_clearly(tmp_path: Path, busy_port: int) -> None:
    code, out = swift_aio_cli("start", "--data-dir", str(tmp_path), "--port", str(busy_port))
    assert code == 1
    assert f"port {busy_port} on 127.0.0.1 is already in use" in out
    assert devswift.status(tmp_path) is None


def test_server_itself_refuses_a_shared_port(
    tmp_path: Path, busy_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The port may be taken between the check and the server's bind.
    monkeypatch.setattr(aio, "check_port_free", lambda port: None)
    with pytest.raises(devswift.SwiftAIOError, match=f"port {busy_port} .* already in use"):
        devswift.start(tmp_path, busy_port)
    assert devswift.status(tmp_path) is None
    assert not (tmp_path / "run" / "swift.pid").exists()


def test_missing_swift_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "swift" else find_spec(name)
    )
    code, out = swift_aio_cli("start", "--data-dir", str(tmp_path), "--port", "0")
    assert code == 1
    assert "pip install 'bookstore[swift-aio]'" in out


def test_data_dir_without_xattrs_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_xattrs(*args: object) -> None:
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(os, "setxattr", no_xattrs)
    code, out = swift_aio_cli("start", "--data-dir", str(tmp_path), "--port", "0")
    assert code == 1
    assert "does not support user extended attributes" in out


# --- the pytest fixture ---------------------------------------------------------


def test_session_fixture(swift_aio: devswift.AIOInfo) -> None:
    assert swift_aio.storage_url == f"http://127.0.0.1:{swift_aio.port}/v1/AUTH_test"
    assert (swift_aio.user, swift_aio.key) == ("test:tester", "testing")
    assert (swift_aio.s3_access_key, swift_aio.s3_secret_key) == ("test:tester", "testing")
    assert swift_aio.s3_endpoint == f"http://127.0.0.1:{swift_aio.port}"
    assert devswift.status(swift_aio.data_dir) == swift_aio
    devswift.check_authenticated(swift_aio)


# --- Swift features through the CLI-started server -----------------------------


def test_swiftclient_put_get(conn: Connection) -> None:
    container = new_container(conn)
    conn.put_object(container, "dir/a.ipynb", b'{"cells": []}', content_type="application/json")
    headers, body = conn.get_object(container, "dir/a.ipynb")
    assert body == b'{"cells": []}'
    assert headers["content-type"] == "application/json"
    assert [o["name"] for o in conn.get_container(container)[1]] == ["dir/a.ipynb"]


def test_s3_put_get_list(cli_aio: tuple[Path, dict[str, str]], conn: Connection) -> None:
    env = cli_aio[1]
    bucket = new_container(conn)
    store = S3Store(
        bucket,
        endpoint=env["AWS_ENDPOINT_URL"],
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region=env["AWS_DEFAULT_REGION"],
        client_options={"allow_http": True},
        virtual_hosted_style_request=False,
    )
    obstore.put(store, "nb/x.ipynb", b"via s3")
    assert bytes(obstore.get(store, "nb/x.ipynb").bytes()) == b"via s3"
    assert [m["path"] for m in obstore.list(store).collect()] == ["nb/x.ipynb"]
    assert conn.get_object(bucket, "nb/x.ipynb")[1] == b"via s3"  # same object via Swift


def test_tempurl(cli_aio: tuple[Path, dict[str, str]], conn: Connection) -> None:
    container = new_container(conn)
    conn.put_object(container, "shared.txt", b"temp")
    conn.post_account({"X-Account-Meta-Temp-URL-Key": "sekrit"})
    path = f"/v1/AUTH_test/{container}/shared.txt"
    url = cli_aio[1]["AWS_ENDPOINT_URL"] + generate_temp_url(path, 60, "sekrit", "GET")
    assert http_get(url) == (200, b"temp")
    forged = cli_aio[1]["AWS_ENDPOINT_URL"] + generate_temp_url(path, 60, "wrong", "GET")
    assert http_get(forged)[0] == 401


def test_object_versioning(conn: Connection) -> None:
    container = new_container(conn, {"X-Versions-Enabled": "true"})
    conn.put_object(container, "nb.ipynb", b"v1")
    conn.put_object(container, "nb.ipynb", b"v2")
    listing = conn.get_container(container, query_string="versions")[1]
    versions = [(o["name"], o["version_id"], o["is_latest"]) for o in listing]
    assert [(name, latest) for name, _, latest in versions] == [
        ("nb.ipynb", True),
        ("nb.ipynb", False),
    ]
    oldest = versions[1][1]
    assert conn.get_object(container, "nb.ipynb", query_string=f"version-id={oldest}")[1] == b"v1"
    assert conn.get_object(container, "nb.ipynb")[1] == b"v2"


def test_metadata_limit_is_a_clear_400(conn: Connection) -> None:
    # 2 KiB instead of Swift's 4 KiB, see config.py: ext4 keeps xattrs in one block.
    container = new_container(conn)
    meta = {f"X-Object-Meta-K{i}": "v" * 254 for i in range(8)}  # 8 * (2 + 254) = 2048
    conn.put_object(container, "ok", b"x", headers=meta)
    with pytest.raises(ClientException) as err:
        conn.put_object(container, "too-big", b"x", headers={**meta, "X-Object-Meta-Z": "z"})
    assert err.value.http_status == 400


def test_swift_semantics_bookstore_relies_on(conn: Connection) -> None:
    """Pins facts about Swift itself that the SwiftStore design depends on."""
    container = new_container(conn)
    conn.put_object(container, "a", b"1")
    # If-None-Match: * makes a PUT create-only.
    with pytest.raises(ClientException) as err:
        conn.put_object(container, "a", b"2", headers={"If-None-Match": "*"})
    assert err.value.http_status == 412
    # ...but on a copy it applies to the *source*: 304, nothing copied, even to a new name.
    with pytest.raises(ClientException) as err:
        conn.copy_object(container, "a", f"/{container}/b", headers={"If-None-Match": "*"})
    assert err.value.http_status == 304
    with pytest.raises(ClientException):
        conn.head_object(container, "b")
    # DELETE ?multipart-manifest=delete on a plain object: 200, yet nothing deleted.
    response: dict = {}
    conn.delete_object(
        container, "a", query_string="multipart-manifest=delete", response_dict=response
    )
    assert response["status"] == 200
    assert conn.get_object(container, "a")[1] == b"1"
