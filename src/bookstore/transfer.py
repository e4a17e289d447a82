"""Copy trees of objects between any two stores: push, pull, sync and migrate.

One engine for all of them. ``plan`` lists both sides (one recursive listing
each) and decides, per object, whether to copy it (new, or a different size or
MD5) or skip it; ``run`` carries the plan out with at most ``jobs`` objects in
flight. Because every ``Store.put`` is atomic, an interrupted run leaves each
object either complete or absent, and running it again sends only what is
missing: that is the whole resume mechanism.

MD5s come from ETags where the store vouches for them (``ObjectMeta.etag_is_md5``:
plain objects on Swift, S3 and memory; files a LocalStore wrote); otherwise (a
Swift large object, an S3 multipart upload, a file a person put in a folder) the
object is read and hashed, streamed, and only then. Every copy is checked: the
bytes sent against the destination's MD5 and the source's, where they have one,
and their count against the source's size. Objects larger than
``stream_threshold`` are streamed end to end, so memory stays bounded by
``jobs * stream_threshold`` whatever the object sizes.

What a tree includes: everything under the source prefix, except store
internals (``.bookstore-*`` names) and Bookstore's reserved ``.bookstore/``
folders; with ``checkpoints=True`` (migrate) their ``checkpoints/`` subtree
comes too, but never staged uploads. Folder markers (keys ending ``/``) are
objects like any other, so empty folders survive.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio

from . import errors
from .stores.base import ObjectMeta, Store, list_all
from .stores.keys import folders_above

log = logging.getLogger(__name__)

RESERVED = ".bookstore"
CHECKPOINTS = "checkpoints"
#: Names stores keep for themselves (LocalStore staging, Swift compose manifests).
STORE_INTERNAL = ".bookstore-"
DEFAULT_JOBS = 8
#: Objects up to this size are read whole; larger ones are streamed.
DEFAULT_STREAM_THRESHOLD = 8 << 20
CHUNK_SIZE = 1 << 20
#: Failures that will fail every other object too: stop at once instead of trying them all.
FATAL = (errors.Unauthenticated, errors.PermissionDenied)

Action = Literal["copy", "skip", "delete"]


def wanted(rel: str, *, checkpoints: bool = False) -> bool:
    """Whether the relative key ``rel`` belongs in a transferred tree (see the module doc)."""
    parts = rel.split("/")
    if any(p.startswith(STORE_INTERNAL) for p in parts):
        return False
    for i, part in enumerate(parts):
        if part == RESERVED:
            rest = parts[i + 1 :]
            return checkpoints and len(rest) >= 2 and rest[0] == CHECKPOINTS and rest[-1] != ""
    return True


@dataclass(frozen=True)
class Item:
    """One object of a plan."""

    action: Action
    rel: str  # key relative to the tree (the source's for copies, the destination's for deletes)
    dst_key: str
    src: ObjectMeta | None = None
    dst: ObjectMeta | None = None
    reason: str = ""  # copy: "new" | "size" | "md5"; skip: "same"; delete: "extra"

    @property
    def size(self) -> int:
        meta = self.src or self.dst
        return meta.size if meta else 0


@dataclass
class Plan:
    src: Store
    dst: Store
    items: list[Item]
    sources: int = 0  # objects the source tree holds
    #: Source entries the listing could not include (path -> why): symlinks, non-UTF-8 names.
    left_out: dict[str, str] = field(default_factory=dict)

    def of(self, action: Action) -> list[Item]:
        return [i for i in self.items if i.action == action]

    @property
    def bytes_to_copy(self) -> int:
        return sum(i.size for i in self.of("copy"))


@dataclass
class Report:
    """What a run did; ``to_json`` is the CLI's ``--json`` answer."""

    transferred: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)  # see Plan.left_out
    bytes: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.left_out

    def to_json(self, *, keys: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "transferred": len(self.transferred),
            "skipped": len(self.skipped),
            "deleted": len(self.deleted),
            "failed": len(self.failed),
            "left_out": len(self.left_out),
            "bytes": self.bytes,
        }
        if keys:
            out["keys"] = {
                "transferred": self.transferred,
                "skipped": self.skipped,
                "deleted": self.deleted,
                "failed": self.failed,
                "left_out": self.left_out,
            }
        return out


