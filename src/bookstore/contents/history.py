"""A file's checkpoints, straight from a store: no contents manager, no Jupyter server.

``BookstoreCheckpoints`` keeps them at ``<root>.bookstore/checkpoints/<path>/<id>``,
where ``<root>`` is the contents root the server was given (its store URL's
prefix). A tool that only has an object key (``alice/nb.ipynb``) does not know
that root, so every function here looks at each folder above the key in turn
(``""``, ``"alice/"``): ``checkpoint_locations`` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .. import errors
from ..stores.base import ObjectMeta, Store, each, list_all
from ..stores.keys import folders_above
from .bulk import delete_tree
from .checkpoints import CHECKPOINT_ROOT, checkpoint_prefix, checkpoint_time, new_checkpoint_id


@dataclass(frozen=True)
class Checkpoint:
    id: str
    key: str  # the checkpoint object's key in the store
    created: datetime  # from the id (UTC); the object's time if the id is not ours
    size: int


def checkpoint_locations(key: str) -> list[str]:
    """Checkpoint prefixes that may hold ``key``'s checkpoints, deepest root first.

    ``a/b/nb.ipynb`` -> ``a/b/.bookstore/checkpoints/nb.ipynb/``,
    ``a/.bookstore/checkpoints/b/nb.ipynb/``, ``.bookstore/checkpoints/a/b/nb.ipynb/``.
    A key inside a reserved area has none.
    """
    if not key.strip("/") or CHECKPOINT_ROOT.split("/")[0] in key.split("/"):
        return []
    return [root + checkpoint_prefix(path) for root, path in folders_above(key)]


def _checkpoint(meta: ObjectMeta) -> Checkpoint:
    cid = meta.key.rsplit("/", 1)[-1]
    return Checkpoint(cid, meta.key, checkpoint_time(cid, meta.last_modified), meta.size)


async def _each_location(store: Store, key: str) -> list[list[ObjectMeta]]:
    """The checkpoint objects at every candidate location (one listing each, concurrently)."""

    async def one(prefix: str) -> list[ObjectMeta]:
        page = await list_all(store, prefix, delimiter="/")
        return [o for o in page.objects if o.key != prefix]

    return await each(one, checkpoint_locations(key))


async def list_checkpoints(store: Store, key: str) -> list[Checkpoint]:
    """``key``'s checkpoints, newest first (from the deepest root that has any)."""
    for objects in await _each_location(store, key):
        if objects:
            return sorted(map(_checkpoint, objects), key=lambda c: c.id, reverse=True)
    return []


async def restore_checkpoint(
    store: Store, key: str, checkpoint_id: str
) -> tuple[Checkpoint, Checkpoint | None]:
    """Copy checkpoint ``checkpoint_id`` (or ``latest``) over ``key``, server-side, after
    checkpointing what ``key`` holds now (next to the other checkpoints), so the restore
    can itself be undone. Returns the checkpoint restored and that new one (None when
    there was no file to keep).

    NotFound if ``key`` has no such checkpoint.
    """
    check_id(checkpoint_id)
    found = await list_checkpoints(store, key)
    for candidate in found:
        if checkpoint_id in (candidate.id, "latest"):
            location = candidate.key[: -len(candidate.id)]
            # The newest, even beside checkpoints a server with a clock ahead made: then
            # `latest` undoes this restore.
            newest = max(c.created for c in found) + timedelta(microseconds=1)
            saved_id = new_checkpoint_id(max(datetime.now(UTC), newest))
            try:
                saved = _checkpoint(await store.copy(key, location + saved_id))
            except errors.NotFound:  # no file now: the restore brings it back
                saved = None
            await store.copy(candidate.key, key)
            return candidate, saved
    raise errors.NotFound(f"{key!r} has no checkpoint {checkpoint_id!r}")


async def delete_checkpoints(store: Store, key: str) -> int:
    """Delete every checkpoint of ``key`` (a file, or every file under a folder).

    Returns how many objects went.
    """
    total = 0
    for prefix in checkpoint_locations(key):
        total += await delete_tree(store, prefix)
    return total


# --- with a known contents root (the REST API: the manager's store, root "") ---------------

CURRENT = "current"  # the version id of the file as it is now


async def checkpoints_at(store: Store, path: str) -> list[Checkpoint]:
    """``path``'s checkpoints where a contents manager on ``store`` keeps them, newest first.

    One listing: the root is known, so no other location is looked at.
    """
    prefix = checkpoint_prefix(path)
    page = await list_all(store, prefix, delimiter="/")
    found = [_checkpoint(o) for o in page.objects if o.key != prefix]
    return sorted(found, key=lambda c: c.id, reverse=True)


async def read_version(store: Store, path: str, version: str) -> tuple[ObjectMeta, bytes]:
    """The bytes of ``path`` at checkpoint ``version``, or now for ``"current"``.

    NotFound names the checkpoint when it is the one missing.
    """
    if version == CURRENT:
        return await store.get(path)
    check_id(version)
    try:
        return await store.get(checkpoint_prefix(path) + version)
    except errors.NotFound:
        raise errors.NotFound(f"{path!r} has no checkpoint {version!r}") from None


async def restore_keeping_current(
    store: Store, path: str, checkpoint_id: str
) -> tuple[Checkpoint, ObjectMeta]:
    """Put checkpoint ``checkpoint_id`` back as ``path``, after checkpointing what ``path``
    holds now, so a restore can itself be undone. Both steps are server-side copies.

    Returns the checkpoint of the replaced content and what ``path`` holds now. Pruning
    to ``max_checkpoints`` is left to the next checkpoint the manager makes (it would
    otherwise be free to prune the very checkpoint being restored).
    """
    check_id(checkpoint_id)
    source = checkpoint_prefix(path) + checkpoint_id
    try:
        await store.head(source)
    except errors.NotFound:
        raise errors.NotFound(f"{path!r} has no checkpoint {checkpoint_id!r}") from None
    saved = await store.copy(path, checkpoint_prefix(path) + new_checkpoint_id())
    return _checkpoint(saved), await store.copy(source, path)


def check_id(checkpoint_id: str) -> None:
    if not checkpoint_id or "/" in checkpoint_id or checkpoint_id.startswith("."):
        raise errors.InvalidRequest(f"invalid checkpoint id {checkpoint_id!r}")
