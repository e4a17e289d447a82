"""The Jupyter Server extension."""

from __future__ import annotations

from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool

from . import errors


class BookstoreApp(ExtensionApp):
    """Bookstore's server extension: checks the store at start, serves /bookstore/ endpoints."""

    name = "bookstore"
    load_other_extensions = True

    stop_on_store_error = Bool(
        True,
        config=True,
        help="Stop the server at start when the store rejects Bookstore's credentials or "
        "the container is missing, instead of answering every request with an error.",
    )

    def _contents_manager(self) -> Any:
        from .contents import BookstoreContentsManager

        cm = self.serverapp.contents_manager
        return cm if isinstance(cm, BookstoreContentsManager) else None

    def initialize_settings(self) -> None:
        if self._contents_manager() is None:
            self.log.info(
                "Bookstore is installed but not in use: set "
                "c.ServerApp.contents_manager_class = 'bookstore.BookstoreContentsManager'"
            )
            return
        try:
            from . import rtc
        except ImportError:  # jupyter-collaboration is not installed
            return
        rtc.configure(self.serverapp, self.log)

    async def stop_extension(self) -> None:
        cm = self._contents_manager()
        if cm is not None and cm.rooms is not None:
            cm.rooms.close()

    def initialize_handlers(self) -> None:
        from .handlers import (
            URLS,  # the REST API: sharing, history, diffs
            contents,
        )

        self.handlers.extend(URLS)
        if self._contents_manager() is not None:
            self.handlers.extend(contents.URLS)  # before jupyter_server's own routes

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Reach the store once the loop runs, so a bad configuration shows at start."""
        cm = self._contents_manager()
        if cm is None:
            return
        try:
            await cm.store.connect()
            await cm.settle()  # finishes renames left half done (the lock: one resume)
            await cm.sweep_abandoned_uploads()
        except errors.Unavailable as exc:
            self.log.warning("Bookstore: the store is unavailable for now (%s); will retry", exc)
            return
        except errors.StoreError as exc:
            self.log.error("Bookstore cannot use its store: %s", exc)
            if self.stop_on_store_error:
                self.log.critical("Stopping: fix the store configuration and start again.")
                serverapp.io_loop.add_callback(serverapp.stop)
            return
        self.log.info(cm.info_string())
        from .sharing import SharingNotSupported

        try:  # built now so that a sharing misconfiguration shows at start
            cm.sharing()
        except SharingNotSupported as exc:
            self.log.info("Bookstore: no sharing here: %s", exc)
