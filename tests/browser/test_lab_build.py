"""The lab extension shipped in src/bookstore/labextension is built from today's sources.

It is committed prebuilt, so ``pip install`` needs no Node.js; ``labextension/stamp.mjs``
records a hash of the sources at each build, and this test recomputes it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "labextension"
BUILT = ROOT / "src" / "bookstore" / "labextension"
REBUILD = "rebuild it: make labextension (cd labextension && npm install && npm run build:prod)"


def sources_hash() -> str:
    """What stamp.mjs computes: sha256 over each file's relative path and bytes, sorted."""
    files = ["package.json", "tsconfig.json"]
    files += [f"src/{p.name}" for p in (SOURCES / "src").iterdir()]
    files += [f"style/{p.name}" for p in (SOURCES / "style").iterdir()]
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0".encode())
        digest.update((SOURCES / name).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def test_built_extension_matches_its_sources():
    stamp = BUILT / "sources.sha256"
    assert stamp.is_file(), f"no built lab extension in {BUILT}: {REBUILD}"
    assert stamp.read_text().strip() == sources_hash(), f"the built extension is stale: {REBUILD}"


def test_built_extension_is_small_and_complete():
    meta = json.loads((BUILT / "package.json").read_text())
    entry = BUILT / meta["jupyterlab"]["_build"]["load"]
    assert meta["name"] == "bookstore" and entry.is_file()
    size = sum(p.stat().st_size for p in BUILT.rglob("*") if p.is_file())
    assert size < 200_000, f"the built extension is {size} bytes: was it built for development?"
