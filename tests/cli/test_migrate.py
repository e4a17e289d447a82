"""``bookstore migrate`` local -> every store kind -> local keeps every byte and checkpoint.

Parametrized over ``kinds.STORE_KINDS`` (memory, local, swift, and s3 once it is
there), each against its real server, and over the bundled notebooks and the
real-world corpus (``../shared/notebooks`` or ``$BOOKSTORE_CORPUS``; skipped,
and saying so, when absent).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_helpers import BUNDLED, files_under

from bookstore.contents.checkpoints import checkpoint_prefix, new_checkpoint_id

CORPUS = Path(
    os.environ.get("BOOKSTORE_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "notebooks")
)


@pytest.fixture(
    params=[
        pytest.param(BUNDLED, id="bundled"),
        pytest.param(CORPUS, id="corpus", marks=pytest.mark.corpus),
    ]
)
def corpus(request) -> Path:
    if not request.param.is_dir():
        pytest.skip(f"real-notebook corpus absent at {request.param}; set BOOKSTORE_CORPUS")
    return request.param


def make_source(corpus: Path, root: Path) -> tuple[dict[str, bytes], dict[str, list[str]]]:
    """A Bookstore contents root on disk: the corpus, checkpoints, an empty folder and a
    staged upload. Returns the files a migration must carry, and the checkpoint ids."""
    shutil.copytree(corpus, root)
    notebooks = sorted(p for p in root.rglob("*.ipynb"))[:3]
    ids: dict[str, list[str]] = {}
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for n, nb in enumerate(notebooks):
        key = nb.relative_to(root).as_posix()
        for version in range(2):
            cid = new_checkpoint_id(start + timedelta(minutes=10 * n + version))
            ids.setdefault(key, []).insert(0, cid)
            target = root / (checkpoint_prefix(key) + cid)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(nb.read_bytes()[: 100 * (version + 1)])
    (root / "empty folder").mkdir()
    expected = files_under(root)
    staged = root / ".bookstore" / "uploads" / "big.bin" / "part-00000001"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"half an upload")
    return expected, ids


def test_migrate_round_trip(cli, store_kind, store_config, corpus, tmp_path):
    url, options = store_config
    middle = url.rstrip("/") + "/"
    config = tmp_path / "store.json"
    config.write_text(json.dumps(options))
    src, dst = tmp_path / "src", tmp_path / "dst"
    expected, ids = make_source(corpus, src)

    def migrate(a: str, b: str) -> dict:
        return cli.json("--config", str(config), "migrate", "-q", a, b)

    there = migrate(f"file://{src}/", middle)
    assert there["ok"] and there["failed"] == 0
    assert there["transferred"] == len(expected) + 1  # + the empty folder's marker
    assert not any("uploads" in k for k in there["keys"]["transferred"])

    # The checkpoints arrived where the server (and `history`) looks for them.
    key, newest_first = next(iter(ids.items()))
    listed = cli.json("--config", str(config), "history", middle + key)
    assert [c["id"] for c in listed] == newest_first

    # Again: nothing to send (a re-run after an interruption sends only what is missing).
    again = migrate(f"file://{src}/", middle)
    assert (again["transferred"], again["skipped"]) == (0, len(expected) + 1)

    back = migrate(middle, f"file://{dst}/")
    assert back["ok"] and back["transferred"] == len(expected) + 1
    assert files_under(dst) == expected
    assert (dst / "empty folder").is_dir()
    assert not (dst / ".bookstore" / "uploads").exists()
