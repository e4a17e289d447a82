"""Errors a person understands: who was rejected where, which regions exist, what to create."""

from __future__ import annotations

import pytest
from identity_cases import notebook


@pytest.mark.parametrize("case", ["wrong-password"], indirect=True)
async def test_wrong_password_is_a_503_naming_user_and_keystone(
    case, api, jp_serverapp, people, debug_logs, responses
):
    code, body = await api("PUT", "a.ipynb", {"type": "notebook", "content": notebook()})
    assert code == 503
    expected = f"Keystone at {people.keystone.auth_url} rejected the credentials for user alice"
    assert expected in body["message"]
    assert body["message"].endswith(f"({expected})")
    assert not body.get("traceback")
    for secret in case.secrets:
        assert not any(secret.encode() in r for r in responses)
        assert secret not in debug_logs.text
    assert "Traceback" not in debug_logs.text


@pytest.mark.parametrize("case", ["unknown-region"], indirect=True)
async def test_unknown_region_lists_the_regions_there_are(case, api, jp_serverapp):
    code, body = await api("GET", "")
    assert code >= 400
    message = body["message"]
    assert "'Atlantis'" in message and "RegionOne, RegionTwo" in message, message


@pytest.mark.parametrize("case", ["missing-container"], indirect=True)
async def test_missing_container_without_create_says_what_to_do(case, api, jp_serverapp):
    code, body = await api("PUT", "a.txt", {"type": "file", "format": "text", "content": "x"})
    assert code == 404
    container = case.config["KeystoneContentsManager"]["container"]
    assert f"Swift container '{container}' does not exist" in body["message"]
    assert "create_container" in body["message"]


@pytest.mark.parametrize("case", ["v3-password-names"], indirect=True)
async def test_missing_container_is_created_by_default(case, api, jp_serverapp):
    code, _ = await api("PUT", "x.txt", {"type": "file", "format": "text", "content": "x"})
    assert code == 201
    store = jp_serverapp.contents_manager.store  # its container did not exist before
    assert (await store.head("x.txt")).size == 1
