"""Notebooks of a given size, and folders of many notebooks in Swift and on disk.

Populating Swift goes around Bookstore (raw swiftclient), and what is populated is
kept: the bench's Swift data dir lives under ``bench/.cache`` and a folder whose
object count is already right is not written again.
"""

from __future__ import annotations

import base64
import io
import json
import random
import tarfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output


def make_notebook(size: int, seed: int = 0) -> dict[str, Any]:
    """A valid nbformat 4 notebook of about ``size`` bytes (as JSON): code cells with
    source, a stream output and a PNG-like base64 output, as real notebooks carry."""
    rng = random.Random(seed)
    cells: list[Any] = [new_markdown_cell(f"# Benchmark notebook {seed}\n\nSome text.")]
    per_cell = 64 * 1024 if size >= 512 * 1024 else 2 * 1024
    total = 200
    i = 0
    while total < size:
        i += 1
        raw = rng.randbytes(max(16, min(per_cell, (size - total) * 3 // 4)))
        image = base64.b64encode(raw).decode()
        cell = new_code_cell(
            f"import numpy as np\nx = np.arange({i})\nplot(x, seed={rng.random():.6f})",
            execution_count=i,
            outputs=[
                new_output("stream", name="stdout", text=f"cell {i}: {rng.random():.12f}\n"),
                new_output("display_data", data={"image/png": image, "text/plain": "<Figure>"}),
            ],
        )
        cells.append(cell)
        total += len(image) + 400
    nb = new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )
    return json.loads(nbformat.writes(nb))


def notebook_bytes(nb: dict[str, Any]) -> bytes:
    return nbformat.writes(nbformat.from_dict(nb)).encode()


# --- Swift ----------------------------------------------------------------------------------


def count_under(conn, container: str, prefix: str) -> int:
    try:
        _, objects = conn.get_container(container, prefix=prefix, full_listing=True)
    except Exception:
        return 0
    return len(objects)


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def bulk_upload(
    connect: Callable[[], Any],
    container: str,
    members: list[tuple[str, bytes]],
    *,
    parallel: int = 4,
    batch: int = 1000,
) -> None:
    """Swift's bulk middleware: PUT ``?extract-archive=tar`` into the container, a tar
    of ``batch`` objects per request, ``parallel`` requests at a time."""
    batches = [members[i : i + batch] for i in range(0, len(members), batch)]

    conn = connect()
    try:
        url, token = conn.get_auth()
    finally:
        conn.close()

    def one(chunk: list[tuple[str, bytes]]) -> None:
        r = httpx.put(
            f"{url}/{quote(container)}",
            params={"extract-archive": "tar"},
            content=_tar(chunk),
            headers={"X-Auth-Token": token, "Accept": "application/json"},
            timeout=600,
        )
        r.raise_for_status()
        # Swift answers 201 at once and reports the outcome in the body.
        result = r.json()
        if result.get("Errors") or not str(result.get("Response Status", "201")).startswith("2"):
            raise RuntimeError(f"bulk upload into {container} failed: {result}")

    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, batches))


def parallel_puts(
    connect: Callable[[], Any],
    container: str,
    members: list[tuple[str, bytes]],
    *,
    parallel: int = 16,
) -> None:
    """One PUT per object, ``parallel`` at a time (each thread its own connection)."""
    import threading

    local = threading.local()
    conns: list[Any] = []

    def one(member: tuple[str, bytes]) -> None:
        if not hasattr(local, "conn"):
            local.conn = connect()
            conns.append(local.conn)
        name, data = member
        local.conn.put_object(container, name, data, content_type="application/x-ipynb+json")

    try:
        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(one, members))
    finally:
        for conn in conns:
            conn.close()


def ensure_folder(
    connect: Callable[[], Any],
    container: str,
    prefix: str,
    count: int,
    *,
    method: str = "bulk",
    log: Callable[[str], None] = print,
) -> float:
    """Make ``container/prefix`` hold exactly ``count`` small notebooks ``nb-00000.ipynb``...;
    returns the seconds spent populating (0 when the cached folder was already right)."""
    conn = connect()
    try:
        conn.put_container(container)
        have = count_under(conn, container, prefix)
        if have == count:
            log(f"  {container}/{prefix}: {count} objects cached")
            return 0.0
        if have:
            _, objects = conn.get_container(container, prefix=prefix, full_listing=True)
            names = [o["name"] for o in objects]
            for i in range(0, len(names), 1000):
                body = "\n".join(quote(f"/{container}/{n}") for n in names[i : i + 1000])
                conn.post_account(
                    {"Content-Type": "text/plain", "Accept": "application/json"},
                    query_string="bulk-delete",
                    data=body.encode(),
                )
    finally:
        conn.close()
    data = notebook_bytes(make_notebook(1024, seed=1))
    members = [(f"{prefix}nb-{i:05d}.ipynb", data) for i in range(count)]
    log(f"  populating {container}/{prefix} with {count} notebooks ({method})...")
    t0 = time.perf_counter()
    if method == "bulk":
        bulk_upload(connect, container, members)
    else:
        parallel_puts(connect, container, members)
    spent = time.perf_counter() - t0
    log(f"  ... {spent:.1f} s ({count / max(spent, 1e-9):.0f} objects/s)")
    return spent


def compare_population(connect: Callable[[], Any], container: str, count: int) -> dict:
    """Time both ways of creating ``count`` objects (for the README's Benchmarks section)."""
    out = {}
    for method in ("bulk", "puts"):
        prefix = f"populate-test-{method}/"
        ensure_folder(connect, container, prefix, 0, log=lambda s: None)
        out[method] = ensure_folder(connect, container, prefix, count, method=method)
        ensure_folder(connect, container, prefix, 0, log=lambda s: None)
    return out


# --- local disk -----------------------------------------------------------------------------


def ensure_local_folder(root: Path, rel: str, count: int) -> None:
    folder = root / rel
    folder.mkdir(parents=True, exist_ok=True)
    have = sum(1 for _ in folder.iterdir())
    if have == count:
        return
    data = notebook_bytes(make_notebook(1024, seed=1))
    for i in range(count):
        (folder / f"nb-{i:05d}.ipynb").write_bytes(data)


def json_body(model: dict[str, Any]) -> bytes:
    """A REST request body, serialised once up front (the client's CPU is not measured)."""
    return json.dumps(model).encode()
