"""Per-request timings from the Swift proxy's access log (proxy-logging middleware).

The bench reads the log lines written during one measurement and summarises them
by method and kind of request: the evidence for "where does the time go".
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote


@dataclass
class Request:
    method: str
    path: str
    query: str
    status: int
    seconds: float
    source: str  # "-" for a client's request; a middleware tag (SLO, BD, ...) for subrequests
    start: float
    end: float


def _kind(req: Request) -> str:
    path = req.path
    parts = path.split("/", 4)  # "", "v1", account, container, object
    if path.startswith("/auth/"):
        return "auth"
    if "bulk-delete" in req.query or "bulk-delete" in path:
        return "bulk-delete"
    if "extract-archive" in req.query:
        return "bulk-upload"
    if len(parts) <= 3:
        return "account"
    if len(parts) == 4 or not parts[4]:
        return "container"
    name = unquote(parts[4])
    if "multipart-manifest" in req.query:
        return "object (manifest)"
    if name.startswith(".bookstore/checkpoints/"):
        return "object (checkpoint)"
    if name.startswith(".bookstore/uploads/"):
        return "object (staged chunk)"
    return "object"


@dataclass
class SwiftLog:
    path: Path
    offset: int = 0
    requests: list[Request] = field(default_factory=list)

    def mark(self) -> None:
        """Start a window at the current end of the log."""
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def read(self) -> list[Request]:
        """Every proxy request logged since ``mark``."""
        out: list[Request] = []
        if not self.path.exists():
            return out
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            text = f.read().decode("utf-8", "replace")
        for line in text.splitlines():
            _, sep, rest = line.partition("proxy-server: ")
            if not sep:
                continue
            tok = rest.split()
            if len(tok) < 20 or not re.fullmatch(r"[A-Z]+", tok[3]):
                continue
            raw_path, _, query = tok[4].partition("%3F")
            raw_path, _, q2 = raw_path.partition("?")
            try:
                out.append(
                    Request(
                        method=tok[3],
                        path=raw_path,
                        query=unquote(query or q2),
                        status=int(tok[6]),
                        seconds=float(tok[15]),
                        source=tok[16],
                        start=float(tok[18]),
                        end=float(tok[19]),
                    )
                )
            except ValueError:
                continue
        self.requests = out
        return out


def in_container(req: Request, container: str) -> bool:
    """A Swift API request on ``container`` (or its account-level bulk operations)."""
    parts = req.path.split("/")
    if len(parts) < 3 or parts[1] != "v1":
        return False
    if len(parts) == 3:  # account level: only the bulk operations belong to a container's work
        return "bulk-delete" in req.query
    return parts[3] == container


def summarise(requests: list[Request], container: str | None = "bench") -> dict[str, Any]:
    """``{"client": {"PUT object": {"n", "total_s", "mean_ms", "max_ms"}}, "sub": {...}}``
    for the requests on ``container`` (None: all)."""
    groups: dict[str, dict[str, list[float]]] = {
        "client": defaultdict(list),
        "sub": defaultdict(list),
    }
    for req in requests:
        if container is not None and not in_container(req, container):
            continue
        side = "client" if req.source == "-" else "sub"
        groups[side][f"{req.method} {_kind(req)}"].append(req.seconds)
    out: dict[str, Any] = {}
    for side, by in groups.items():
        out[side] = {
            name: {
                "n": len(times),
                "total_s": round(sum(times), 3),
                "mean_ms": round(1000 * sum(times) / len(times), 1),
                "max_ms": round(1000 * max(times), 1),
            }
            for name, times in sorted(by.items(), key=lambda kv: -sum(kv[1]))
        }
    return out


def format_summary(summary: dict[str, Any], indent: str = "    ") -> str:
    lines = []
    for side in ("client", "sub"):
        for name, s in summary.get(side, {}).items():
            tag = "" if side == "client" else " (subrequest)"
            lines.append(
                f"{indent}{name}{tag}: {s['n']} x, {s['total_s']:.2f} s total, "
                f"mean {s['mean_ms']:.0f} ms, max {s['max_ms']:.0f} ms"
            )
    return "\n".join(lines)
