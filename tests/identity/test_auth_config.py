"""Where credentials come from: clouds.yaml, OS_*, ST_*, and configuration that wins.

Store-level: each store authenticates for real (Keystone or tempauth), and where it
ended up (``store._url``: which proxy, which account) shows which settings it used.
"""

from __future__ import annotations

import json

import pytest
from identity_cases import unique

from bookstore.errors import InvalidRequest, Unauthenticated
from bookstore.stores.swift import SwiftStore
from bookstore.stores.swift_auth import KeystoneAuth, RackspaceAuth, V1Auth

# openstacksdk 4.x warns about InfluxDB on every cloud it reads, configured or not (its
# CloudRegion tests a dict of None values): a PendingDeprecationWarning, silent outside
# tests, that says nothing about our configuration.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Support for InfluxDB requires the influxdb library:PendingDeprecationWarning"
)


async def url_of(**settings) -> str:
    """Where a store with these settings stores things (after a real write)."""
    store = SwiftStore(container=unique("c"), **settings)
    try:
        await store.put("k", b"v")
        assert (await store.get("k"))[1] == b"v"
        return store._url
    finally:
        await store.close()


def swift_url(aio_info, region: str, interface: str, project_id: str) -> str:
    return f"{aio_info.keystone_endpoint(region, interface)}/v1/AUTH_{project_id}"


