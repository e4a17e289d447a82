"""The ``bookstore`` command: thin wrappers over ``ops`` and ``transfer``.

Exit codes (scripts may rely on them; README, "The bookstore command"):

    0 ok · 1 failure (some objects failed, corrupt copy, ...) · 2 usage (bad option
    or URL) · 3 not found · 4 credentials missing or rejected, or permission
    denied · 5 store unavailable (unreachable, kept failing) · 130 interrupted
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import anyio
import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text
from traitlets.config import Config

from bookstore import errors, ops, transfer
from bookstore.devswift.commands import swift_aio
from bookstore.hub import UnsafeUsername
from bookstore.settings import ConfigError, configured_store_url, jupyter_config, read_only
from bookstore.stores.base import Store
from bookstore.stores.registry import StoreURLError

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_AUTH = 4
EXIT_UNAVAILABLE = 5
EXIT_INTERRUPTED = 130

#: Most specific first: the first match decides the exit code.
_EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (errors.NotFound, EXIT_NOT_FOUND),
    (errors.Unauthenticated, EXIT_AUTH),
    (errors.PermissionDenied, EXIT_AUTH),
    (errors.Unavailable, EXIT_UNAVAILABLE),
    (StoreURLError, EXIT_USAGE),
    (UnsafeUsername, EXIT_USAGE),
    (ConfigError, EXIT_USAGE),
    (ops.UsageError, EXIT_USAGE),
    (errors.StoreError, EXIT_FAILURE),
    (OSError, EXIT_FAILURE),
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class State:
    """What the group's options give every command."""

    config_files: list[str] = field(default_factory=list)
    _config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = jupyter_config(self.config_files)
        return self._config

    def target(self, arg: str) -> ops.Target:
        home = configured_store_url(self.config) if arg.startswith("bookstore:") else None
        return ops.target(arg, home=home)

    def open(self, t: ops.Target, *, writable: bool = False) -> Store:
        return ops.open_target(t, self.config if writable else read_only(self.config))


def _fail(exc: BaseException, as_json: bool) -> NoReturn:
    code = next((c for kind, c in _EXIT_CODES if isinstance(exc, kind)), EXIT_FAILURE)
    message = str(exc) or type(exc).__name__
    if as_json:
        error = {"type": type(exc).__name__, "message": message, "exit_code": code}
        click.echo(json.dumps({"ok": False, "error": error}))
    err.print(f"bookstore: error: {message}", markup=False)
    sys.exit(code)


#: What a command reports as one line and an exit code; anything else is a bug: a traceback.
_REPORTED = (errors.StoreError, StoreURLError, UnsafeUsername, ConfigError, OSError)


