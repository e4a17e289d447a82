"""Rackspace Cloud Files, configured exactly as in the 2013 seed, against the identity double.

``rax_double`` stands in for Rackspace Identity (https://identity.api.rackspacecloud.com);
the Cloud Files endpoints it lists are accounts of the session's real Swift: DFW is
``AUTH_test``, LON ``AUTH_test2``.
"""

from __future__ import annotations

import logging

import pytest
from identity_cases import notebook
from traitlets.config import Config

from bookstore.contents import CloudFilesContentsManager
from bookstore.stores.swift_auth import RackspaceAuth


@pytest.mark.parametrize("case", ["rackspace-dfw"], indirect=True)
async def test_seed_block_startup_line_and_regions(
    case, api, jp_serverapp, identity_double, debug_logs, jp_asyncio_loop
):
    settings = case.config["CloudFilesContentsManager"]
    # The seed's block, with only the class path modernised (and the double's URL).
    c = Config()
    c.ServerApp.contents_manager_class = "bookstore.CloudFilesContentsManager"
    c.CloudFilesContentsManager.account_name = settings["account_name"]
    c.CloudFilesContentsManager.account_key = settings["account_key"]
    c.CloudFilesContentsManager.container_name = settings["container_name"]
    c.CloudFilesContentsManager.region = "DFW"  # 'LON' for the UK
    c.CloudFilesContentsManager.identity_url = identity_double.url
    cm = jp_serverapp.contents_manager
    assert isinstance(cm, CloudFilesContentsManager)
    assert cm.config.CloudFilesContentsManager == c.CloudFilesContentsManager

    code, _ = await api("PUT", "dallas.ipynb", {"type": "notebook", "content": notebook()})
    assert code == 201
    line = (
        f"Serving rack's notebooks on Rackspace CloudFiles from container "
        f"{settings['container_name']} in the DFW region."
    )
    assert line in jp_serverapp.running_server_info()
    await jp_serverapp._post_start()  # the extension checks the store, then logs the line
    assert any(r.getMessage() == line and r.levelno == logging.INFO for r in debug_logs.records)
    auth = cm.store._get_auth()
    assert isinstance(auth, RackspaceAuth) and auth.region_name == "DFW"
    assert auth.cdn_url.endswith("/cdn/DFW/AUTH_test")
    assert ("apikey", "rack") in identity_double.requests

    # The same seed block with region 'LON' reaches another endpoint (another account).
    c.CloudFilesContentsManager.region = "LON"
    london = CloudFilesContentsManager(config=c)
    try:
        assert not await london.file_exists("dallas.ipynb")
        await london.save({"type": "notebook", "content": notebook("2")}, "london.ipynb")
        assert london.store._url.endswith("/v1/AUTH_test2")
        assert cm.store._url.endswith("/v1/AUTH_test")
        assert london.store._get_auth().cdn_url.endswith("/cdn/LON/AUTH_test2")
        assert not await cm.file_exists("london.ipynb")
        assert "in the LON region." in london.info_string()
    finally:
        await london.store.close()


@pytest.mark.parametrize("case", ["rackspace-dfw"], indirect=True)
async def test_wrong_api_key_names_user_and_identity_service(
    case, identity_double, jp_asyncio_loop
):
    c = Config(case.config)
    c.CloudFilesContentsManager.account_key = "not-the-key-0123456789"
    cm = CloudFilesContentsManager(config=c)
    try:
        from tornado.web import HTTPError

        with pytest.raises(HTTPError) as info:
            await cm.get("")
        assert info.value.status_code == 503
        expected = (
            f"Rackspace Identity at {identity_double.url} rejected the credentials for user rack"
        )
        assert expected in info.value.log_message
        assert "not-the-key" not in info.value.log_message
    finally:
        await cm.store.close()
