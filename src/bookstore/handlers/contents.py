"""jupyter_server's /api/contents, answering big listings without stalling the loop.

The routes are jupyter_server's own, in its order (checkpoints and trust before
the catch-all contents route); only the contents handler is Bookstore's, and it
differs in one thing: a listing's JSON is spliced from the batches the manager
encoded between yields (``models.Listing``) instead of encoded in one block.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.services.contents import handlers as upstream

from ..contents.models import model_json


class ContentsHandler(upstream.ContentsHandler):
    def _finish_model(self, model: dict[str, Any], location: bool = True) -> None:
        # As upstream's _finish_model, with model_json for json.dumps.
        if location:
            self.set_header("Location", self.location_url(model["path"]))
        self.set_header("Last-Modified", model["last_modified"])
        self.set_header("Content-Type", "application/json")
        self.finish(model_json(model))


URLS: list[tuple[str, type]] = [
    (pattern, ContentsHandler if handler is upstream.ContentsHandler else handler)
    for pattern, handler, *_ in upstream.default_handlers
    if pattern.startswith("/api/contents")
]