@contextmanager
def _reported(as_json: bool) -> Iterator[None]:
    """Failures as a message on stderr (and JSON on stdout) and the exit code of their kind."""
    try:
        yield
    except KeyboardInterrupt:
        err.print("bookstore: interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except BaseExceptionGroup as group:  # a task group's failure: report its first error
        first = errors.first_error(group)
        if not isinstance(first, _REPORTED):
            raise
        _fail(first, as_json)
    except _REPORTED as exc:
        _fail(exc, as_json)


def _run(state: State, as_json: bool, fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn`` on an event loop, turning failures into messages and exit codes."""
    with _reported(as_json):
        return anyio.run(fn)
    raise AssertionError("unreachable")  # _reported exits or re-raises


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=None, default=_json_default, ensure_ascii=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


def _time(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else ""


def _table(columns: list[tuple[str, str]], rows: list[tuple[str, ...]]) -> None:
    """A table on a terminal; tab-separated lines, never wrapped or cut, in a pipe."""
    if not out.is_terminal:
        for row in rows:
            click.echo("\t".join(Text.from_markup(cell).plain for cell in row))
        return
    table = Table(box=None, pad_edge=False, show_edge=False)
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row)
    out.print(table)


_json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A Jupyter config file (.py or .json) read after the usual ones; repeatable.",
)
@click.pass_context
def main(ctx: click.Context, config_files: tuple[str, ...]) -> None:
    """Bookstore: notebooks in object storage.

    URLs: swift://CONTAINER/PATH, s3://BUCKET/PATH, file:///DIR/PATH, memory://NAME/PATH,
    or bookstore://PATH (in the store your Jupyter server uses). A path ending in /
    is a folder. Credentials come from your Jupyter server config (c.SwiftStore...,
    c.S3Store...) and the environment (ST_AUTH/ST_USER/ST_KEY, AWS_*).

    Exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 auth, 5 unavailable.
    """
    ctx.obj = State(list(config_files))


# --- browsing ---------------------------------------------------------------------------


@main.command()
@click.argument("url")
@click.option("-a", "--all", "show_all", is_flag=True, help="Show Bookstore's .bookstore/ area.")
@_json_option
@click.pass_obj
def ls(state: State, url: str, show_all: bool, as_json: bool) -> None:
    """List a folder (name, size, modified), or show one file."""

    async def go() -> list[ops.Entry]:
        t = state.target(url)
        store = state.open(t)
        try:
            return await ops.ls(store, t.key, show_all=show_all)
        finally:
            await store.close()

    entries = _run(state, as_json, go)
    if as_json:
        _emit_json([e.__dict__ for e in entries])
        return
    _table(
        [("name", "left"), ("size", "right"), ("modified", "left")],
        [
            (
                f"[bold]{escape(e.name)}[/]" if e.kind == "folder" else escape(e.name),
                _size(e.size),
                _time(e.modified),
            )
            for e in entries
        ],
    )


@main.command()
@click.argument("url")
@click.pass_obj
def cat(state: State, url: str) -> None:
    """Write a file's bytes to standard output."""
    stdout = sys.stdout.buffer

    async def go() -> None:
        t = state.target(url)
        store = state.open(t)
        try:
            async for chunk in ops.cat(store, t.key):
                stdout.write(chunk)
            stdout.flush()
        finally:
            await store.close()

    _run(state, False, go)


@main.command()
@click.argument("url")
@click.option("-r", "--recursive", is_flag=True, help="Delete a folder and everything in it.")
@_json_option
@click.pass_obj
def rm(state: State, url: str, recursive: bool, as_json: bool) -> None:
    """Delete a file and its checkpoints (-r: a folder and everything under it).

    Its links (``bookstore share``, JupyterLab's Share) are revoked: they fail from now on.
    """

    async def go() -> ops.Removed:
        t = state.target(url)
        store = state.open(t, writable=True)
        try:
            return await ops.rm(store, t.key, recursive=recursive, config=state.config)
        finally:
            await store.close()

    removed = _run(state, as_json, go)
    if as_json:
        _emit_json({"ok": True, **removed.__dict__})
    else:
        links = f", revoked {removed.links} link(s)" if removed.links else ""
        out.print(
            f"removed {removed.objects} object(s), {removed.checkpoints} checkpoint(s){links}"
        )


@main.command()
@click.argument("url")
@_json_option
@click.pass_obj
def history(state: State, url: str, as_json: bool) -> None:
    """A file's checkpoints, newest first."""

    async def go() -> list[Any]:
        t = state.target(url)
        store = state.open(t)
        try:
            return await ops.checkpoints(store, t.key)
        finally:
            await store.close()

    found = _run(state, as_json, go)
    if as_json:
        _emit_json([{"id": c.id, "created": c.created, "size": c.size} for c in found])
        return
    if not found:
        out.print("no checkpoints")
        return
    _table(
        [("checkpoint", "left"), ("created", "left"), ("size", "right")],
        [(c.id, _time(c.created), _size(c.size)) for c in found],
    )


@main.command()
@click.argument("url")
@click.argument("checkpoint")
@_json_option
@click.pass_obj
def restore(state: State, url: str, checkpoint: str, as_json: bool) -> None:
    """Put a file back as it was at CHECKPOINT (an id from `history`, or `latest`);
    what it held is kept as a new checkpoint, so `restore URL latest` undoes it."""

    async def go() -> Any:
        t = state.target(url)
        store = state.open(t, writable=True)
        try:
            return await ops.restore(store, t.key, checkpoint)
        finally:
            await store.close()

    c, saved = _run(state, as_json, go)
    if as_json:
        kept = None if saved is None else {"id": saved.id, "created": saved.created}
        _emit_json({"ok": True, "restored": c.id, "created": c.created, "saved": kept})
        return
    out.print(f"restored {url} to checkpoint {c.id} ({_time(c.created)})", markup=False)
    if saved is not None:
        out.print(f"what it held is kept as checkpoint {saved.id}", markup=False)


# --- copying ----------------------------------------------------------------------------


class _Bars(transfer.Progress):
    """A rich progress bar on stderr: bytes sent, and objects done out of those to copy."""

    def __init__(self) -> None:
        self.bars = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        self.task = self.bars.add_task("planning", total=None)
        self.done = self.total = 0
        self.bars.start()

    def planned(self, plan: transfer.Plan) -> None:
        self.total = len(plan.of("copy"))
        self.bars.update(self.task, description=self._what(), total=plan.bytes_to_copy or None)

    def advance(self, nbytes: int) -> None:
        self.bars.advance(self.task, nbytes)

    def finished(self, item: transfer.Item, error: Exception | None) -> None:
        if item.action == "copy":
            self.done += 1
            self.bars.update(self.task, description=self._what())

    def _what(self) -> str:
        return f"copying {self.done}/{self.total}"

    def stop(self) -> None:
        self.bars.stop()


def _transfer_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "-n", "--dry-run", is_flag=True, help="Show what would change; change nothing."
            ),
            click.option(
                "--delete",
                is_flag=True,
                help="Delete what the destination has and the source has not.",
            ),
            click.option(
                "-j",
                "--jobs",
                type=click.IntRange(1, 256),
                default=transfer.DEFAULT_JOBS,
                show_default=True,
                help="Objects copied at once.",
            ),
            click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
            _json_option,
        ]
    ):
        fn = option(fn)
    return fn


