"""The people, configurations and helpers of the identity tests (see conftest.py)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

from rax_double import IdentityDouble

from bookstore.devswift import AIOInfo
from bookstore.devswift.keystone import KeystoneAdmin, KeystoneInfo


@dataclass(frozen=True)
class Person:
    """A Keystone user owning one project's Swift account."""

    name: str
    password: str = field(repr=False)
    user_id: str
    project: str
    project_id: str
    domain: str = "default"


@dataclass(frozen=True)
class People:
    keystone: KeystoneInfo
    admin: KeystoneAdmin
    alice: Person  # domain "default"
    bob: Person  # domain "Engineering"
    app_cred_id: str
    app_cred_secret: str = field(repr=False)


@dataclass
class Case:
    """A Jupyter configuration for one way to authenticate, and what it should lead to."""

    manager: str  # contents_manager_class
    config: dict  # the rest of the server config
    storage_url: str | None = None  # where the store should end up
    secrets: list[str] = field(default_factory=list)  # must never be logged or answered


def unique(name: str) -> str:
    return f"{name}-{secrets.token_hex(5)}"


def user_token(auth_url: str, who: Person) -> str:
    """A project-scoped token of ``who``, as `openstack token issue` prints it."""
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    plugin = v3.Password(
        auth_url=auth_url, user_id=who.user_id, password=who.password, project_id=who.project_id
    )
    return plugin.get_token(session.Session(timeout=10))


def build_case(name: str, aio_info: AIOInfo, people: People, double: IdentityDouble) -> Case:
    ks = people.keystone
    alice, bob = people.alice, people.bob

    def swift_url(region: str, interface: str, project_id: str) -> str:
        return f"{aio_info.keystone_endpoint(region, interface)}/v1/AUTH_{project_id}"

    def swift(store: dict, container: str | None = None) -> dict:
        return {
            "SwiftContentsManager": {"container": container or unique("c")},
            "SwiftStore": store,
        }

    tempauth = f"http://127.0.0.1:{aio_info.port}/v1"
    if name == "v3-password-names":  # a user and project of a domain other than "default"
        return Case(
            "bookstore.KeystoneContentsManager",
            {
                "KeystoneContentsManager": {
                    "container": unique("c"),
                    "auth_url": ks.auth_url,
                    "username": bob.name,
                    "password": bob.password,
                    "project_name": bob.project,
                    "user_domain_name": bob.domain,
                    "project_domain_name": bob.domain,
                    "region_name": "RegionOne",
                }
            },
            swift_url("RegionOne", "public", bob.project_id),
            [bob.password],
        )
    if name == "v3-password-ids":  # ids, and a URL without /v3: keystoneauth discovers it
        return Case(
            "bookstore.SwiftContentsManager",
            swift(
                {
                    "auth_url": ks.url,
                    "user_id": alice.user_id,
                    "key": alice.password,
                    "project_id": alice.project_id,
                    "region_name": "RegionTwo",
                }
            ),
            swift_url("RegionTwo", "public", alice.project_id),
            [alice.password],
        )
    if name == "v3-app-credential":
        return Case(
            "bookstore.SwiftContentsManager",
            swift(
                {
                    "auth_url": ks.auth_url,
                    "application_credential_id": people.app_cred_id,
                    "application_credential_secret": people.app_cred_secret,
                    "region_name": "RegionOne",
                    "interface": "internal",
                }
            ),
            swift_url("RegionOne", "internal", alice.project_id),
            [people.app_cred_secret],
        )
    if name == "v3-token":
        token = user_token(ks.auth_url, alice)
        return Case(
            "bookstore.SwiftContentsManager",
            swift(
                {
                    "auth_url": ks.auth_url,
                    "token": token,
                    "project_id": alice.project_id,
                    "region_name": "RegionOne",
                }
            ),
            swift_url("RegionOne", "public", alice.project_id),
            [token],
        )
    if name == "v2.0-password":  # the seed-era names, against a v2.0 identity service
        legacy = double.legacy
        return Case(
            "bookstore.KeystoneContentsManager",
            {
                "KeystoneContentsManager": {
                    "container": unique("c"),
                    "auth_url": double.url,
                    "username": legacy.name,
                    "password": legacy.password,
                    "tenant_name": legacy.tenant,
                    "region": "RegionOne",
                }
            },
            f"{tempauth}/AUTH_test",
            [legacy.password],
        )
    if name == "v1-tempauth":
        return Case(
            "bookstore.SwiftContentsManager",
            swift({"auth_url": aio_info.auth_url, "user": "test2:tester2", "key": "testing2"}),
            f"{tempauth}/AUTH_test2",
            ["testing2"],
        )
    if name in ("rackspace-dfw", "rackspace-lon"):
        region = name.rsplit("-", 1)[1].upper()
        return Case(
            "bookstore.CloudFilesContentsManager",
            {
                "CloudFilesContentsManager": {
                    "account_name": double.rack.name,
                    "account_key": double.rack.api_key,
                    "container_name": unique("notebooks"),
                    "region": region,
                    "identity_url": double.url,
                }
            },
            f"{tempauth}/AUTH_test" if region == "DFW" else f"{tempauth}/AUTH_test2",
            [double.rack.api_key],
        )
    if name == "wrong-password":
        wrong = f"wrong-{secrets.token_hex(8)}"
        return Case(
            "bookstore.KeystoneContentsManager",
            {
                "KeystoneContentsManager": {
                    "container": unique("c"),
                    "auth_url": ks.auth_url,
                    "username": alice.name,
                    "password": wrong,
                    "project_name": alice.project,
                }
            },
            None,
            [wrong, alice.password],
        )
    if name == "unknown-region":
        return Case(
            "bookstore.KeystoneContentsManager",
            {
                "KeystoneContentsManager": {
                    "container": unique("c"),
                    "auth_url": ks.auth_url,
                    "username": alice.name,
                    "password": alice.password,
                    "project_name": alice.project,
                    "region": "Atlantis",
                }
            },
            None,
            [alice.password],
        )
    if name == "missing-container":
        return Case(
            "bookstore.KeystoneContentsManager",
            {
                "KeystoneContentsManager": {
                    "container": unique("missing"),
                    "auth_url": ks.auth_url,
                    "username": alice.name,
                    "password": alice.password,
                    "project_name": alice.project,
                },
                "SwiftStore": {"create_container": False},
            },
            None,
            [alice.password],
        )
    raise AssertionError(name)


def notebook(source: str = "1 + 1") -> dict:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    return json.loads(nbformat.writes(new_notebook(cells=[new_code_cell(source)])))


def application_credential(auth_url: str, who: Person) -> dict:
    """Made by the user (Keystone's rule), with the roles of their project token."""
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    plugin = v3.Password(
        auth_url=auth_url,
        user_id=who.user_id,
        password=who.password,
        project_id=who.project_id,
    )
    sess = session.Session(auth=plugin, timeout=10)
    body = {"application_credential": {"name": f"bookstore-{secrets.token_hex(4)}"}}
    resp = sess.post(f"{auth_url}/users/{who.user_id}/application_credentials", json=body)
    return resp.json()["application_credential"]
