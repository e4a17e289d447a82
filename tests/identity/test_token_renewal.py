"""Tokens are renewed without the person noticing: on a 401, and before they expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from identity_cases import notebook, unique
from keystoneauth1.identity.v3 import base as v3_base

from bookstore.stores.swift import SwiftStore
from bookstore.stores.swift_auth import KeystoneAuth


@pytest.fixture
def token_requests(monkeypatch) -> list[str]:
    """Each POST /v3/auth/tokens that keystoneauth1 sends (its plugins' one way there)."""
    sent: list[str] = []
    real = v3_base.Auth.get_auth_ref

    def counting(self, session, **kwargs):
        sent.append(type(self).__name__)
        return real(self, session, **kwargs)

    monkeypatch.setattr(v3_base.Auth, "get_auth_ref", counting)
    return sent


@pytest.mark.parametrize("case", ["v3-password-names"], indirect=True)
async def test_a_revoked_token_is_replaced_once_and_the_save_succeeds(
    case, api, jp_serverapp, people, token_requests
):
    code, _ = await api("PUT", "a.ipynb", {"type": "notebook", "content": notebook("1")})
    assert code == 201
    store = jp_serverapp.contents_manager.store
    before = store._token
    token_requests.clear()

    people.admin.revoke(before)  # Swift asks Keystone about every token: refused from now on
    code, model = await api("PUT", "a.ipynb", {"type": "notebook", "content": notebook("2")})
    assert code == 200, model
    _, got = await api("GET", "a.ipynb")
    assert got["content"]["cells"][0]["source"] == "2"
    assert token_requests == ["Password"]  # exactly one re-authentication
    assert store._token != before


async def test_a_token_about_to_expire_is_renewed_before_it_is_used(
    keystone_swift, people, token_requests
):
    alice = people.alice
    store = SwiftStore(
        container=unique("c"),
        auth_url=people.keystone.auth_url,
        user=alice.name,
        key=alice.password,
        project_name=alice.project,
    )
    try:
        await store.put("k", b"1")
        auth = store._get_auth()
        assert isinstance(auth, KeystoneAuth) and not auth.expiring()
        first = store._token
        token_requests.clear()
        # An hour-long token with 10 s left: inside keystoneauth1's 2-minute margin.
        assert auth.access is not None
        now = datetime.now(UTC)
        token = auth.access._data["token"]
        token["issued_at"] = _iso(now - timedelta(seconds=3590))
        token["expires_at"] = _iso(now + timedelta(seconds=10))
        assert auth.expiring()

        await store.put("k", b"2")  # the old token still works: no 401 is involved
        assert token_requests == ["Password"]
        assert store._token != first and not auth.expiring()
        assert (await store.get("k"))[1] == b"2"
        assert token_requests == ["Password"]
    finally:
        await store.close()


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def test_short_lived_tokens_are_renewed_in_their_last_quarter():
    """A 5-minute token is not renewed on every call (keystoneauth1's margin is 2 min)."""

    class Access:
        def __init__(self, lifetime: float, left: float) -> None:
            now = datetime.now(UTC)
            self.issued = now - timedelta(seconds=lifetime - left)
            self.expires = now + timedelta(seconds=left)

    auth = KeystoneAuth.__new__(KeystoneAuth)
    for lifetime, left, expiring in [
        (300, 200, False),
        (300, 60, True),
        (3600, 600, False),
        (3600, 100, True),
    ]:
        auth._access = Access(lifetime, left)  # type: ignore[assignment]
        assert auth.expiring() is expiring, (lifetime, left)
