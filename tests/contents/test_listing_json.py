"""A listing's JSON is spliced from batches encoded between yields: byte-identical to
jupyter_server's ``json.dumps(model, default=json_default)``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from jupyter_client.jsonutil import json_default

from bookstore.contents import models


def entry(name: str) -> dict:
    m = models.base_model(
        f"folder/{name}", type="file", last_modified=datetime(2026, 11, 26, tzinfo=UTC), size=3
    )
    return models.json_times(m)


NAMES = [
    "plain.txt",
    "ünïcødé ✓.ipynb",
    'quote " and \\ backslash',
    '"content": []',
    "\u2028line separator",
    "bookstore-listing",
]


def folder_model(listing: list) -> dict:
    model = models.directory_model("folder", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    model.update(content=listing, format="json")
    return model


def test_spliced_batches_equal_one_dumps():
    listing = models.Listing()
    for i in range(25):
        listing.append(entry(f"{i}-{NAMES[i % len(NAMES)]}"))
        if i % 7 == 0:
            listing.encode_pending()
    listing.encode_pending()
    listing.encode_pending()  # nothing new: no empty batch
    model = folder_model(listing)
    assert models.model_json(model) == json.dumps(model, default=json_default).encode()


def test_empty_listing():
    listing = models.Listing()
    listing.encode_pending()
    model = folder_model(listing)
    assert models.model_json(model) == json.dumps(model, default=json_default).encode()
    assert json.loads(models.model_json(model))["content"] == []


def test_entries_added_after_encoding_are_not_lost():
    listing = models.Listing()
    listing.append(entry("a"))
    listing.encode_pending()
    listing.append(entry("b"))
    model = folder_model(listing)
    assert listing.json() is None
    assert [e["name"] for e in json.loads(models.model_json(model))["content"]] == ["a", "b"]


def test_other_models_mean_what_json_dumps_says():
    nb_model = entry("x.ipynb")
    nb_model.update(
        content={
            "cells": [{"source": 'ü ✓ \U0001f600 \x00\x1f "\\ \u2028'}],
            "n": [1.5, -0.0, 2**63 - 1],
        },
        format="json",
    )
    for model in (folder_model([entry("a")]), entry("x"), nb_model):
        got = models.model_json(model)
        assert json.loads(got) == json.loads(json.dumps(model, default=json_default))
    # a datetime exactly as jupyter_server writes it
    got = json.loads(models.model_json(folder_model([])))
    assert got["last_modified"] == "2026-01-02T03:04:05Z"


def test_what_orjson_refuses_is_plain_dumps():
    for odd in ("\ud800", 2**70):  # a lone surrogate, an integer over 64 bits
        model = entry("x")
        model.update(content={"odd": odd}, format="json")
        assert models.model_json(model) == json.dumps(model, default=json_default).encode()


def test_nan_reaches_the_browser_as_null():
    """json.dumps writes NaN, which JSON.parse refuses: the notebook would not open."""
    model = entry("x.ipynb")
    model.update(content={"metadata": {"score": float("nan"), "top": float("inf")}})
    got = models.model_json(model)
    assert b"NaN" not in got and b"Infinity" not in got
    assert json.loads(got)["content"]["metadata"] == {"score": None, "top": None}


def test_nan_is_null_also_beside_what_orjson_refuses():
    model = entry("x.ipynb")
    model.update(content={"odd": "\ud800", "metadata": {"score": float("nan")}})
    got = models.model_json(model)
    assert b"NaN" not in got
    assert json.loads(got)["content"] == {"odd": "\ud800", "metadata": {"score": None}}
