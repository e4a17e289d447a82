"""``bookstore swift-aio``: a single-node OpenStack Swift on 127.0.0.1 for development."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bookstore.devswift import aio

EXIT_NOT_RUNNING = 3  # like `systemctl status` / LSB: program is not running

_data_dir = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Where Swift keeps its config, data and log [${aio.ENV_DATA_DIR} or ./.swift-aio].",
)


def _fail(err: Exception) -> None:
    click.echo(f"swift-aio: error: {err}", err=True)
    sys.exit(1)


@click.group("swift-aio")
def swift_aio() -> None:
    """A real single-node OpenStack Swift (tempauth, S3, tempurl, versioning, ...)."""


@swift_aio.command()
@_data_dir
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Proxy port [the data directory's last one, else 8080]; 0 picks a free port.",
)
@click.option("--foreground", is_flag=True, help="Run in this terminal; Ctrl-C stops it.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait.")
@click.option(
    "--keystone",
    is_flag=True,
    help="Also a real Keystone (port 5000; 0 with --port 0) and Swift proxies taking its "
    "tokens, listed in its catalog (RegionOne, RegionTwo). Needs 'bookstore[keystone-aio]'.",
)
def start(
    data_dir: Path | None, port: int | None, foreground: bool, timeout: float, keystone: bool
) -> None:
    """Start Swift in the background; return once an authenticated request succeeds."""
    try:
        if foreground and keystone:
            raise aio.SwiftAIOError("--keystone runs in the background only; drop --foreground")
        if foreground:
            aio.run_foreground(data_dir, port)  # does not return
        info, started = aio.start(data_dir, port, timeout=timeout, keystone=keystone)
    except (aio.SwiftAIOError, OSError) as err:  # OSError: e.g. an unwritable data dir
        _fail(err)
    if not started:
        click.echo(f"swift-aio: already running at {info.url} (pid {info.pid})")
        if port not in (None, 0, info.port):
            click.echo(f"swift-aio: note: --port {port} ignored; stop it first", err=True)
    else:
        click.echo(f"swift-aio: running at {info.url} (pid {info.pid}, data {info.data_dir})")
    if info.keystone_url:
        regions = sorted({name.split("/")[0] for name in info.keystone_ports})
        click.echo(
            f"swift-aio: Keystone at {info.keystone_url} (user {info.keystone_user}, project "
            f"{info.keystone_project}; Swift regions {', '.join(regions)})"
        )
    click.echo(f'swift-aio: eval "$(bookstore swift-aio env{_dir_arg(data_dir)})"; swift list')


@swift_aio.command()
@_data_dir
def stop(data_dir: Path | None) -> None:
    """Stop Swift (SIGTERM, then SIGKILL)."""
    try:
        stopped = aio.stop(data_dir)
    except (aio.SwiftAIOError, OSError) as err:
        _fail(err)
    click.echo("swift-aio: stopped" if stopped else "swift-aio: was not running")


@swift_aio.command()
@_data_dir
def status(data_dir: Path | None) -> None:
    """Print running/stopped; exit 0 if running, 3 if not."""
    info = aio.status(data_dir)
    if info is None:
        click.echo("swift-aio: stopped")
        sys.exit(EXIT_NOT_RUNNING)
    click.echo(f"swift-aio: running at {info.url} (pid {info.pid}, data {info.data_dir})")


@swift_aio.command()
@_data_dir
def env(data_dir: Path | None) -> None:
    """Print shell exports for swift/python-swiftclient and S3 clients."""
    info = aio.configured_info(data_dir)
    if info.pid is None:
        click.echo("# swift-aio is not running (bookstore swift-aio start)")
    for line in aio.env_lines(info):
        click.echo(line)


def _dir_arg(data_dir: Path | None) -> str:
    return "" if data_dir is None else f" --data-dir {data_dir}"
