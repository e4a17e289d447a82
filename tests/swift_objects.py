"""Swift large objects as ``swift upload -S`` makes them, for the suites that read them."""

from __future__ import annotations

import hashlib
import json

from bookstore.stores.swift import SwiftStore

MiB = 1 << 20


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


async def put_large_objects(store: SwiftStore, data: bytes) -> None:
    """``slo.bin`` (static large object) and ``dlo.bin`` (dynamic) under the store's prefix,
    each ``data`` in 1 MiB segments kept in ``<container>_segments``."""
    segments = store.container + "_segments"
    parts = [data[i : i + MiB] for i in range(0, len(data), MiB)]

    def make(c) -> None:
        c.put_container(segments)
        manifest = []
        for i, part in enumerate(parts):
            c.put_object(segments, f"slo/{i:03d}", part)
            c.put_object(segments, f"dlo/{i:03d}", part)
            manifest.append({"path": f"/{segments}/slo/{i:03d}", "etag": md5(part)})
        c.put_object(
            store.container,
            store.prefix + "slo.bin",
            json.dumps(manifest),
            query_string="multipart-manifest=put",
        )
        c.put_object(
            store.container,
            store.prefix + "dlo.bin",
            b"",
            headers={"X-Object-Manifest": f"{segments}/dlo/"},
        )

    await store.call(make)
