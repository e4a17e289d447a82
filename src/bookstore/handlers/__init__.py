"""Bookstore's REST API under /bookstore/: the one URL table.

========  ===============================  ==========================================
GET       /bookstore/                      what this server offers (sharing kinds...)
GET       /bookstore/shares/<path>         the file's shares
POST      /bookstore/shares/<path>         new link: {"kind": "signed"|"public", "expires"}
DELETE    /bookstore/shares/<path>[?id=]   revoke one share (or all of the file's)
GET       /bookstore/history/<path>        checkpoints: id, created, size
GET       /bookstore/history/<path>?id=    one version's content ("current": now)
POST      /bookstore/history/<path>        restore {"id"}; what it replaced is kept
GET       /bookstore/diff/<path>?base=&remote=   nbdime diff + cell-by-cell lines
========  ===============================  ==========================================

JSON in and out; errors are JSON ``{"message": ...}``; XSRF and auth as every
Jupyter API (``@authorized``: resource ``contents``, shares ``bookstore:shares``).
"""

from __future__ import annotations

from jupyter_server.base.handlers import path_regex

from .history import DiffHandler, HistoryHandler
from .shares import SharesHandler, StatusHandler

URLS: list[tuple[str, type]] = [
    (r"/bookstore/?", StatusHandler),
    (rf"/bookstore/shares{path_regex}", SharesHandler),
    (rf"/bookstore/history{path_regex}", HistoryHandler),
    (rf"/bookstore/diff{path_regex}", DiffHandler),
]

__all__ = ["URLS"]
