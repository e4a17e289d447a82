"""The ``bookstore`` command."""

import click


@click.group()
def main() -> None:
    """Bookstore: notebooks in object storage."""
