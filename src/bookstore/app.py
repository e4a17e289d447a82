"""The Jupyter Server extension."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp


class BookstoreApp(ExtensionApp):
    """Bookstore's server extension: its REST endpoints live under /bookstore/."""

    name = "bookstore"
    load_other_extensions = True

    def initialize_settings(self) -> None:
        cm = self.serverapp.contents_manager
        from .contents import BookstoreContentsManager

        if not isinstance(cm, BookstoreContentsManager):
            self.log.info(
                "Bookstore is installed but not in use: set "
                "c.ServerApp.contents_manager_class = 'bookstore.BookstoreContentsManager'"
            )
