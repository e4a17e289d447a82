"""``bookstore share`` and ``bookstore unshare``: links to a file, from the shell.

Registered on the ``bookstore`` group by one import at the end of ``cli.py``.

A URL like ``swift://notebooks/alice/nb.ipynb`` names a key in a whole container,
while a Jupyter server whose contents root is ``alice/`` keeps its records under
``alice/.bookstore/``, and revokes only those when the file is deleted there. So the
contents root is found the way ``history`` finds checkpoints (the deepest folder
above the key whose ``.bookstore/`` knows the file), else from the user's config or
the deepest ``.bookstore/`` above the key (``_share_roots``): shares made here then
show in JupyterLab, die with the file there, and the other way round.
"""

from __future__ import annotations

import click

from bookstore.cli import State, _emit_json, _json_option, _run, _time, main
from bookstore.errors import NotFound
from bookstore.hub import UnsafeUsername
from bookstore.ops import RESERVED, Target, parse_target
from bookstore.settings import configured_store_url
from bookstore.sharing import (
    InvalidShare,
    Share,
    Sharing,
    SharingNotSupported,
    format_duration,
    parse_duration,
)
from bookstore.sharing.service import index_prefix
from bookstore.stores.base import Store, list_all
from bookstore.stores.keys import folders_above
from bookstore.stores.registry import StoreURLError


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_duration(value)
    except InvalidShare as exc:
        raise click.BadParameter(str(exc)) from None
    return value


async def _roots(store: Store, key: str) -> list[tuple[str, str]]:
    """The candidates whose ``.bookstore/`` has checkpoints or shares of the file."""
    from bookstore.contents.checkpoints import checkpoint_prefix

    known = []
    for root, path in folders_above(key):
        for prefix in (checkpoint_prefix(path), index_prefix(path)):
            page = await list_all(store, root + prefix, delimiter="/")
            if page.objects:
                known.append((root, path))
                break
    return known


def _configured_root(state: State, t: Target) -> str | None:
    """The contents root of the user's own Jupyter server, if ``t`` is in its store."""
    try:
        url = configured_store_url(state.config)
        home = parse_target("bookstore://", home=url) if url else None  # decoded, as the server
    except (StoreURLError, UnsafeUsername):  # a config it cannot use only guides less
        return None
    if home is None or (home.scheme, home.location) != (t.scheme, t.location):
        return None
    root = home.key.strip("/")
    root = f"{root}/" if root else ""
    return root if t.key.startswith(root) else None


async def _share_roots(state: State, store: Store, t: Target) -> list[tuple[str, str]]:
    """Where ``t``'s shares are recorded (root, path): every root that already knows the
    file; else the one where a new share goes, where the Jupyter server serving the file
    looks, so that deleting it there revokes the link. In order: the root the user's
    config gives a server; the deepest folder above the file where a server keeps its
    ``.bookstore/``; the store's own root."""
    known = await _roots(store, t.key)
    if known:
        return known
    candidates = folders_above(t.key)
    configured = _configured_root(state, t)
    for root, path in candidates:
        if root == configured:
            return [(root, path)]
    for root, path in candidates:
        page = await list_all(store, f"{root}{RESERVED}/", delimiter="/")
        if page.objects or page.prefixes:
            return [(root, path)]
    return [candidates[-1]]


def _sharing(state: State, store: Store, root: str) -> Sharing:
    try:
        return Sharing(store, root=root, config=state.config)
    except SharingNotSupported as exc:  # memory://, file://: a usage error (exit 2)
        raise click.UsageError(str(exc)) from exc


@main.command()
@click.argument("url")
@click.option(
    "--expires",
    callback=_duration,
    metavar="DURATION",
    help="Lifetime of the signed link: 30m, 1h, 7d... (default: c.Sharing.default_expiry, 7d).",
)
@click.option("--public", is_flag=True, help="A public link that never expires (until unshared).")
@_json_option
@click.pass_obj
def share(state: State, url: str, expires: str | None, public: bool, as_json: bool) -> None:
    """Print a link to the file at URL that works for anyone, without Jupyter.

    The link shows the file as it is now; later edits show only once it is shared
    again. The last line printed is the link itself.
    """
    if public and expires:
        raise click.UsageError("--public links do not expire: drop --expires, or --public")

    async def go() -> Share:
        t = state.target(url)
        store = state.open(t, writable=True)
        try:
            [(root, path), *_] = await _share_roots(state, store, t)
            sharing = _sharing(state, store, root)
            try:
                return await sharing.create(path, "public" if public else "signed", expires)
            finally:
                await sharing.close()
        finally:
            await store.close()

    made = _run(state, as_json, go)
    if as_json:
        _emit_json(made.to_json())
        return
    if made.expires is not None:
        lifetime = format_duration(made.expires - made.created)
        click.echo(f"signed link to {made.path}, expires {_time(made.expires)} ({lifetime})")
    else:
        click.echo(f"public link to {made.path} (until `bookstore unshare`)")
    if made.viewer_url:
        click.echo(f"viewer: {made.viewer_url}")
    click.echo(made.url)


@main.command()
@click.argument("url")
@click.option("--id", "share_id", help="Revoke only this share (default: all of the file's).")
@click.option(
    "--rotate-key",
    is_flag=True,
    help="Also replace the link-signing key (Swift TempURL key): EVERY signed link of "
    "the whole account stops working, whoever made it.",
)
@_json_option
@click.pass_obj
def unshare(state: State, url: str, share_id: str | None, rotate_key: bool, as_json: bool) -> None:
    """Revoke the links to the file at URL: they fail from now on."""

    async def go() -> tuple[list[Share], int | None]:
        t = state.target(url)
        store = state.open(t, writable=True)
        revoked: list[Share] = []
        rotated = None
        try:
            for root, path in await _share_roots(state, store, t):
                sharing = _sharing(state, store, root)
                try:
                    if share_id is None or any(s.id == share_id for s in await sharing.list(path)):
                        revoked += await sharing.delete(path, share_id)
                    if rotate_key and rotated is None:
                        rotated = await sharing.rotate()
                finally:
                    await sharing.close()
        finally:
            await store.close()
        if share_id is not None and not revoked:
            raise NotFound(f"{url} has no share {share_id!r}")
        return revoked, rotated

    revoked, rotated = _run(state, as_json, go)
    if as_json:
        _emit_json({"ok": True, "revoked": [s.id for s in revoked], "rotated": rotated})
        return
    for s in revoked:
        click.echo(f"revoked {s.kind} link {s.id}: {s.url}")
    if not revoked:
        click.echo(f"{url} had no shares")
    if rotated is not None:
        click.echo("rotated the link-signing key: every signed link made so far is dead")