@pytest.fixture
def clouds_yaml(tmp_path, people, monkeypatch):
    """A clouds.yaml (JSON is YAML) with two clouds, found through OS_CLIENT_CONFIG_FILE."""
    alice, ks = people.alice, people.keystone
    clouds = {
        "clouds": {
            "mycloud": {
                "auth": {
                    "auth_url": ks.auth_url,
                    "username": alice.name,
                    "password": alice.password,
                    "project_name": alice.project,
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "region_name": "RegionTwo",
                "identity_api_version": 3,
            },
            "appcred": {
                "auth_type": "v3applicationcredential",
                "auth": {
                    "auth_url": ks.auth_url,
                    "application_credential_id": people.app_cred_id,
                    "application_credential_secret": people.app_cred_secret,
                },
                "region_name": "RegionOne",
                "interface": "internal",
            },
        }
    }
    path = tmp_path / "clouds.yaml"
    path.write_text(json.dumps(clouds))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    return path


def keystone_env(monkeypatch, people, **extra: str) -> None:
    alice = people.alice
    env = {
        "OS_AUTH_URL": people.keystone.auth_url,
        "OS_USERNAME": alice.name,
        "OS_PASSWORD": alice.password,
        "OS_PROJECT_NAME": alice.project,
        "OS_USER_DOMAIN_ID": "default",
        "OS_PROJECT_DOMAIN_ID": "default",
        "OS_IDENTITY_API_VERSION": "3",
        **extra,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def tempauth_env(monkeypatch, aio_info) -> None:
    monkeypatch.setenv("ST_AUTH", aio_info.auth_url)
    monkeypatch.setenv("ST_USER", "test2:tester2")
    monkeypatch.setenv("ST_KEY", "testing2")


async def test_cloud_of_clouds_yaml(keystone_swift, people, clouds_yaml):
    alice = people.alice
    assert await url_of(cloud="mycloud") == swift_url(
        keystone_swift, "RegionTwo", "public", alice.project_id
    )
    assert await url_of(cloud="appcred") == swift_url(
        keystone_swift, "RegionOne", "internal", alice.project_id
    )


async def test_configuration_wins_over_the_cloud_field_by_field(
    keystone_swift, people, clouds_yaml
):
    alice = people.alice
    assert await url_of(cloud="mycloud", region_name="RegionOne") == swift_url(
        keystone_swift, "RegionOne", "public", alice.project_id
    )
    with pytest.raises(Unauthenticated, match="rejected the credentials for user alice"):
        await url_of(cloud="mycloud", key="not-her-password")


async def test_os_cloud_selects_a_cloud(keystone_swift, people, clouds_yaml, monkeypatch):
    monkeypatch.setenv("OS_CLOUD", "mycloud")
    tempauth_env(monkeypatch, keystone_swift)  # OS_* comes first
    assert await url_of() == swift_url(
        keystone_swift, "RegionTwo", "public", people.alice.project_id
    )


async def test_unknown_cloud_says_where_it_looked(clouds_yaml):
    with pytest.raises(Unauthenticated) as info:
        await url_of(cloud="nowhere")
    assert "nowhere" in str(info.value) and str(clouds_yaml) in str(info.value)


async def test_os_variables_come_before_st_variables(keystone_swift, people, monkeypatch):
    keystone_env(monkeypatch, people, OS_REGION_NAME="RegionTwo", OS_INTERFACE="internal")
    tempauth_env(monkeypatch, keystone_swift)
    assert await url_of() == swift_url(
        keystone_swift, "RegionTwo", "internal", people.alice.project_id
    )


async def test_st_variables_alone_are_swift_v1(keystone_swift, monkeypatch):
    tempauth_env(monkeypatch, keystone_swift)
    assert await url_of() == f"http://127.0.0.1:{keystone_swift.port}/v1/AUTH_test2"


async def test_configured_auth_url_ignores_the_environment(keystone_swift, people, monkeypatch):
    keystone_env(monkeypatch, people)
    tempauth_env(monkeypatch, keystone_swift)
    url = await url_of(auth_url=keystone_swift.auth_url, user="test:tester", key="testing")
    assert url == f"http://127.0.0.1:{keystone_swift.port}/v1/AUTH_test"


async def test_configured_fields_win_over_os_variables(keystone_swift, people, monkeypatch):
    keystone_env(monkeypatch, people)
    assert await url_of(region_name="RegionTwo") == swift_url(
        keystone_swift, "RegionTwo", "public", people.alice.project_id
    )
    with pytest.raises(Unauthenticated, match="rejected the credentials for user alice"):
        await url_of(key="configured-but-wrong")


async def test_unknown_region_lists_the_catalog_regions(people):
    alice = people.alice
    with pytest.raises(InvalidRequest) as info:
        await url_of(
            auth_url=people.keystone.auth_url,
            user=alice.name,
            key=alice.password,
            project_name=alice.project,
            region_name="Mars",
        )
    assert "'Mars'" in str(info.value) and "RegionOne, RegionTwo" in str(info.value)


def test_which_auth_each_configuration_makes(people, monkeypatch):
    ks = people.keystone.auth_url

    def auth(**settings):
        return SwiftStore(container="c", **settings)._get_auth()

    v1 = auth(auth_url="http://swift:8080/auth/v1.0", user="a:b", key="k")
    assert isinstance(v1, V1Auth)
    v3 = auth(auth_url=ks, user="u", key="k", project_name="p")
    assert isinstance(v3, KeystoneAuth) and type(v3.plugin).__name__ == "Password"
    assert type(v3.plugin).__module__.endswith("v3.password")
    v2 = auth(auth_url="http://keystone:5000/v2.0", user="u", key="k", project_name="p")
    assert type(v2.plugin).__module__.endswith("identity.v2")
    cred = auth(auth_url=ks, application_credential_id="i", application_credential_secret="s")
    assert type(cred.plugin).__name__ == "ApplicationCredential"
    token = auth(auth_url=ks, token="t", project_id="p")
    assert type(token.plugin).__name__ == "Token"
    generic = auth(auth_url="http://keystone:5000", user_id="u", key="k", project_id="p")
    assert type(generic.plugin).__module__.endswith("generic.password")
    forced = auth(auth_url="http://keystone:5000/", auth_version="3", user="u", key="k")
    assert forced.auth_url == "http://keystone:5000/v3"
    monkeypatch.setenv("ST_AUTH", "http://swift:8080/auth/v1.0")  # not for Rackspace
    rax = auth(auth_type="rackspace", user="u", key="k", region_name="lon")
    assert isinstance(rax, RackspaceAuth) and rax.region_name == "LON"
    assert rax.auth_url == "https://identity.api.rackspacecloud.com/v2.0/"
    monkeypatch.delenv("ST_AUTH")
    with pytest.raises(InvalidRequest, match="auth_version"):
        auth(auth_url=ks, auth_version="4", user="u", key="k")
    with pytest.raises(Unauthenticated, match="ST_AUTH"):
        auth()


async def test_unreachable_keystone_is_unavailable_after_retries():
    from bookstore.errors import Unavailable

    store = SwiftStore(
        container="c",
        auth_url="http://127.0.0.1:9/v3",  # discard port: nothing listens
        user="alice",
        key="whatever-secret",
        project_name="p",
        retries=1,
        retry_backoff=0.01,
    )
    try:
        with pytest.raises(Unavailable) as info:
            await store.head("k")
    finally:
        await store.close()
    message = str(info.value)
    assert "Keystone at http://127.0.0.1:9/v3 is unreachable" in message
    assert "gave up after 2 attempts" in message and "whatever-secret" not in message