class Progress:
    """Callbacks while planning and running; the default does nothing. Called on the loop."""

    def planned(self, plan: Plan) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more bytes were sent (called per chunk for streamed objects)."""

    def finished(self, item: Item, error: Exception | None) -> None:
        pass


# --- planning ---------------------------------------------------------------------------


async def tree(store: Store, prefix: str, *, checkpoints: bool = False) -> dict[str, ObjectMeta]:
    """Every wanted object under ``prefix`` (recursive), by key relative to it."""
    page = await list_all(store, prefix, delimiter=None)
    out = {}
    for meta in page.objects:
        rel = meta.key[len(prefix) :]
        if wanted(rel, checkpoints=checkpoints):
            out[rel] = meta
    return out


async def md5_of(store: Store, meta: ObjectMeta) -> str:
    """The MD5 hex digest of an object's bytes: its ETag if the store vouches for it, else
    read it."""
    return meta.md5 or await _read_md5(store, meta.key)


async def _read_md5(store: Store, key: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    _, chunks = await store.get_stream(key, chunk_size=CHUNK_SIZE)
    async with aclosing(_aiter(chunks)) as body:
        async for chunk in body:
            digest.update(chunk)
    return digest.hexdigest()


async def _aiter(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` as an async generator (so ``aclosing`` can close it), closing the source."""
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()


async def plan(
    src: Store,
    src_prefix: str,
    dst: Store,
    dst_prefix: str,
    *,
    delete: bool = False,
    checkpoints: bool = False,
    jobs: int = DEFAULT_JOBS,
    only: dict[str, ObjectMeta] | None = None,
) -> Plan:
    """What to do to make the tree ``dst_prefix`` hold what ``src_prefix`` holds.

    ``only`` replaces the source listing (a single-file transfer: ``{"": meta}``
    maps the object to ``dst_prefix`` itself, taken then as a key).
    """
    ours: dict[str, ObjectMeta] = {}
    theirs: dict[str, ObjectMeta] = {}

    async def list_dst() -> None:
        nonlocal theirs
        try:
            if only is not None and "" in only:
                theirs = {"": await dst.head(dst_prefix)}
            else:
                theirs = await tree(dst, dst_prefix, checkpoints=checkpoints)
        except errors.NotFound:  # no such object, or no container/bucket yet: nothing there
            theirs = {}

    async def list_src() -> None:
        nonlocal ours
        ours = only if only is not None else await tree(src, src_prefix, checkpoints=checkpoints)
        # An empty entry whose ETag the store does not vouch for may stand in for more
        # (a Swift DLO lists as its empty manifest): HEAD gives its real size, so a copy
        # of that size is streamed.
        empty = [r for r, m in ours.items() if m.size == 0 and not m.etag_is_md5]
        limiter = anyio.CapacityLimiter(max(1, jobs))

        async def head(rel: str) -> None:
            async with limiter:
                listed = ours[rel]
                try:
                    got = await src.head(listed.key)
                except errors.NotFound:  # deleted meanwhile
                    del ours[rel]
                    return
                if got.size != listed.size:  # it stood in for more: a large object, whose
                    got = dataclasses.replace(got, etag_is_md5=False)  # ETag is no MD5
                ours[rel] = got

        if empty and only is None:
            async with anyio.create_task_group() as tg:
                for rel in empty:
                    tg.start_soon(head, rel)

    with errors.one_error():
        async with anyio.create_task_group() as tg:
            tg.start_soon(list_src)
            tg.start_soon(list_dst)

    items: list[Item | None] = []
    limiter = anyio.CapacityLimiter(max(1, jobs))

    async def compare(i: int, rel: str, mine: ObjectMeta, other: ObjectMeta) -> None:
        async with limiter:
            same = await md5_of(src, mine) == await md5_of(dst, other)
        items[i] = Item(
            "skip" if same else "copy", rel, other.key, mine, other, "same" if same else "md5"
        )

    with errors.one_error():
        async with anyio.create_task_group() as tg:
            for rel, mine in sorted(ours.items()):
                dst_key = dst_prefix + rel
                if not dst_key:  # the source folder's own marker, bound for the root: no such key
                    continue
                other = theirs.get(rel)
                if other is None:
                    items.append(Item("copy", rel, dst_key, mine, None, "new"))
                elif other.size != mine.size:
                    items.append(Item("copy", rel, dst_key, mine, other, "size"))
                else:
                    items.append(None)
                    tg.start_soon(compare, len(items) - 1, rel, mine, other)
    done = [i for i in items if i is not None]
    # A LocalStore says what its listing had to leave out (symlinks, non-UTF-8 names).
    unlisted: dict[str, str] = dict(getattr(src, "unlisted", {}))
    left_out = {path: why for path, (key, why) in unlisted.items() if key.startswith(src_prefix)}
    if delete and only is None:
        done += [
            Item("delete", rel, meta.key, None, meta, "extra")
            for rel, meta in sorted(theirs.items())
            if rel not in ours and rel  # "": the destination folder's own marker stays
        ]
    return Plan(src, dst, done, len(ours), {} if only is not None else left_out)


