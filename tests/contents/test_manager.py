"""BookstoreContentsManager over every store (fixture ``store``: a fresh, empty one)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import json
import os
import subprocess
from contextlib import contextmanager

import anyio
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from tornado.web import HTTPError

from bookstore import BookstoreContentsManager, errors
from bookstore.contents import journals
from bookstore.contents import manager as manager_module
from bookstore.stores.base import list_all
from kinds import rename_dies_midway

RENAMES = ".bookstore/renames/"


@pytest.fixture
def cm(store):
    return BookstoreContentsManager(store=store)


def nb_model(text: str = "print('hi')") -> dict:
    nb = new_notebook(cells=[new_markdown_cell("# Title ü"), new_code_cell(text)])
    return {"type": "notebook", "content": nb}


@contextmanager
def failing_copies(store, fails):
    """``store.copy_blind`` (what moves copy with) raising Unavailable where
    ``fails(src, n)`` says so (``n``: the copy's number, from 1)."""
    real_copy, count = store.copy_blind, itertools.count(1)

    async def copy(src, dst):
        if fails(src, next(count)):
            raise errors.Unavailable("the store went away")
        await real_copy(src, dst)

    store.copy_blind = copy
    try:
        yield
    finally:
        store.copy_blind = real_copy


async def status_of(coro) -> int:
    with pytest.raises(HTTPError) as info:
        await coro
    return info.value.status_code


async def names(cm, path: str = "") -> list[str]:
    return sorted(m["name"] for m in (await cm.get(path))["content"])


async def test_notebook_round_trip(cm):
    saved = await cm.save(nb_model(), "a.ipynb")
    assert saved["type"] == "notebook" and saved["content"] is None
    model = await cm.get("a.ipynb")
    assert model["type"] == "notebook" and model["format"] == "json"
    assert model["content"].cells[1].source == "print('hi')"
    assert model["last_modified"].tzinfo is not None
    assert model["size"] == saved["size"] > 0
    # Stored bytes are exactly what nbformat writes: other tools can read the object.
    _, raw = await cm.store.get("a.ipynb")
    stored = nbformat.reads(raw.decode(), as_version=4)
    assert [(c.id, c.source) for c in stored.cells] == [
        (c.id, c.source) for c in model["content"].cells
    ]
    assert "trusted" not in stored.cells[1].metadata  # trust lives in the notary, not the file


async def test_text_and_binary_files(cm):
    await cm.save({"type": "file", "format": "text", "content": "héllo\n"}, "notes.txt")
    blob = bytes(range(256)) * 4
    b64 = base64.b64encode(blob).decode()
    await cm.save({"type": "file", "format": "base64", "content": b64}, "data.bin")

    text = await cm.get("notes.txt")
    assert (text["content"], text["format"], text["mimetype"]) == ("héllo\n", "text", "text/plain")
    binary = await cm.get("data.bin")
    assert binary["format"] == "base64" and base64.b64decode(binary["content"]) == blob
    assert binary["mimetype"] == "application/octet-stream"
    assert await status_of(cm.get("data.bin", format="text")) == 400
    as_b64 = (await cm.get("notes.txt", format="base64"))["content"]
    assert base64.b64decode(as_b64) == "héllo\n".encode()


async def test_bad_input_is_400_and_changes_nothing(cm):
    await cm.save({"type": "file", "format": "text", "content": "keep"}, "f.txt")
    bad = [
        {"type": "file", "format": "base64", "content": "not base64!!"},
        {"type": "file", "format": "text", "content": 42},
        {"type": "file", "content": "no format"},
        {"type": "notebook", "content": "not a dict"},
        {"type": "notebook", "content": {"cells": "nope"}},
        {"type": "wat", "content": ""},
        {"content": "no type"},
    ]
    for model in bad:
        assert await status_of(cm.save(model, "f.txt")) == 400, model
    assert (await cm.get("f.txt"))["content"] == "keep"


async def test_unreadable_notebook_is_400(cm):
    await cm.store.put("broken.ipynb", b'{"cells": [ <<<<<<< HEAD')
    with pytest.raises(HTTPError) as info:
        await cm.get("broken.ipynb")
    assert info.value.status_code == 400 and "Unreadable Notebook" in info.value.log_message


async def test_type_checks(cm):
    await cm.save(nb_model(), "d/n.ipynb")
    await cm.save({"type": "directory"}, "d/sub")
    assert await status_of(cm.get("d", type="file")) == 400
    assert await status_of(cm.get("d/n.ipynb", type="directory")) == 400
    assert await status_of(cm.get("missing.ipynb")) == 404
    assert await status_of(cm.get("missing", type="directory")) == 404
    assert (await cm.get("d", content=False))["type"] == "directory"
    # A non-notebook name can still be read as a notebook when asked.
    await cm.store.put("nb.json", nbformat.writes(new_notebook()).encode())
    assert (await cm.get("nb.json", type="notebook"))["type"] == "notebook"


async def test_folders_are_listed_with_one_listing(cm):
    await cm.save({"type": "directory"}, "empty")
    await cm.save(nb_model(), "x/y/deep.ipynb")  # parents exist implicitly
    await cm.save({"type": "file", "format": "text", "content": ""}, "top.txt")
    assert await names(cm) == ["empty", "top.txt", "x"]
    assert await names(cm, "empty") == []
    assert await names(cm, "x") == ["y"]
    listing = await cm.get("x/y")
    [entry] = listing["content"]
    assert entry["path"] == "x/y/deep.ipynb" and entry["content"] is None
    assert await cm.dir_exists("empty") and await cm.dir_exists("x/y")
    assert not await cm.dir_exists("top.txt") and await cm.file_exists("top.txt")


async def test_unicode_and_spaces_at_every_depth(cm):
    path = "Données 2024/报告 草稿/ملاحظات 🚀/my notebook 多元.ipynb"
    await cm.save(nb_model("x = 'ü'"), path)
    model = await cm.get(path)
    assert model["name"] == "my notebook 多元.ipynb"
    assert model["content"].cells[1].source == "x = 'ü'"
    assert await names(cm, "Données 2024/报告 草稿") == ["ملاحظات 🚀"]


async def test_hidden_files(store):
    cm = BookstoreContentsManager(store=store)
    await store.put(".secret", b"s")
    await store.put("d/.env", b"e")
    assert await names(cm) == ["d"]
    assert await names(cm, "d") == []
    assert await status_of(cm.get(".secret")) == 404
    assert await status_of(cm.save({"type": "directory"}, ".hidden")) == 400
    assert await status_of(cm.delete(".secret")) == 400
    assert await cm.is_hidden("d/.env")

    open_cm = BookstoreContentsManager(store=store, allow_hidden=True)
    assert await names(open_cm) == [".secret", "d"]
    assert (await open_cm.get("d/.env"))["content"] == "e"


async def test_bookstore_area_is_reserved(cm):
    await cm.save(nb_model(), "a.ipynb")
    await cm.create_checkpoint("a.ipynb")
    cm.allow_hidden = True
    assert ".bookstore" not in await names(cm)
    assert await status_of(cm.get(".bookstore")) == 404
    assert await status_of(cm.save({"type": "directory"}, ".bookstore/x")) == 400
    assert await status_of(cm.delete(".bookstore")) == 400


async def test_require_hash(cm):
    await cm.save({"type": "file", "format": "text", "content": "abc"}, "h.txt")
    expected = hashlib.sha256(b"abc").hexdigest()
    for content in (True, False):
        model = await cm.get("h.txt", content=content, require_hash=True)
        assert (model["hash"], model["hash_algorithm"]) == (expected, "sha256")
    assert (await cm.get("h.txt"))["hash"] is None
    # Written by another tool: no stored hash, so it is computed from the bytes.
    await cm.store.put("other.txt", b"xyz")
    model = await cm.get("other.txt", content=False, require_hash=True)
    assert model["hash"] == hashlib.sha256(b"xyz").hexdigest()
    await cm.save(nb_model(), "n.ipynb")
    _, raw = await cm.store.get("n.ipynb")
    model = await cm.get("n.ipynb", content=False, require_hash=True)
    assert model["hash"] == hashlib.sha256(raw).hexdigest()


async def test_new_untitled_and_copy_names(cm):
    first = await cm.new_untitled(type="notebook")
    second = await cm.new_untitled(type="notebook")
    folder = await cm.new_untitled(type="directory")
    text = await cm.new_untitled(type="file", ext=".txt")
    assert [first["name"], second["name"]] == ["Untitled.ipynb", "Untitled1.ipynb"]
    assert (folder["name"], text["name"]) == ("Untitled Folder", "untitled.txt")

    copy1 = await cm.copy("Untitled.ipynb")
    copy2 = await cm.copy("Untitled.ipynb")
    assert (copy1["name"], copy2["name"]) == ("Untitled-Copy1.ipynb", "Untitled-Copy2.ipynb")
    assert (await cm.get(copy1["path"]))["content"] == (await cm.get("Untitled.ipynb"))["content"]
    into = await cm.copy("Untitled.ipynb", "Untitled Folder")
    assert into["path"] == "Untitled Folder/Untitled.ipynb"


async def test_copy_folder(cm):
    await cm.save(nb_model(), "proj/a.ipynb")
    await cm.save({"type": "file", "format": "text", "content": "x"}, "proj/data/x.csv")
    model = await cm.copy("proj")
    assert model["path"] == "proj-Copy1" and model["type"] == "directory"
    assert await names(cm, "proj-Copy1") == ["a.ipynb", "data"]
    assert (await cm.get("proj-Copy1/data/x.csv"))["content"] == "x"
    # Into itself, as on a disk: what it held when the copy began, once.
    assert (await cm.copy("proj", "proj/inner"))["path"] == "proj/inner"
    assert await names(cm, "proj/inner") == ["a.ipynb", "data"]
    assert await status_of(cm.copy("proj/a.ipynb", "proj/a.ipynb")) == 400  # onto itself


async def test_rename_file_and_folder(cm):
    await cm.save(nb_model(), "a.ipynb")
    await cm.rename("a.ipynb", "b.ipynb")
    assert await names(cm) == ["b.ipynb"]

    for i in range(30):
        await cm.save({"type": "file", "format": "text", "content": str(i)}, f"src/f{i}.txt")
    await cm.save({"type": "directory"}, "src/empty")
    await cm.save(nb_model(), "src/deep/n.ipynb")
    await cm.rename("src", "dst")
    assert not await cm.dir_exists("src")
    assert len(await names(cm, "dst")) == 32
    assert (await cm.get("dst/f7.txt"))["content"] == "7"
    assert await cm.dir_exists("dst/empty")
    # Renaming back leaves nothing behind.
    await cm.rename("dst", "src")
    assert await names(cm) == ["b.ipynb", "src"]


async def test_rename_errors_change_nothing(cm):
    await cm.save(nb_model(), "a.ipynb")
    await cm.save(nb_model("other"), "b.ipynb")
    await cm.save({"type": "directory"}, "d")
    assert await status_of(cm.rename("a.ipynb", "b.ipynb")) == 409
    assert await status_of(cm.rename("a.ipynb", "d")) == 409
    assert await status_of(cm.rename("nope.ipynb", "c.ipynb")) == 404
    assert await status_of(cm.rename("d", "d/inside")) == 400
    assert (await cm.get("b.ipynb"))["content"].cells[1].source == "other"
    assert await names(cm) == ["a.ipynb", "b.ipynb", "d"]


async def test_delete_file_and_folder(cm):
    await cm.save(nb_model(), "keep.ipynb")
    await cm.save(nb_model(), "gone/a.ipynb")
    await cm.save({"type": "directory"}, "gone/sub")
    await cm.delete("gone")
    assert await names(cm) == ["keep.ipynb"]
    await cm.delete("keep.ipynb")
    assert await names(cm) == []
    assert await status_of(cm.delete("keep.ipynb")) == 404
    assert await status_of(cm.delete("")) == 400
    # Their checkpoints went with them.
    assert (await list_all(cm.store, ".bookstore/", delimiter=None)).objects == []


async def test_many_checkpoints(cm):
    cm.checkpoints.max_checkpoints = 20
    await cm.save(nb_model("v0"), "c.ipynb")  # a first save creates one checkpoint
    ids = [(await cm.list_checkpoints("c.ipynb"))[0]["id"]]
    for i in range(1, 25):
        await cm.save(nb_model(f"v{i}"), "c.ipynb")
        ids.append((await cm.create_checkpoint("c.ipynb"))["id"])
    listed = await cm.list_checkpoints("c.ipynb")
    # Oldest first, as JupyterLab expects (it offers the list reversed); oldest pruned.
    assert [c["id"] for c in listed] == ids[-20:]
    assert all(a["last_modified"] <= b["last_modified"] for a, b in itertools.pairwise(listed))

    await cm.restore_checkpoint(ids[5], "c.ipynb")  # v5
    assert (await cm.get("c.ipynb"))["content"].cells[1].source == "v5"
    assert await status_of(cm.restore_checkpoint(ids[0], "c.ipynb")) == 404  # pruned
    await cm.delete_checkpoint(ids[6], "c.ipynb")
    assert ids[6] not in [c["id"] for c in await cm.list_checkpoints("c.ipynb")]

    await cm.rename("c.ipynb", "folder/renamed.ipynb")
    assert await cm.list_checkpoints("c.ipynb") == []
    assert len(await cm.list_checkpoints("folder/renamed.ipynb")) == 19
    await cm.rename("folder", "other")
    assert len(await cm.list_checkpoints("other/renamed.ipynb")) == 19
    await cm.delete("other/renamed.ipynb")
    assert await cm.list_checkpoints("other/renamed.ipynb") == []


async def test_checkpoint_ids_are_validated(cm):
    await cm.save(nb_model(), "c.ipynb")
    assert await status_of(cm.restore_checkpoint("../../c.ipynb", "c.ipynb")) == 400
    assert await status_of(cm.delete_checkpoint("nope", "c.ipynb")) == 404


async def test_chunked_upload_is_invisible_until_complete(cm):
    parts = [bytes([i]) * 1000 + b"|" for i in range(5)]
    for n, part in enumerate(parts, start=1):
        chunk = -1 if n == len(parts) else n
        model = {
            "type": "file",
            "format": "base64",
            "chunk": chunk,
            "content": base64.b64encode(part).decode(),
        }
        result = await cm.save(model, "up/big.bin")
        if chunk != -1:
            assert await status_of(cm.get("up/big.bin")) == 404
            assert await names(cm) == []
    assert result["size"] == sum(map(len, parts))
    got = await cm.get("up/big.bin", format="base64")
    assert base64.b64decode(got["content"]) == b"".join(parts)
    staged = await list_all(cm.store, ".bookstore/uploads/", delimiter=None)
    assert staged.objects == []


async def test_chunk_out_of_order_is_refused(cm):
    model = {"type": "file", "format": "text", "content": "x"}
    await cm.save({**model, "chunk": 1}, "f.txt")
    assert await status_of(cm.save({**model, "chunk": 3}, "f.txt")) == 400
    assert await status_of(cm.save({**model, "chunk": 0}, "f.txt")) == 400
    assert await status_of(cm.save({**model, "type": "notebook", "chunk": 2}, "f.txt")) == 400
    assert await status_of(cm.get("f.txt")) == 404


async def test_save_emits_events(cm):
    seen: list[dict] = []

    async def listener(logger, schema_id, data):
        seen.append(dict(data))

    cm.event_logger.add_listener(schema_id=cm.event_schema_id, listener=listener)
    await cm.save(nb_model(), "e.ipynb")
    await cm.rename("e.ipynb", "f.ipynb")
    await cm.delete("f.ipynb")
    await anyio.sleep(0.05)
    actions = [(d["action"], d["path"]) for d in seen]
    assert ("save", "e.ipynb") in actions
    assert ("rename", "f.ipynb") in actions and ("delete", "f.ipynb") in actions


async def test_trust(cm):
    nb = new_notebook(cells=[new_code_cell("1", outputs=[])])
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", {"text/html": "<b>x</b>"})]
    nb.cells[0].metadata.trusted = True  # the browser marks cells it ran
    await cm.save({"type": "notebook", "content": nb}, "t.ipynb")
    model = await cm.get("t.ipynb")
    assert model["content"].cells[0].metadata.get("trusted") is True  # we signed it on save
    nb.cells.append(new_code_cell("2"))
    await cm.store.put("t.ipynb", nbformat.writes(nb).encode())  # changed by someone else
    model = await cm.get("t.ipynb")
    assert not model["content"].cells[0].metadata.get("trusted")
    await cm.trust_notebook("t.ipynb")
    assert (await cm.get("t.ipynb"))["content"].cells[0].metadata.get("trusted") is True


async def test_info_string_names_store_but_no_secret(store):
    cm = BookstoreContentsManager(store=store)
    assert cm.info_string().startswith("Serving notebooks from ")


async def test_folder_rename_interrupted_is_finished_on_restart(store, jp_asyncio_loop):
    cm = BookstoreContentsManager(store=store, concurrency=1)
    for i in range(12):
        await cm.save({"type": "file", "format": "text", "content": str(i)}, f"proj/f{i:02d}.txt")
    await cm.save(nb_model(), "proj/n.ipynb")
    await cm.create_checkpoint("proj/n.ipynb")

    await rename_dies_midway(cm, "proj", "done", at_copy=5)
    # Meanwhile this server refused to show either half.
    # A new server on the same store finishes the job before anything else.
    fresh = BookstoreContentsManager(store=store)
    assert await fresh.resume_renames() == 1
    assert not await fresh.dir_exists("proj")
    assert await names(fresh, "done") == [*(f"f{i:02d}.txt" for i in range(12)), "n.ipynb"]
    assert (await fresh.get("done/f07.txt"))["content"] == "7"
    assert len(await fresh.list_checkpoints("done/n.ipynb")) == 2  # first save's and ours
    assert await fresh.resume_renames() == 0


async def test_folder_being_renamed_answers_409(store):
    cm = BookstoreContentsManager(store=store)
    await cm.save(nb_model(), "top/busy/a.ipynb")
    started, release = anyio.Event(), anyio.Event()
    real_copy = store.copy_blind  # what folder moves copy with

    async def slow_copy(src, dst):
        started.set()
        await release.wait()
        return await real_copy(src, dst)

    store.copy_blind = slow_copy
    async with anyio.create_task_group() as tg:
        tg.start_soon(cm.rename, "top/busy", "top/moved")
        await started.wait()
        for call in (
            cm.get("top/busy/a.ipynb"),
            cm.get("top/moved"),
            cm.save(nb_model(), "top/busy/b.ipynb"),
            cm.rename("top", "elsewhere"),  # a folder holding it would move it too
            cm.delete("top"),
        ):
            assert await status_of(call) == 409
        release.set()
    store.copy_blind = real_copy
    assert await names(cm, "top/moved") == ["a.ipynb"]
    assert await names(cm, "top") == ["moved"]


async def test_abandoned_uploads_are_swept(cm):
    part = {"type": "file", "format": "text", "content": "x", "chunk": 1}
    await cm.save(part, "old.bin")
    await cm.save(part, "fresh.bin")
    cm.abandoned_upload_age = 3600
    assert await cm.sweep_abandoned_uploads() == 0  # both just started
    await anyio.sleep(1.1)  # stores keep times to the second, S3 rounded up
    cm.abandoned_upload_age = 0
    assert await cm.sweep_abandoned_uploads() == 2
    assert (await list_all(cm.store, ".bookstore/uploads/", delimiter=None)).objects == []


# --- found by comparing with FileContentsManager, and by breaking renames ---------------------


async def test_checkpoints_follow_the_path_rules_of_files(cm):
    # .bookstore/ holds share records and rename journals: a checkpoint of one, restored
    # later, could bring a revoked link or an old rename back.
    await cm.store.put(".bookstore/shares/x/secret.txt", b"secret")
    for call in (
        cm.create_checkpoint(".bookstore/shares/x/secret.txt"),
        cm.restore_checkpoint("20260101T000000-000000Z", ".bookstore/shares/x/secret.txt"),
        cm.delete_checkpoint("20260101T000000-000000Z", ".bookstore/shares/x/secret.txt"),
    ):
        assert await status_of(call) == 400
    assert await status_of(cm.list_checkpoints(".bookstore/shares/x/secret.txt")) == 404
    assert await status_of(cm.create_checkpoint(".hidden.txt")) == 400  # allow_hidden off
    assert (await list_all(cm.store, ".bookstore/checkpoints/", delimiter=None)).objects == []


async def test_base64_read_saves_back_unchanged(cm):
    blob = bytes(range(256)) * 40  # encodebytes breaks this into lines
    await cm.save(
        {"type": "file", "format": "base64", "content": base64.b64encode(blob).decode()}, "b.bin"
    )
    model = await cm.get("b.bin", format="base64")
    assert "\n" in model["content"]
    await cm.save({"type": "file", "format": "base64", "content": model["content"]}, "b2.bin")
    assert (await cm.store.get("b2.bin"))[1] == blob


async def test_notebook_bytes_are_file_contents_managers(cm, tmp_path):
    from jupyter_server.services.contents.filemanager import AsyncFileContentsManager

    disk = AsyncFileContentsManager(root_dir=str(tmp_path))
    model = nb_model("x = 'ü'")
    await disk.save(model, "n.ipynb")
    await cm.save(nb_model("x = 'ü'"), "n.ipynb")
    on_disk = (tmp_path / "n.ipynb").read_bytes()
    stored = (await cm.store.get("n.ipynb"))[1]
    assert stored.endswith(b"}\n")  # the newline nbformat.write ends a file with
    cell_ids = [c.id for c in nbformat.reads(on_disk.decode(), 4).cells]
    for cell_id, other in zip(
        cell_ids, [c.id for c in nbformat.reads(stored.decode(), 4).cells], strict=True
    ):
        stored = stored.replace(other.encode(), cell_id.encode())  # random cell ids aside
    assert stored == on_disk


async def test_a_name_is_a_file_or_a_folder_never_both(cm):
    await cm.save({"type": "file", "format": "text", "content": "f"}, "f.txt")
    await cm.save({"type": "directory"}, "d")
    await cm.save(nb_model(), "d/n.ipynb")
    before = sorted(o.key for o in (await list_all(cm.store, delimiter=None)).objects)
    text = {"type": "file", "format": "text", "content": "x"}
    refused = [
        (text, "d"),  # a file named as a folder
        (nb_model(), "d"),
        (text, "f.txt/x.txt"),  # below a file
        (text, "f.txt/deeper/x.txt"),
        ({"type": "directory"}, "f.txt/sub"),
        ({**text, "chunk": 1}, "d"),
    ]
    for model, path in refused:
        assert await status_of(cm.save(model, path)) == 400, path
    assert await status_of(cm.rename("d/n.ipynb", "f.txt/n.ipynb")) == 400
    after = sorted(o.key for o in (await list_all(cm.store, delimiter=None)).objects)
    assert [k for k in after if not k.startswith(".bookstore/")] == [
        k for k in before if not k.startswith(".bookstore/")
    ]
    # Overwrites and new names stay as they were.
    await cm.save({**text, "content": "f2"}, "f.txt")
    await cm.save(text, "d/x.txt")
    assert (await cm.get("f.txt"))["content"] == "f2"


async def test_a_last_chunk_without_its_first_is_refused(cm):
    part = {"type": "file", "format": "text", "content": "x"}
    await cm.save({**part, "chunk": 1}, "up.bin")
    assert await status_of(cm.save({**part, "chunk": 3}, "up.bin")) == 400  # lost chunk 2
    # The parts went with the refusal: the last chunk alone would be a truncated file.
    assert await status_of(cm.save({**part, "chunk": -1}, "up.bin")) == 400
    assert await status_of(cm.get("up.bin")) == 404


async def test_rename_that_fails_while_deleting_is_finished_on_next_access(store):
    cm = BookstoreContentsManager(store=store)
    for i in range(4):
        await cm.save({"type": "file", "format": "text", "content": str(i)}, f"proj/f{i}.txt")
    await cm.save(nb_model(), "proj/n.ipynb")
    real_delete_many = store.delete_many
    deletes = 0

    async def delete_many_then_fail(keys):  # the store fails after the first delete
        nonlocal deletes
        deletes += 1
        if deletes == 1:
            await real_delete_many(keys[:1])
            raise errors.Unavailable("the store went away")
        await real_delete_many(keys)

    store.delete_many = delete_many_then_fail
    try:
        assert await status_of(cm.rename("proj", "done")) == 503
    finally:
        store.delete_many = real_delete_many
    # Every copy was made and a source object is gone: the rename can only go forward,
    # and it does before anything else is served.
    assert await names(cm, "done") == ["f0.txt", "f1.txt", "f2.txt", "f3.txt", "n.ipynb"]
    assert not await cm.dir_exists("proj")
    assert len(await cm.list_checkpoints("done/n.ipynb")) == 1
    assert (await list_all(store, ".bookstore/renames/", delimiter=None)).objects == []


async def test_rename_that_fails_while_copying_leaves_the_folder_and_no_journal(store):
    cm = BookstoreContentsManager(store=store, concurrency=1)
    for i in range(4):
        await cm.save({"type": "file", "format": "text", "content": str(i)}, f"proj/f{i}.txt")
    with failing_copies(store, lambda src, n: n == 3):
        assert await status_of(cm.rename("proj", "done")) == 503
    assert await names(cm, "proj") == ["f0.txt", "f1.txt", "f2.txt", "f3.txt"]
    assert not await cm.dir_exists("done")
    assert (await list_all(store, ".bookstore/renames/", delimiter=None)).objects == []


async def test_file_whose_checkpoints_failed_to_follow_gets_them_on_next_access(store):
    cm = BookstoreContentsManager(store=store)
    await cm.save(nb_model(), "a.ipynb")
    await cm.create_checkpoint("a.ipynb")
    with failing_copies(store, lambda src, n: src.startswith(".bookstore/checkpoints/")):
        assert await status_of(cm.rename("a.ipynb", "b.ipynb")) == 503
    assert (await cm.get("b.ipynb"))["type"] == "notebook"  # the file itself moved
    assert len(await cm.list_checkpoints("b.ipynb")) == 2
    assert await cm.list_checkpoints("a.ipynb") == []


async def half_renamed(store, files: int, *, at_copy: int) -> None:
    """``proj/`` of ``files`` text files, renamed to ``done/`` by a server that died."""
    cm = BookstoreContentsManager(store=store, concurrency=1)
    for i in range(files):
        await cm.save({"type": "file", "format": "text", "content": str(i)}, f"proj/f{i}.txt")
    await rename_dies_midway(cm, "proj", "done", at_copy=at_copy)


async def test_interrupted_rename_is_finished_by_the_first_request(store):
    await half_renamed(store, 6, at_copy=3)
    # A server whose start could not reach the store never ran resume_renames: its
    # first request finishes the rename before answering.
    fresh = BookstoreContentsManager(store=store)
    assert await names(fresh, "done") == [f"f{i}.txt" for i in range(6)]
    assert not await fresh.dir_exists("proj")


async def test_an_unreadable_rename_journal_is_set_aside(store):
    await store.put(".bookstore/renames/broken.json", b"{not json")
    cm = BookstoreContentsManager(store=store)
    await cm.save({"type": "file", "format": "text", "content": "x"}, "a.txt")  # not blocked
    kept = [o.key for o in (await list_all(store, ".bookstore/renames/", delimiter=None)).objects]
    assert kept == [".bookstore/renames/unreadable/broken.json"]
    assert await cm.resume_renames() == 0


async def test_a_copy_is_typed_and_checkpointed_as_a_save_would_be(cm):
    await cm.save(nb_model(), "n.ipynb")
    copy = await cm.copy("n.ipynb", "")
    assert copy["type"] == "notebook"
    assert len(await cm.list_checkpoints(copy["path"])) == 1  # its first, as a save makes
    saved = await cm.save({"type": "file", "format": "text", "content": "{}"}, "f.ipynb")
    assert saved["type"] == "notebook"  # typed by its name, as FileContentsManager answers


async def test_a_folder_pasted_into_itself_is_copied_once(cm):
    await cm.save(nb_model(), "Folder/a.ipynb")
    copy = await cm.copy("Folder", "Folder")  # JupyterLab: copy, open the folder, paste
    assert copy["path"] == "Folder/Folder"
    assert await names(cm, "Folder") == ["Folder", "a.ipynb"]
    assert await names(cm, "Folder/Folder") == ["a.ipynb"]


async def test_the_folder_holding_one_being_renamed_can_still_be_listed(store):
    cm = BookstoreContentsManager(store=store)
    await cm.save(nb_model(), "top/busy/a.ipynb")
    await cm.save(nb_model(), "top/other.ipynb")
    cm._moving.add("top/busy")  # as during a rename of top/busy
    assert "other.ipynb" in await names(cm, "top")  # JupyterLab refreshes it meanwhile
    assert await status_of(cm.rename("top", "x")) == 409
    cm._moving.clear()


async def test_two_resumes_of_one_journal_never_run_at_once(store):
    await half_renamed(store, 6, at_copy=3)
    fresh = BookstoreContentsManager(store=store)
    # The server's start resuming and a browser's first poll, side by side: the poll
    # waits, and never resumes the same journal a second time.
    async with anyio.create_task_group() as tg:
        tg.start_soon(fresh.resume_renames)
        tg.start_soon(fresh.get, "")
    assert await names(fresh, "done") == [f"f{i}.txt" for i in range(6)]


async def test_a_rename_that_cannot_be_finished_yet_blocks_only_its_folders(store):
    await store.put("else.txt", b"x")
    await half_renamed(store, 4, at_copy=2)
    fresh = BookstoreContentsManager(store=store)
    with failing_copies(store, lambda src, n: True):
        # Other files are served; the rename's folders answer 409 until it is finished.
        assert (await fresh.get("else.txt"))["content"] == "x"
        assert await status_of(fresh.get("proj")) == 409
        assert await status_of(fresh.get("done/f0.txt")) == 409
    fresh._settle_after = 0.0  # the retry's time has come
    assert await names(fresh, "done") == [f"f{i}.txt" for i in range(4)]
    assert not await fresh.dir_exists("proj")


async def test_a_copy_below_a_file_is_refused(cm):
    await cm.save({"type": "file", "format": "text", "content": "f"}, "f.txt")
    await cm.save({"type": "file", "format": "text", "content": "g"}, "g.txt")
    assert await status_of(cm.copy("g.txt", "f.txt/g.txt")) == 400
    assert await status_of(cm.get("f.txt/g.txt")) == 404


# --- two servers on one prefix (a JupyterHub user's named servers) -----------------------


def another_server(store) -> BookstoreContentsManager:
    """A manager that sees this test's others as servers on another host."""
    other = BookstoreContentsManager(store=store)
    other._watch = journals.Watch(journals.Owner("another-host", 1, "its-run"))
    return other


async def rename_left_running(store, owner: journals.Owner) -> None:
    """``proj/`` (3 files) half renamed to ``done/`` by ``owner``, still at it."""
    await half_renamed(store, 3, at_copy=2)
    [obj] = (await list_all(store, RENAMES, delimiter="/")).objects
    journal = journals.Journal.decode(obj.key, (await store.get(obj.key))[1])
    await store.put(obj.key, dataclasses.replace(journal, owner=owner).encode())


def live_process_here() -> journals.Owner:
    return dataclasses.replace(journals.Owner.new(), pid=os.getppid(), run="its-run")


def this_pid_in_another_container() -> journals.Owner:
    """Containers often share a host name and start at the same pid: another pid
    namespace (or boot) makes that pid say nothing about the owner."""
    return dataclasses.replace(journals.Owner.new(), run="its-run", space="another-namespace")


@pytest.mark.parametrize(
    "owner",
    [
        journals.Owner("another-host", 1, "its-run"),
        live_process_here(),
        this_pid_in_another_container(),
    ],
    ids=["another-host", "live-process-here", "same-pid-another-container"],
)
async def test_a_rename_another_server_is_running_is_left_to_it(store, monkeypatch, owner):
    await store.put("else.txt", b"x")
    await rename_left_running(store, owner)
    cm = BookstoreContentsManager(store=store)
    assert (await cm.get("else.txt"))["content"] == "x"
    # Both folders answer 409 meanwhile, and nothing of the rename is touched.
    assert await status_of(cm.get("proj")) == 409
    assert await status_of(cm.get("done/f0.txt")) == 409
    assert len((await list_all(store, "proj/", delimiter=None)).objects) == 3
    # Its journal stopped changing (that server died): after STALE, the rename is finished.
    monkeypatch.setattr(journals, "STALE", 0.0)
    cm._next_look = 0.0
    assert await names(cm, "done") == ["f0.txt", "f1.txt", "f2.txt"]
    assert not await cm.dir_exists("proj")
    assert (await list_all(store, RENAMES, delimiter=None)).objects == []


def ended_process_here() -> journals.Owner:
    with subprocess.Popen(["true"]) as ended:
        pass  # leaving waits for it
    return dataclasses.replace(journals.Owner.new(), pid=ended.pid, run="its-run")


async def test_a_rename_whose_process_is_gone_is_finished_at_once(store):
    await rename_left_running(store, ended_process_here())
    cm = BookstoreContentsManager(store=store)
    assert await names(cm, "done") == ["f0.txt", "f1.txt", "f2.txt"]


async def test_a_running_rename_renews_its_journal_and_others_wait_for_it(store, monkeypatch):
    monkeypatch.setattr(journals, "HEARTBEAT", 0.05)
    monkeypatch.setattr(journals, "STALE", 0.5)
    monkeypatch.setattr(manager_module, "JOURNAL_LOOK", 0.0)
    cm = BookstoreContentsManager(store=store)
    await cm.save(nb_model(), "proj/a.ipynb")
    other = another_server(store)
    assert await names(other, "proj") == ["a.ipynb"]  # started before the rename
    started, release = anyio.Event(), anyio.Event()
    real_copy = store.copy_blind

    async def slow_copy(src, dst):
        started.set()
        await release.wait()
        return await real_copy(src, dst)

    store.copy_blind = slow_copy
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(cm.rename, "proj", "done")
            await started.wait()
            [obj] = (await list_all(store, RENAMES, delimiter="/")).objects
            beats = set()
            for _ in range(6):  # longer than STALE: the heartbeat keeps it the first's
                assert await status_of(other.get("proj/a.ipynb")) == 409
                beats.add(json.loads((await store.get(obj.key))[1])["written"])
                await anyio.sleep(0.15)
            assert len(beats) > 2
            assert len((await list_all(store, "proj/", delimiter=None)).objects) == 1
            release.set()
    finally:
        store.copy_blind = real_copy
    await anyio.sleep(0.2)  # no renewal in flight brings the journal back
    assert (await list_all(store, RENAMES, delimiter=None)).objects == []
    assert await names(other, "done") == ["a.ipynb"]
    assert not await other.dir_exists("proj")


async def test_what_another_writer_puts_in_a_folder_being_moved_moves_with_it(store):
    cm = BookstoreContentsManager(store=store, concurrency=1)
    for name in ("a.txt", "b.txt", "c.txt"):
        await cm.save({"type": "file", "format": "text", "content": "old"}, f"proj/{name}")
    real_copy, copies = store.copy_blind, 0

    async def copy_while_another_server_writes(src, dst):
        nonlocal copies
        await real_copy(src, dst)
        copies += 1
        if copies == 2:  # a.txt and b.txt are copied already; this server can't see it
            await store.put("proj/a.txt", b"newer")
            await store.put("proj/new.txt", b"added")

    store.copy_blind = copy_while_another_server_writes
    try:
        await cm.rename("proj", "done")
    finally:
        store.copy_blind = real_copy
    assert await names(cm, "done") == ["a.txt", "b.txt", "c.txt", "new.txt"]
    assert (await cm.get("done/a.txt"))["content"] == "newer"
    assert (await cm.get("done/new.txt"))["content"] == "added"
    assert not await cm.dir_exists("proj")


async def test_a_folder_that_keeps_changing_is_not_moved(store):
    cm = BookstoreContentsManager(store=store)
    await cm.save({"type": "file", "format": "text", "content": "0"}, "proj/a.txt")
    real_copy, writes = store.copy_blind, itertools.count(1)

    async def copy_while_another_writer_never_stops(src, dst):
        await real_copy(src, dst)
        await store.put("proj/a.txt", str(next(writes)).encode())

    store.copy_blind = copy_while_another_writer_never_stops
    try:
        assert await status_of(cm.rename("proj", "done")) == 409
    finally:
        store.copy_blind = real_copy
    assert await names(cm, "proj") == ["a.txt"]  # left as it was, the copies rolled back
    assert not await cm.dir_exists("done")
    assert (await list_all(store, RENAMES, delimiter=None)).objects == []


async def test_a_rename_another_server_takes_over_while_it_runs_loses_nothing(store):
    # Another manager in this process sees this one's journal as an earlier life's:
    # the takeover a wrong guess about the owner would make, side by side with it.
    cm = BookstoreContentsManager(store=store, concurrency=1)
    for i in range(6):
        await cm.save({"type": "file", "format": "text", "content": str(i)}, f"proj/f{i}.txt")
    real_copy, copies, other = store.copy_blind, 0, BookstoreContentsManager(store=store)

    async def copy_while_another_server_takes_over(src, dst):
        nonlocal copies
        copies += 1
        if copies == 3:
            store.copy_blind = real_copy
            assert await names(other, "") == ["done"]  # it finished the whole rename
        await real_copy(src, dst)

    store.copy_blind = copy_while_another_server_takes_over
    try:
        await cm.rename("proj", "done")  # its sources vanish under it: skipped, not lost
    finally:
        store.copy_blind = real_copy
    assert await names(cm, "done") == [f"f{i}.txt" for i in range(6)]
    assert (await cm.get("done/f5.txt"))["content"] == "5"
    assert not await cm.dir_exists("proj")


async def test_two_servers_finishing_one_abandoned_rename_lose_nothing(store):
    await half_renamed(store, 6, at_copy=3)
    first, second = BookstoreContentsManager(store=store), BookstoreContentsManager(store=store)
    async with anyio.create_task_group() as tg:
        tg.start_soon(first.resume_renames)
        tg.start_soon(second.resume_renames)
    for cm in (first, second):
        cm._next_look = 0.0
        assert await names(cm, "done") == [f"f{i}.txt" for i in range(6)]
        assert not await cm.dir_exists("proj")


async def test_a_failed_look_for_renames_fails_no_request(store):
    cm = BookstoreContentsManager(store=store)
    await cm.save({"type": "file", "format": "text", "content": "x"}, "a.txt")  # settled
    real_list = store.list

    def list_failing_for_journals(prefix, **kwargs):
        if prefix.startswith(RENAMES):
            raise errors.Unavailable("the listing failed")
        return real_list(prefix, **kwargs)

    store.list = list_failing_for_journals
    try:
        cm._next_look = 0.0  # the periodic look is due
        assert (await cm.get("a.txt"))["content"] == "x"
    finally:
        store.list = real_list


async def test_a_file_deleted_from_a_folder_being_moved_fails_nothing(store):
    cm = BookstoreContentsManager(store=store, concurrency=1)
    for name in ("a.txt", "b.txt", "c.txt"):
        await cm.save({"type": "file", "format": "text", "content": name}, f"proj/{name}")
    real_copy = store.copy_blind

    async def copy_while_another_writer_deletes(src, dst):
        if src.endswith("a.txt"):
            await store.delete("proj/c.txt")  # not copied yet
        await real_copy(src, dst)

    store.copy_blind = copy_while_another_writer_deletes
    try:
        await cm.rename("proj", "done")
    finally:
        store.copy_blind = real_copy
    assert await names(cm, "done") == ["a.txt", "b.txt"]
    assert not await cm.dir_exists("proj")
