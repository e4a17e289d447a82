"""Operations on every object under a prefix: copy, move, delete, with bounded concurrency."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio

from .. import errors
from ..stores.base import Store, list_all

log = logging.getLogger(__name__)
#: Times a move lists its source again for what changed while it copied.
RECHECKS = 3


async def keys_under(store: Store, prefix: str) -> list[str]:
    """Every key under ``prefix`` (recursive), in listing order."""
    return list(await etags_under(store, prefix))


async def etags_under(store: Store, prefix: str) -> dict[str, str]:
    """Each key under ``prefix`` (recursive) with its ETag, in listing order."""
    page = await list_all(store, prefix, delimiter=None)
    return {o.key: o.etag for o in page.objects}


async def copy_keys(
    store: Store,
    pairs: list[tuple[str, str]],
    *,
    concurrency: int,
    roll_back: bool = True,
    done: list[str] | None = None,
) -> None:
    """Server-side copy of each (src, dst); on any failure the copies made are removed
    (unless not ``roll_back``). ``done``: where to note each copy made. A source gone
    meanwhile (deleted, or moved by another server) is skipped."""
    done = [] if done is None else done
    todo = iter(pairs)

    # A few workers sharing the pairs rather than a task per pair: anyio looks through
    # every task whenever one starts a thread (as a Swift request does).
    async def worker() -> None:
        for src, dst in todo:
            try:
                await store.copy_blind(src, dst)  # nothing here uses the copy's metadata
            except errors.NotFound:
                continue
            done.append(dst)

    try:
        async with anyio.create_task_group() as tg:
            for _ in range(min(max(1, concurrency), len(pairs))):
                tg.start_soon(worker)
    except Exception as exc:
        # A store failure: leave the source untouched and the destination as it was.
        # (Cancellation is the process going away: a rename journal finishes the job.)
        if roll_back:
            with anyio.CancelScope(shield=True):
                await _remove_copies(store, done)
        first = errors.first_error(exc)
        if first is exc:
            raise
        raise first from exc


async def _remove_copies(store: Store, done: list[str]) -> None:
    try:
        await store.delete_many(done)
    except Exception:  # the original error matters more
        log.warning("could not remove %d partial copies", len(done), exc_info=True)


async def move_tree(
    store: Store,
    src_prefix: str,
    dst_prefix: str,
    *,
    concurrency: int,
    copied: Callable[[], None] | None = None,
    roll_back: bool = True,
) -> int:
    """Copy everything under ``src_prefix`` to ``dst_prefix``, then delete the originals.

    Nothing is deleted until every copy has succeeded, so a failure in the copies
    leaves the source complete (and, with ``roll_back``, the destination as it was);
    ``copied()`` is called once they all are, before the first delete. Returns the
    number of objects moved.

    The source is listed again before the deletes: what another writer (a server on
    the same prefix, a tool) put there meanwhile is copied too, so the deletes take
    nothing that was not copied. A source still changing after ``RECHECKS`` is a
    PreconditionFailed. What another writer deleted meanwhile is left at the
    destination if it was copied already (a copy too many rather than one too few).
    """
    listed = await etags_under(store, src_prefix)
    todo, done = list(listed), []
    try:
        for _ in range(RECHECKS + 1):
            pairs = [(k, dst_prefix + k[len(src_prefix) :]) for k in todo]
            await copy_keys(store, pairs, concurrency=concurrency, roll_back=False, done=done)
            now = await etags_under(store, src_prefix)
            todo = [key for key, etag in now.items() if listed.get(key) != etag]
            listed.update(now)
            if not todo:
                break
        else:
            raise errors.PreconditionFailed(f"{src_prefix} kept changing while it was moved")
    except Exception:
        if roll_back:
            with anyio.CancelScope(shield=True):
                await _take_back(store, src_prefix, dst_prefix, done)
        raise
    if copied is not None:
        copied()
    await store.delete_many(list(listed))
    return len(listed)


async def _take_back(store: Store, src_prefix: str, dst_prefix: str, done: list[str]) -> None:
    """Remove the copies of a move that failed, but only those whose source is still
    there: another server moving the same folder may have deleted a source after its
    own copy, and then this copy is the only one."""
    try:
        still = await etags_under(store, src_prefix)
    except Exception:  # the original error matters more; keeping copies loses nothing
        log.warning(
            "kept %d copies under %r: cannot tell which are the only ones", len(done), dst_prefix
        )
        return
    ours = [dst for dst in done if src_prefix + dst[len(dst_prefix) :] in still]
    await _remove_copies(store, ours)


async def copy_tree(store: Store, src_prefix: str, dst_prefix: str, *, concurrency: int) -> int:
    keys = await keys_under(store, src_prefix)
    await copy_keys(
        store, [(k, dst_prefix + k[len(src_prefix) :]) for k in keys], concurrency=concurrency
    )
    return len(keys)


async def delete_tree(store: Store, prefix: str) -> int:
    keys = await keys_under(store, prefix)
    await store.delete_many(keys)
    return len(keys)