# --- running ----------------------------------------------------------------------------


async def copy_object(
    src: Store,
    meta: ObjectMeta,
    dst: Store,
    dst_key: str,
    *,
    stream_threshold: int = DEFAULT_STREAM_THRESHOLD,
    on_bytes: Callable[[int], None] = lambda n: None,
) -> ObjectMeta:
    """Copy one object between stores, with its content type and user metadata.

    Small objects go in one read and one put; larger ones stream chunk by chunk.
    A read shorter or longer than the size the source announced is refused before
    the destination keeps it. The MD5 of the bytes sent is then checked against the
    destination's and the source's, where the store vouches for them (``ObjectMeta.md5``).
    """
    digest = hashlib.md5(usedforsecurity=False)

    def corrupt(what: str) -> errors.StoreError:
        return errors.StoreError(f"copy of {meta.key!r} to {dst_key!r} is corrupt: {what}")

    def check_size(got: ObjectMeta, count: int) -> None:
        if count != got.size:
            raise corrupt(f"{count} bytes read, {got.size} expected")

    if meta.size <= stream_threshold:
        got, data = await src.get(meta.key)
        digest.update(data)
        check_size(got, len(data))
        written = await _put(dst, dst_key, data, got)
        on_bytes(len(data))
    else:
        got, chunks = await src.get_stream(meta.key, chunk_size=CHUNK_SIZE)

        async def counted() -> AsyncIterator[bytes]:
            count = 0
            async with aclosing(_aiter(chunks)) as body:
                async for chunk in body:
                    digest.update(chunk)
                    count += len(chunk)
                    on_bytes(len(chunk))
                    yield chunk
            check_size(got, count)  # raised from the body: the put is aborted

        written = await _put(dst, dst_key, counted(), got)
    sent = digest.hexdigest()
    if written.md5 is not None and written.md5 != sent:
        raise corrupt(f"the destination stored MD5 {written.md5}, {sent} was sent")
    source_md5 = got.md5 if meta.etag_is_md5 else None  # what planning learnt counts too
    if source_md5 is not None and source_md5 != sent:
        # Either the read was bad, or the store vouched for an ETag that is no MD5 of the
        # bytes (S3 with SSE-KMS or SSE-C). Only this mismatch costs a second read, and
        # it tells the two apart.
        again = await _read_md5(src, meta.key)
        if again != sent:
            raise corrupt(f"MD5 {sent} was read, then {again}")
        log.warning("%r: its ETag %s is not the MD5 of its bytes after all", meta.key, got.etag)
    return written


