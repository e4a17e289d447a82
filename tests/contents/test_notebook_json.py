"""Our notebook serialiser writes exactly what nbformat.writes writes, on real notebooks;
the bytes a save sends are those bytes, with their true digests."""

from __future__ import annotations

import copy
import hashlib
import json
import math

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_real_notebooks import BUNDLED, CORPUS, corpus_files

from bookstore.contents.encoding import _ENCODER, encode_notebook, json_bytes, notebook_json


def without_cell_ids(text: str) -> dict:
    nb = json.loads(text)
    for cell in nb["cells"]:
        cell.pop("id", None)
    return nb


def notebooks(root) -> list:
    return [p for p in corpus_files(root) if p.suffix == ".ipynb"] if root.is_dir() else []


@pytest.mark.parametrize(
    "root", [pytest.param(BUNDLED, id="bundled"), pytest.param(CORPUS, id="corpus")]
)
def test_identical_to_nbformat_writes(root):
    paths = notebooks(root)
    if root is CORPUS and not paths:
        pytest.skip(f"real-notebook corpus absent at {root}; set BOOKSTORE_CORPUS")
    assert paths, f"no notebooks under {root}"
    checked = 0
    for path in paths:
        try:
            raw = json.loads(path.read_bytes())
            nb = nbformat.from_dict(raw)
            expected_error: dict = {}
            expected = nbformat.writes(
                copy.deepcopy(nb),
                version=nbformat.NO_CONVERT,
                capture_validation_error=expected_error,
            )
        except Exception:
            continue  # not a notebook nbformat can write: not this test's business
        got_error: dict = {}
        got = notebook_json(nb, got_error).decode("utf-8")
        ids = [c.get("id") for c in raw.get("cells", []) if isinstance(c, dict)]
        if None in ids or len(set(ids)) < len(ids):  # repaired with random ids
            got, expected = without_cell_ids(got), without_cell_ids(expected)
        assert got == expected, path
        assert set(got_error) == set(expected_error), path
        if None not in ids and len(set(ids)) == len(ids):
            check_encoded(raw, got.encode("utf-8"))
        checked += 1
    assert checked
    print(f"{checked} notebooks serialised identically ({root.name})")


def check_encoded(raw: dict, expected: bytes) -> None:
    body = encode_notebook(nbformat.from_dict(copy.deepcopy(raw)), {})
    assert body.data == expected
    assert body.sha256 == hashlib.sha256(expected).hexdigest()
    assert body.md5 == hashlib.md5(expected).hexdigest()


def test_big_notebook_bytes_and_digests():
    """Over DIGEST_IN_THREADS the two hashes run in their own threads: still the truth."""
    from bookstore.contents.encoding import DIGEST_IN_THREADS

    source = "x = 1  # ü ✓\n" * (DIGEST_IN_THREADS // 1000)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for _ in range(80)])
    expected = nbformat.writes(copy.deepcopy(nb), version=nbformat.NO_CONVERT).encode()
    assert len(expected) > DIGEST_IN_THREADS
    check_encoded(json.loads(expected), expected)


def test_digest_of_bytes_small_and_big():
    from bookstore.contents.encoding import DIGEST_IN_THREADS, digest

    for data in (b"", b"abc", bytes(range(256)) * (DIGEST_IN_THREADS // 256 + 3)):
        body = digest(data)
        assert (body.data, body.sha256, body.md5) == (
            data,
            hashlib.sha256(data).hexdigest(),
            hashlib.md5(data).hexdigest(),
        )


def reference(obj) -> bytes:
    return _ENCODER.encode(obj).encode("utf-8")


# JSON-shaped values with the awkward corners: control characters, quotes, backslashes,
# non-ASCII and astral characters, big and negative numbers, floats of every kind.
_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
)
_json = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_json_bytes_is_the_reference_encoding(value):
    assert json_bytes(value) == reference(value)


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        [[]],
        {"a": {}},
        ("a", "b"),  # tuples are lists
        {"b": 1, "a": [1.5, -0.0, math.inf, -math.inf, math.nan, 1e300, 2**70]},
        {"x": b"aGVsbG8="},  # nbformat's BytesEncoder writes ascii bytes as strings
        ['\x00\x1f\x7f"\\\b\f\n\r\t\u2028\u2029 ü ✓ \U0001f600'],
        [True, False, None, "true"],
        {"deep": [[[[[[[[[["x"]]]]]]]]]]},
    ],
)
def test_json_bytes_corners(value):
    assert json_bytes(value) == reference(value)


@pytest.mark.parametrize(
    "value",
    [
        {1: "a", "b": 2},  # json turns the number into a key
        {"a": {True: 1, None: 2}},
        {"s": {1, 2}},  # not JSON: json's own TypeError
        ["\ud800"],  # a lone surrogate: json encodes it, UTF-8 refuses it
    ],
)
def test_json_bytes_leaves_the_unusual_to_json(value):
    try:
        expected = reference(value)
    except Exception as exc:
        with pytest.raises(type(exc)):
            json_bytes(value)
    else:
        assert json_bytes(value) == expected


def test_json_bytes_deeper_than_the_prepared_indents():
    value: list = ["leaf"]
    for _ in range(100):
        value = [value, {"k": 1}]
    assert json_bytes(value) == reference(value)
