"""The ``bookstore`` command."""

import click

from bookstore.devswift.commands import swift_aio


@click.group()
def main() -> None:
    """Bookstore: notebooks in object storage."""


main.add_command(swift_aio)