async def _put(dst: Store, key: str, data: Any, meta: ObjectMeta) -> ObjectMeta:
    try:
        return await dst.put(
            key, data, content_type=meta.content_type, metadata=dict(meta.metadata)
        )
    except errors.InvalidRequest:
        # Metadata one store accepts and another refuses (Swift: no '_' in names)
        # must not stop a migration; a streamed body is spent, so only bytes retry.
        if not meta.metadata or not isinstance(data, bytes):
            raise
        log.warning(
            "%r: the destination refused its metadata %s; copied without", key, meta.metadata
        )
        return await dst.put(key, data, content_type=meta.content_type)


async def run(
    plan: Plan,
    *,
    jobs: int = DEFAULT_JOBS,
    dry_run: bool = False,
    progress: Progress | None = None,
    stream_threshold: int = DEFAULT_STREAM_THRESHOLD,
) -> Report:
    """Carry out ``plan``: copies in parallel, then (only if every copy worked) deletes.

    A failed object is reported and the others go on, except for auth failures
    (``FATAL``), which stop the run and are raised.
    """
    progress = progress or Progress()
    report = Report(dry_run=dry_run)
    report.skipped = [i.dst_key for i in plan.of("skip")]
    progress.planned(plan)
    for item in plan.of("skip"):
        progress.finished(item, None)
    copies, deletes = plan.of("copy"), plan.of("delete")
    report.left_out = dict(plan.left_out)
    if dry_run:
        report.transferred = [i.dst_key for i in copies]
        report.deleted = [i.dst_key for i in deletes] if report.ok else []
        report.bytes = plan.bytes_to_copy
        return report

    limiter = anyio.CapacityLimiter(max(1, jobs))

    def count(n: int) -> None:
        report.bytes += n
        progress.advance(n)

    async def one(item: Item) -> None:
        assert item.src is not None
        async with limiter:
            try:
                await copy_object(
                    plan.src,
                    item.src,
                    plan.dst,
                    item.dst_key,
                    stream_threshold=stream_threshold,
                    on_bytes=count,
                )
            except FATAL:
                raise
            except errors.StoreError as exc:
                report.failed[item.dst_key] = str(exc)
                progress.finished(item, exc)
                return
        report.transferred.append(item.dst_key)
        progress.finished(item, None)

    with errors.one_error():  # a FATAL error (the others are reported per object)
        async with anyio.create_task_group() as tg:
            # Small objects first: a run cut short has then finished as many files as it could.
            for item in sorted(copies, key=lambda i: (i.size, i.dst_key)):
                tg.start_soon(one, item)

    if deletes and report.ok:
        await plan.dst.delete_many([i.dst_key for i in deletes])
        report.deleted = [i.dst_key for i in deletes]
        for item in deletes:
            progress.finished(item, None)
    return report


# --- the commands' entry point ----------------------------------------------------------


async def _is_folder(store: Store, key: str, *, missing: bool | None = None) -> bool:
    """Whether ``key/`` holds anything; a missing container/bucket gives ``missing``
    (None: raise NotFound)."""
    try:
        async with aclosing(store.list(key.rstrip("/") + "/", delimiter="/")) as pages:
            async for page in pages:
                return bool(page.objects or page.prefixes)
    except errors.NotFound:
        if missing is None:
            raise
        return missing
    return False


