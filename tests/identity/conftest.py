"""A real Keystone and a Swift that takes its tokens, started once for the session.

``keystone_swift``: ``bookstore swift-aio start --keystone`` in a temporary directory
(Keystone with SQLite, bootstrapped once; Swift with its tempauth proxy and Keystone
proxies for RegionOne/RegionTwo, public/internal). ``people``: Keystone users made for
these tests. ``identity_double``: the Rackspace/Keystone-v2.0 test double, whose tokens
are real tempauth tokens of the same Swift.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator

import pytest
from identity_cases import Case, People, Person, application_credential, build_case
from rax_double import IdentityDouble

from bookstore.devswift import AIOInfo, aio
from bookstore.devswift.keystone import status as keystone_status

# Variables that would change which credentials a store picks up.
AUTH_ENV = (
    "OS_CLOUD",
    "OS_AUTH_URL",
    "OS_AUTH_TYPE",
    "OS_USERNAME",
    "OS_USER_ID",
    "OS_PASSWORD",
    "OS_PROJECT_NAME",
    "OS_PROJECT_ID",
    "OS_TENANT_NAME",
    "OS_USER_DOMAIN_NAME",
    "OS_USER_DOMAIN_ID",
    "OS_PROJECT_DOMAIN_NAME",
    "OS_PROJECT_DOMAIN_ID",
    "OS_REGION_NAME",
    "OS_INTERFACE",
    "OS_IDENTITY_API_VERSION",
    "OS_APPLICATION_CREDENTIAL_ID",
    "OS_APPLICATION_CREDENTIAL_SECRET",
    "OS_TOKEN",
    "OS_CLIENT_CONFIG_FILE",
    "OS_CLIENT_SECURE_FILE",
    "ST_AUTH",
    "ST_USER",
    "ST_KEY",
    "ST_AUTH_VERSION",
)


@pytest.fixture(autouse=True)
def _clean_auth_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OS_*/ST_* from the developer's shell: each test sets what it means."""
    for name in AUTH_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def keystone_swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AIOInfo]:
    data_dir = tmp_path_factory.mktemp("keystone-aio")
    info, _ = aio.start(data_dir, 0, keystone=True, stop_with_parent=True)
    try:
        yield info
    finally:
        aio.stop(data_dir)


@pytest.fixture(scope="session")
def people(keystone_swift: AIOInfo) -> People:
    keystone = keystone_status(keystone_swift.data_dir)
    assert keystone is not None
    admin = keystone.admin()

    def person(name: str, project: str, domain: str = "default") -> Person:
        password = f"{name}-pw-{secrets.token_hex(8)}"
        user_id, project_id = admin.ensure_member(name, password, project, domain)
        return Person(name, password, user_id, project, project_id, domain)

    alice = person("alice", "alice-notebooks")
    bob = person("bob", "eng-notebooks", "Engineering")
    cred = application_credential(keystone.auth_url, alice)
    return People(keystone, admin, alice, bob, cred["id"], cred["secret"])


@pytest.fixture(scope="session")
def identity_double(keystone_swift: AIOInfo) -> Iterator[IdentityDouble]:
    with IdentityDouble(keystone_swift) as double:
        yield double


@pytest.fixture
def case(request, keystone_swift, people, identity_double) -> Case:
    """``@pytest.mark.parametrize("case", [...], indirect=True)`` with names of build_case."""
    return build_case(request.param, keystone_swift, people, identity_double)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything at DEBUG, from before the server starts (request before jp_serverapp)."""
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def jp_server_config(case: Case, debug_logs) -> dict:
    return {
        "ServerApp": {
            "contents_manager_class": case.manager,
            "jpserver_extensions": {"bookstore": True},
        },
        **case.config,
    }


@pytest.fixture
def responses() -> list[bytes]:
    """Every response body the ``api`` fixture saw (to look for secrets)."""
    return []


@pytest.fixture
def api(jp_fetch, responses):
    """JSON in, (status, JSON) out; errors come back as (status, body) too."""
    from tornado.httpclient import HTTPClientError

    async def call(method: str, path: str = "", body=None, **params):
        kwargs = {"method": method, "params": params}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        elif method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = "{}"
        try:
            r = await jp_fetch("api", "contents", *[p for p in path.split("/") if p], **kwargs)
        except HTTPClientError as err:
            raw = err.response.body if err.response is not None else b""
            responses.append(raw)
            text = raw.decode()
            return err.code, json.loads(text) if text.startswith("{") else {"message": text}
        responses.append(r.body)
        return r.code, (json.loads(r.body) if r.body else None)

    return call