def _do_transfer(
    state: State,
    src_arg: str,
    dst_arg: str,
    *,
    dry_run: bool,
    delete: bool,
    jobs: int,
    quiet: bool,
    as_json: bool,
    checkpoints: bool = False,
    verify: bool = False,
    src_local: bool = False,
    dst_local: bool = False,
) -> None:
    with _reported(as_json):
        src_t = ops.local_target(src_arg) if src_local else state.target(src_arg)
        # pull's LOCAL is a folder to fill, made if missing (unless it is an existing file).
        dst_t = (
            ops.local_target(dst_arg, folder=not os.path.isfile(dst_arg))
            if dst_local
            else state.target(dst_arg)
        )
        if ops.overlaps(src_t, dst_t):
            raise StoreURLError(f"{src_t} and {dst_t} overlap: one is inside the other")
        ops.check_source(src_t)
    alias = delete and ops.may_alias(src_t, dst_t) and ops.keys_overlap(src_t.key, dst_t.key)
    if alias and dry_run:
        err.print(
            f"bookstore: note: {src_t} and {dst_t} may be one container (Swift's S3 API); "
            "the real run checks and refuses --delete if so",
            markup=False,
        )
    bars = _Bars() if not (quiet or as_json or dry_run) and err.is_terminal else None

    async def go() -> transfer.Report:
        src = state.open(src_t)
        dst = state.open(dst_t, writable=not dry_run)
        try:
            # The names differ, the container may not: --delete would then delete the source.
            if alias and not dry_run and await ops.same_store(dst, src, dst_t.key):
                raise StoreURLError(
                    f"{src_t} and {dst_t} are one container (through Swift's S3 API) and "
                    "overlap: one is inside the other; refusing --delete"
                )
            return await transfer.sync(
                src,
                src_t.key,
                dst,
                dst_t.key,
                delete=delete,
                checkpoints=checkpoints,
                dry_run=dry_run,
                verify=verify,
                jobs=jobs,
                progress=bars,
            )
        finally:
            await src.close()
            await dst.close()

    try:
        report = _run(state, as_json, go)
    finally:
        if bars is not None:
            bars.stop()
    if as_json:
        _emit_json(report.to_json())
    else:
        if dry_run:
            for key in report.transferred:
                out.print(f"would copy   {key}", markup=False)
            for key in report.deleted:
                out.print(f"would delete {key}", markup=False)
        for key, message in report.failed.items():
            err.print(f"bookstore: failed: {key}: {message}", markup=False)
        for path, why in report.left_out.items():
            err.print(f"bookstore: left out: {path}: {why}", markup=False)
        if report.left_out and delete:
            err.print("bookstore: nothing deleted, since not everything was copied")
        verb = "would transfer" if dry_run else "transferred"
        out.print(
            f"{verb} {len(report.transferred)} ({_size(report.bytes)}), "
            f"skipped {len(report.skipped)} unchanged, deleted {len(report.deleted)}"
            + (f", FAILED {len(report.failed)}" if report.failed else "")
            + (f", LEFT OUT {len(report.left_out)}" if report.left_out else "")
        )
    if not report.ok:
        sys.exit(EXIT_FAILURE)


@main.command()
@click.argument("local", type=click.Path(exists=True))
@click.argument("url")
@_transfer_options
@click.pass_obj
def push(state: State, local: str, url: str, **options: Any) -> None:
    """Upload a local file or folder's contents to URL (only what changed)."""
    _do_transfer(state, local, url, src_local=True, **options)


@main.command()
@click.argument("url")
@click.argument("local", type=click.Path())
@_transfer_options
@click.pass_obj
def pull(state: State, url: str, local: str, **options: Any) -> None:
    """Download a file or a folder's contents from URL to a local folder."""
    _do_transfer(state, url, local, dst_local=True, **options)


@main.command()
@click.argument("src")
@click.argument("dst")
@click.option("--checkpoints", is_flag=True, help="Include .bookstore/checkpoints/ too.")
@_transfer_options
@click.pass_obj
def sync(state: State, src: str, dst: str, **options: Any) -> None:
    """Make DST hold what SRC holds (URLs or local paths); only changed files move."""
    _do_transfer(state, src, dst, **options)


@main.command()
@click.argument("src_url")
@click.argument("dst_url")
@_transfer_options
@click.pass_obj
def migrate(state: State, src_url: str, dst_url: str, **options: Any) -> None:
    """Copy a whole store to another, checkpoints and folders included, then verify.

    Any two kinds (swift, s3, file, memory). Re-run it to finish an interrupted
    migration: what already arrived intact is not sent again.
    """
    _do_transfer(state, src_url, dst_url, checkpoints=True, verify=True, **options)


main.add_command(swift_aio)
from bookstore import commands_share  # noqa: E402, F401 (adds share, unshare)

if __name__ == "__main__":
    # `python -m bookstore.cli`: run the group of the imported module, where other
    # modules (commands_share) register their commands, not this __main__ copy's.
    from bookstore.cli import main as _main

    _main()
