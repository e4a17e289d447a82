"""/bookstore/shares/<path>: create, list and revoke links to a file."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado.web import HTTPError

from .. import __version__
from ..sharing import KINDS, Sharing, SharingNotSupported, format_duration, parse_duration
from .base import BookstoreHandler, json_errors

#: Its own resource name, so an Authorizer can forbid publishing outside Jupyter
#: while allowing everything else (read: list shares; write: create, revoke).
SHARES_RESOURCE = "bookstore:shares"


class SharingMixin(BookstoreHandler):
    def sharing(self) -> Sharing:
        """The contents manager's Sharing (one per server, config from the manager)."""
        return self.bookstore.sharing()


class StatusHandler(SharingMixin):
    """GET /bookstore/: what this server offers, for the JupyterLab extension."""

    @authorized(resource="contents")
    @json_errors
    async def get(self) -> None:
        cm = self.bookstore
        try:
            sharing = self.sharing()
        except SharingNotSupported as exc:
            offer: dict[str, Any] | None = None
            why = str(exc)
        else:
            offer = {
                "kinds": list(KINDS),
                "default_expiry": format_duration(parse_duration(sharing.default_expiry)),
                "max_expiry": format_duration(sharing.longest) if sharing.longest else None,
            }
            why = None
        self.reply(
            {
                "version": __version__,
                "store": cm.store.description,
                "history": True,
                "sharing": offer,
                "sharing_unavailable": why,
            }
        )


class SharesHandler(SharingMixin):
    """GET: the path's shares; POST {"kind", "expires"}: a new link; DELETE [?id=]: revoke."""

    auth_resource = SHARES_RESOURCE

    @authorized
    @json_errors
    async def get(self, path: str = "") -> None:
        path = self.file_path(path)
        shares = await self.sharing().list(path)
        self.reply({"path": path, "shares": [s.to_json() for s in shares]})

    @authorized
    @json_errors
    async def post(self, path: str = "") -> None:
        path = self.file_path(path)
        body = self.body()
        kind = body.get("kind", "signed")
        if kind not in KINDS:
            raise HTTPError(400, f"kind must be one of {list(KINDS)}, not {kind!r}")
        expires = body.get("expires")
        if expires is not None and not isinstance(expires, str | int | float):
            raise HTTPError(400, "expires must be a duration like '7d' or a number of seconds")
        share = await self.sharing().create(path, kind, expires)
        self.reply(share.to_json(), status=201)

    @authorized
    @json_errors
    async def delete(self, path: str = "") -> None:
        path = self.file_path(path)
        share_id = self.get_query_argument("id", None) or None
        revoked = await self.sharing().delete(path, share_id)
        self.reply({"path": path, "revoked": [s.id for s in revoked]})
