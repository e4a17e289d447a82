"""Our notebook serialiser writes exactly what nbformat.writes writes, on real notebooks;
the bytes a save sends are those bytes, with their true digests."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import warnings

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_real_notebooks import BUNDLED, CORPUS, corpus_files

from bookstore.contents.encoding import (
    _ENCODER,
    DIGEST_IN_THREADS,
    encode_notebook,
    json_bytes,
    notebook_json,
)


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
            check_encoded(raw, got.encode("utf-8"), expected_error)
        checked += 1
    assert checked
    print(f"{checked} notebooks serialised identically ({root.name})")


def check_encoded(raw: dict, written: bytes, expected_error: dict | None = None) -> None:
    """encode_notebook's bytes (nbformat.writes' and the newline nbformat.write adds, as in
    FileContentsManager's files), digests and validation error."""
    expected = written + b"\n"
    error: dict = {}
    body = encode_notebook(nbformat.from_dict(copy.deepcopy(raw)), error)
    assert body.data == expected
    assert body.sha256 == hashlib.sha256(expected).hexdigest()
    assert body.md5 == hashlib.md5(expected).hexdigest()
    assert set(error) == set(expected_error or {})


def test_big_notebook_bytes_and_digests():
    """Over DIGEST_IN_THREADS the two hashes run in their own threads: still the truth."""
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


def test_json_bytes_deep_nesting():
    value: list = ["leaf"]
    for _ in range(100):
        value = [value, {"k": 1}]
    assert json_bytes(value) == reference(value)


def writes_outcome(raw: dict):
    """nbformat.writes' bytes and validation error names, or the type of what it raised."""
    error: dict = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cell ids repaired: not what is compared
            text = nbformat.writes(
                nbformat.from_dict(copy.deepcopy(raw)),
                version=nbformat.NO_CONVERT,
                capture_validation_error=error,
            )
    except Exception as exc:
        return type(exc)
    return without_cell_ids(text), set(error)


def encode_outcome(raw: dict):
    error: dict = {}
    nb = nbformat.from_dict(copy.deepcopy(raw))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            body = encode_notebook(nb, error)
    except Exception as exc:
        return type(exc)
    return without_cell_ids(body.data), set(error)


def big_notebook(cells: int = 40, size: int = DIGEST_IN_THREADS) -> dict:
    source = "y = 2  # ✓\n" * (size // cells // 10)
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source, execution_count=i) for i in range(cells)]
    )
    return json.loads(nbformat.writes(nb))


def _odd(change, size: int = 20_000):  # small: jsonschema explains errors slowly
    raw = big_notebook(cells=4, size=size)
    raw["cells"].append(
        {
            "cell_type": "code",
            "id": "extra",
            "execution_count": None,
            "metadata": {},
            "source": "print(1)\n",
            "outputs": [
                {"output_type": "stream", "name": "stdout", "text": "1\n2\n"},
                {"output_type": "display_data", "metadata": {}, "data": {"text/plain": "a\nb"}},
            ],
        }
    )
    raw["cells"].append(
        {
            "cell_type": "markdown",
            "id": "md",
            "metadata": {},
            "source": "![x](attachment:x.png)",
            "attachments": {"x.png": {"image/png": "aGk=", "text/plain": "x\ny"}},
        }
    )
    change(raw)
    return raw


ODD = {
    "as written": lambda raw: None,
    "cell without metadata": lambda raw: raw["cells"][4].pop("metadata"),
    "cell without cell_type": lambda raw: raw["cells"][4].pop("cell_type"),
    "code cell without outputs": lambda raw: raw["cells"][4].pop("outputs"),
    "outputs not a list": lambda raw: raw["cells"][4].update(outputs={"a": 1}),
    "output data a list": lambda raw: raw["cells"][4]["outputs"][1].update(data=["x"]),
    "output not an object": lambda raw: raw["cells"][4]["outputs"].append("text"),
    "attachment not an object": lambda raw: raw["cells"][5]["attachments"].update(y=[1]),
    "attachments a list": lambda raw: raw["cells"][5].update(attachments=[1]),
    "notebook without metadata": lambda raw: raw.pop("metadata"),
    "metadata a list": lambda raw: raw.update(metadata=[["a", 1]]),
    "cell metadata a list": lambda raw: raw["cells"][4].update(metadata=[["a", 1]]),
    "cells not a list": lambda raw: raw.update(cells={"a": 1}),
    "a cell not an object": lambda raw: raw["cells"].append("cell"),
    "duplicate ids": lambda raw: raw["cells"][1].update(id=raw["cells"][0]["id"]),
    "missing id": lambda raw: raw["cells"][2].pop("id"),
    "unhashable id": lambda raw: raw["cells"][2].update(id=["a"]),
    "minor as text": lambda raw: raw.update(nbformat_minor="5"),
    "older minor, no ids": lambda raw: (
        [raw.update(nbformat_minor=4)] + [c.pop("id") for c in raw["cells"]]
    ),
    "unknown minor": lambda raw: raw.update(nbformat_minor=99),
    "transient keys": lambda raw: raw["metadata"].update(orig_nbformat=3, signature="x"),
    "transient key invalid": lambda raw: raw["metadata"].update(orig_nbformat="bad"),
    "trusted invalid": lambda raw: raw["cells"][1]["metadata"].update(trusted="yes"),
}


@pytest.mark.parametrize("name", list(ODD))
def test_odd_notebooks_end_as_nbformat_writes_ends(name):
    """Whatever path a notebook takes, the bytes, the validation error (or the failure)
    are nbformat.writes'."""
    raw = _odd(ODD[name])
    assert encode_outcome(raw) == writes_outcome(raw)


def test_big_invalid_notebook_is_saved_with_its_error():
    """Over DIGEST_IN_THREADS, with string outputs as JupyterLab sends them and an
    invalid cell: nbformat.writes' bytes, and its validation error kept."""
    raw = _odd(lambda raw: None, size=DIGEST_IN_THREADS)
    raw["cells"][1]["execution_count"] = "seven"
    raw["cells"][2]["metadata"]["trusted"] = True  # transient: dropped from the bytes
    expected = writes_outcome(raw)
    assert expected[1] == {"ValidationError"}
    assert encode_outcome(raw) == expected


def test_big_invalid_notebook_validated_while_hashed():
    """The same without anything writing strips: validated beside the hashing threads,
    with the same bytes and error as nbformat.writes."""
    raw = _odd(lambda raw: None, size=DIGEST_IN_THREADS)
    raw["cells"][1]["execution_count"] = "seven"
    expected = writes_outcome(raw)
    assert expected[1] == {"ValidationError"}
    assert encode_outcome(raw) == expected
