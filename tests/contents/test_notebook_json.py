"""Our notebook serialiser writes exactly what nbformat.writes writes, on real notebooks."""

from __future__ import annotations

import copy
import json

import nbformat
import pytest
from test_real_notebooks import BUNDLED, CORPUS, corpus_files

from bookstore.contents.models import notebook_json


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
        got = notebook_json(nb, got_error)
        ids = [c.get("id") for c in raw.get("cells", []) if isinstance(c, dict)]
        if None in ids or len(set(ids)) < len(ids):  # repaired with random ids
            got, expected = without_cell_ids(got), without_cell_ids(expected)
        assert got == expected, path
        assert set(got_error) == set(expected_error), path
        checked += 1
    assert checked
    print(f"{checked} notebooks serialised identically ({root.name})")
