"""A real kernel runs a notebook kept in Swift that reads the CSV stored beside it.

The kernel is started by ``BookstoreKernelManager``, as a Jupyter server
configured with it would: it gets ``BOOKSTORE_STORE_URL`` but not ``ST_KEY``
(set in this process), and finds its credentials in the user's Jupyter config.
"""

from __future__ import annotations

import json
import os

import anyio
import nbformat
from nbclient import NotebookClient
from traitlets.config import Config

from bookstore.kernels import BookstoreKernelManager
from bookstore.stores.registry import open_store

CODE = """\
import os
import pandas as pd

df = pd.read_csv("bookstore://project/data.csv")
df["hot"] = df.temperature > 68
df.to_csv("bookstore://project/hot.csv", index=False)
print(int(df.temperature.sum()), "ST_KEY" in os.environ, os.environ["BOOKSTORE_STORE_URL"])
"""


def test_notebook_reads_the_csv_beside_it(
    bookstore_env, monkeypatch, swift_auth, container, entry_point_path
):
    store_url = f"swift://{container}"
    config = Config({"SwiftStore": swift_auth})
    (bookstore_env / "jupyter_server_config.json").write_text(json.dumps(config))
    if entry_point_path:
        monkeypatch.setenv(
            "PYTHONPATH",
            os.pathsep.join(filter(None, [entry_point_path, os.environ.get("PYTHONPATH")])),
        )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CODE)])

    async def seed(store):
        await store.put("project/analysis.ipynb", nbformat.writes(notebook).encode())
        await store.put("project/data.csv", b"day,temperature\n1,66\n2,70\n3,69\n")

    async def fetch(store, key):
        return (await store.get(key))[1]

    def with_store(fn, *args):
        async def go():
            store = open_store(store_url, config=config)
            try:
                return await fn(store, *args)
            finally:
                await store.close()

        return anyio.run(go)

    with_store(seed)
    nb = nbformat.reads(with_store(fetch, "project/analysis.ipynb").decode(), as_version=4)
    # nbclient owns (and so shuts down) the kernel manager it makes from its config.
    NotebookClient(
        nb,
        kernel_name="python3",
        kernel_manager_class=BookstoreKernelManager,
        config=Config({"BookstoreKernelManager": {"store_url": store_url}}),
        timeout=120,
    ).execute()

    [output] = nb.cells[0].outputs
    assert output.get("text") == f"205 False {store_url}\n", output
    assert with_store(fetch, "project/hot.csv").splitlines()[1:] == [
        b"1,66,False",
        b"2,70,True",
        b"3,69,True",
    ]


def test_kernels_get_no_store_secret_from_the_environment():
    from bookstore.kernels import SECRET_ENV, scrub_env

    secrets = {
        name: "secret"
        for name in [
            *SECRET_ENV,
            "OS_AUTH_TOKEN",  # openstacksdk's token
            "OS_CLIENT_SECRET",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "AZURE_STORAGE_SAS_TOKEN",
            "GOOGLE_SERVICE_ACCOUNT_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "OS_SOME_FUTURE_SECRET",  # the pattern catches names no list has yet
        ]
    }
    kept = {
        "OS_AUTH_URL": "http://keystone/v3",
        "OS_AUTH_TYPE": "v3token",
        "OS_PROJECT_ID": "p1",
        "ST_AUTH": "http://swift/auth/v1.0",
        "ST_USER": "alice",
        "AWS_REGION": "us-east-1",
        "AZURE_STORAGE_ACCOUNT_NAME": "acct",
        "PATH": "/usr/bin",
        "MY_TOKEN_COUNT": "3",  # not a store's
    }
    assert scrub_env({**secrets, **kept}) == kept
    # The pattern can be turned off; the list still applies.
    assert "OS_SOME_FUTURE_SECRET" in scrub_env(secrets, pattern="")
    assert "OS_AUTH_TOKEN" not in scrub_env(secrets, pattern="")
