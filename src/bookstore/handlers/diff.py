"""Two versions of a file, compared for people: nbdime aligns cells, difflib shows lines.

``notebook_diff`` returns nbdime's own diff (for tools that render it, e.g.
nbdime's web components) and a flat list of cell changes that a panel can show
as it is: each cell ``unchanged``, ``modified``, ``added`` or ``removed``, with its
source as unified-diff lines (``" "``, ``"-"``, ``"+"`` first characters).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from typing import Any

#: Cell keys whose change is noise to a reader (nbformat gives new cells new ids).
_QUIET_KEYS = frozenset({"id"})


def notebook_diff(base: dict[str, Any], remote: dict[str, Any]) -> tuple[list[Any], list[dict]]:
    """nbdime's diff of two notebooks, and its cell-by-cell rendering."""
    from nbdime import diff_notebooks  # a second to import: only when a diff is asked for

    diff = diff_notebooks(base, remote)
    return diff, cell_changes(base, remote, diff)


def cell_changes(
    base: dict[str, Any], remote: dict[str, Any], diff: list[Any]
) -> list[dict[str, Any]]:
    """Walk nbdime's cell operations in base order: removed cells before the cells added
    in their place, then the base cell itself (patched or not)."""
    base_cells: list[Any] = list(base.get("cells", []))
    remote_cells: list[Any] = list(remote.get("cells", []))
    ops: dict[int, list[Any]] = defaultdict(list)
    for entry in diff:
        if entry["op"] == "patch" and entry["key"] == "cells":
            for op in entry["diff"]:
                ops[op["key"]].append(op)
    out: list[dict[str, Any]] = []
    r = 0  # index in remote
    i = 0  # index in base
    while i <= len(base_cells):
        here = ops.get(i, [])
        removed = sum(op["length"] for op in here if op["op"] == "removerange")
        for j in range(i, i + removed):
            out.append(_entry("removed", base_cells[j], j, None, _lines("-", base_cells[j])))
        for op in here:
            if op["op"] == "addrange":
                for cell in op["valuelist"]:
                    out.append(_entry("added", cell, None, r, _lines("+", cell)))
                    r += 1
        if removed:
            i += removed
            continue
        if i == len(base_cells):
            break
        patch = next((op for op in here if op["op"] == "patch"), None)
        changed = sorted({d["key"] for d in patch["diff"]} - _QUIET_KEYS) if patch else []
        old, new = base_cells[i], remote_cells[r]
        if changed:
            # Only outputs or metadata changed: show the source as context.
            lines = _unified(_source(old), _source(new)) or _lines(" ", new)
            entry = _entry("modified", new, i, r, lines)
            entry["changes"] = changed
        else:
            entry = _entry("unchanged", new, i, r, _lines(" ", new))
        out.append(entry)
        i += 1
        r += 1
    return out


def text_diff(base: str, remote: str) -> list[dict[str, Any]]:
    """A plain file as one "cell": its unified diff."""
    status = "unchanged" if base == remote else "modified"
    lines = _unified(base, remote) if base != remote else [" " + s for s in base.splitlines()]
    return [_entry(status, {"cell_type": "file"}, 0, 0, lines)]


def _entry(
    status: str, cell: Any, base_index: int | None, remote_index: int | None, lines: list[str]
) -> dict[str, Any]:
    return {
        "status": status,
        "cell_type": cell.get("cell_type", "code"),
        "base_index": base_index,
        "remote_index": remote_index,
        "changes": [],
        "lines": lines,
    }


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _lines(mark: str, cell: Any) -> list[str]:
    return [mark + line for line in _source(cell).splitlines()]


def _unified(old: str, new: str) -> list[str]:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3)
    # Drop the ---/+++ file header: the panel says which versions these are.
    return [line for n, line in enumerate(lines) if n >= 2]
