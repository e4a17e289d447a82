"""Every way to authenticate, through the REST API of a real Jupyter server.

Keystone v3 (password by names and by ids, application credential, token) runs
against the session's real Keystone and its Swift; v2.0 and Rackspace against the
identity double (``rax_double``), whose tokens are real tokens of the same Swift; v1.0
against that Swift's tempauth. Each case saves and loads a notebook, lands in the
account and region it should, and never shows a secret in a log line or an answer.
"""

from __future__ import annotations

import logging

import pytest
from identity_cases import notebook

from bookstore.stores.swift_auth import KeystoneAuth

METHODS = [
    "v3-password-names",
    "v3-password-ids",
    "v3-app-credential",
    "v3-token",
    "v2.0-password",
    "v1-tempauth",
    "rackspace-dfw",
]


@pytest.mark.parametrize("case", METHODS, indirect=True)
async def test_save_and_load_a_notebook(
    case, api, jp_serverapp, debug_logs, jp_logging_stream, responses
):
    code, model = await api("PUT", "work/hello.ipynb", {"type": "notebook", "content": notebook()})
    assert code == 201, model
    edited = notebook("print('saved twice')")
    code, _ = await api("PUT", "work/hello.ipynb", {"type": "notebook", "content": edited})
    assert code == 200
    code, got = await api("GET", "work/hello.ipynb")
    assert code == 200 and got["content"]["cells"][0]["source"] == "print('saved twice')"
    _, listing = await api("GET", "work")
    assert [m["name"] for m in listing["content"]] == ["hello.ipynb"]

    store = jp_serverapp.contents_manager.store
    assert store._url == case.storage_url  # the account and endpoint of the case
    # Nothing secret anywhere: configured secrets and the tokens actually used.
    auth = store._get_auth()
    tokens = [store._token]
    if isinstance(auth, KeystoneAuth) and auth.access is not None:
        tokens.append(auth.access.auth_token)
    logged = debug_logs.text + jp_logging_stream.getvalue()
    assert any(r.levelno == logging.DEBUG for r in debug_logs.records)
    for secret in [*case.secrets, *tokens]:
        assert secret and secret not in logged
        assert not any(secret.encode() in body for body in responses)
    assert "Traceback" not in logged


@pytest.mark.parametrize("case", ["v3-password-names"], indirect=True)
async def test_the_keystone_store_says_who_and_where(case, api, jp_serverapp):
    await api("GET", "")
    store = jp_serverapp.contents_manager.store
    auth = store._get_auth()
    assert isinstance(auth, KeystoneAuth)
    assert auth.description.startswith("user bob at Keystone http://127.0.0.1:")
    assert auth.regions() == ["RegionOne", "RegionTwo"]
    line = jp_serverapp.running_server_info()
    assert f"Serving notebooks from Swift container '{store.container}'" in line
    assert store._url in line and case.secrets[0] not in line