async def resolve(
    src: Store, src_key: str, dst: Store, dst_key: str
) -> tuple[str, str, dict[str, ObjectMeta] | None]:
    """``(src_prefix, dst_prefix, only)`` for ``plan``, from two keys as a person gives them.

    A source key naming an object copies that object: to ``dst_key`` itself, or into
    it when it names a folder (``""``, ``…/``, or an existing folder). Otherwise the
    source is the folder ``src_key/`` and its *contents* go under ``dst_key/``
    (rsync's ``src/ dst``). NotFound if the source is neither.
    """
    if src_key and not src_key.endswith("/"):
        try:
            meta = await src.head(src_key)
        except errors.NotFound:
            meta = None
        if meta is not None:
            name = src_key.rsplit("/", 1)[-1]
            if (
                not dst_key
                or dst_key.endswith("/")
                or await _is_folder(dst, dst_key, missing=False)
            ):
                return "", dst_key.rstrip("/") + "/" + name if dst_key else name, {"": meta}
            return "", dst_key, {"": meta}
    src_prefix = src_key.rstrip("/") + "/" if src_key else ""
    if src_prefix and not await _is_folder(src, src_prefix):
        raise errors.NotFound(f"no object or folder {src_key!r} in {src.description}")
    return src_prefix, dst_key.rstrip("/") + "/" if dst_key else "", None


async def sync(
    src: Store,
    src_key: str,
    dst: Store,
    dst_key: str,
    *,
    delete: bool = False,
    checkpoints: bool = False,
    dry_run: bool = False,
    verify: bool = False,
    jobs: int = DEFAULT_JOBS,
    progress: Progress | None = None,
    stream_threshold: int = DEFAULT_STREAM_THRESHOLD,
) -> Report:
    """Make ``dst_key`` on ``dst`` hold what ``src_key`` on ``src`` holds; see ``resolve``.

    ``verify`` plans again afterwards and fails (StoreError) if anything still differs.
    ``delete`` from a source holding nothing is refused (NotFound): that is a folder
    not there (a typo, a disk not mounted) far more often than a wish to empty ``dst``.
    """
    src_prefix, dst_prefix, only = await resolve(src, src_key, dst, dst_key)

    async def planned(delete: bool) -> Plan:
        steps = await plan(
            src,
            src_prefix,
            dst,
            dst_prefix,
            delete=delete,
            checkpoints=checkpoints,
            jobs=jobs,
            only=only,
        )
        if checkpoints and only is None and src_prefix:
            await _add_checkpoints_above(steps, src_prefix, dst_prefix, delete=delete, jobs=jobs)
        return steps

    steps = await planned(delete)
    if delete and only is None and not steps.sources and (doomed := steps.of("delete")):
        raise errors.NotFound(
            f"nothing to sync from: {src.description} has nothing at {src_key or 'its root'!r}; "
            f"refusing to delete all {len(doomed)} object(s) at the destination "
            "(`bookstore rm -r` empties a folder)"
        )
    report = await run(
        steps, jobs=jobs, dry_run=dry_run, progress=progress, stream_threshold=stream_threshold
    )
    if verify and report.ok and not dry_run:
        again = await planned(False)
        if differ := again.of("copy"):
            raise errors.StoreError(
                f"verification failed: {len(differ)} object(s) differ after the copy, "
                f"e.g. {differ[0].dst_key!r} ({differ[0].reason})"
            )
    return report


async def _add_checkpoints_above(
    steps: Plan, src_prefix: str, dst_prefix: str, *, delete: bool, jobs: int
) -> None:
    """Add to ``steps`` the checkpoints of folder ``src_prefix`` kept at a contents root
    above it (``<root>/.bookstore/checkpoints/<folder>/``, the deepest root that has
    any), bound for the destination store's root area for ``dst_prefix``."""
    if RESERVED in src_prefix.split("/"):
        return
    for root, path in folders_above(src_prefix):
        where = f"{root}{RESERVED}/{CHECKPOINTS}/{path}/"
        if await _is_folder(steps.src, where, missing=False):
            break
    else:
        return
    dst_where = f"{RESERVED}/{CHECKPOINTS}/{dst_prefix}"
    extra = await plan(steps.src, where, steps.dst, dst_where, delete=delete, jobs=jobs)
    claimed = {i.dst_key for i in extra.items}  # dst_prefix "": the tree holds them too
    steps.items = [i for i in steps.items if i.dst_key not in claimed] + extra.items
    steps.sources += extra.sources
    steps.left_out.update(extra.left_out)
