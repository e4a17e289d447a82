"""The table, the machine, and the files under bench/results/."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .rows import Row


def machine() -> dict[str, Any]:
    def read(path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in read("/proc/cpuinfo").splitlines()
            if ln.startswith("model name")
        ),
        platform.processor() or "?",
    )
    mem_kb = next(
        (
            int(ln.split()[1])
            for ln in read("/proc/meminfo").splitlines()
            if ln.startswith("MemTotal:")
        ),
        0,
    )
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(len(os.sched_getaffinity(0)))
    versions = {}
    for dist in (
        "bookstore",
        "jupyter_server",
        "tornado",
        "swift",
        "python-swiftclient",
        "s3contents",
        "nbformat",
        "httpx",
    ):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    return {
        "nproc": nproc,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": versions,
    }


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def table(rows: list[Row], columns: list[str]) -> str:
    head = ["#", "measure", "target", "measured", "met", *columns]
    lines = [head]
    for row in rows:
        met = {True: "yes", False: "NO", None: "error"}[row.met]
        lines.append(
            [row.id, row.measure, row.target, row.value_text(), met]
            + [row.columns.get(c, "") for c in columns]
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = []
    for n, line in enumerate(lines):
        out.append(
            "| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        )
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def write(
    results_dir: Path,
    rows: list[Row],
    *,
    params: dict[str, Any],
    mode: str,
    started: datetime,
    load: dict[str, list[float]],
    text: str,
) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    doc = {
        "date": started.astimezone(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "machine": machine(),
        "loadavg": load,
        "params": params,
        "rows": [asdict(r) for r in rows],
    }
    json_path = results_dir / f"{stamp}-{mode}.json"
    text_path = results_dir / f"{stamp}-{mode}.txt"
    json_path.write_text(json.dumps(doc, indent=1, default=str))
    text_path.write_text(text)
    return json_path, text_path


def header(started: datetime, mode: str, load: list[float]) -> str:
    m = machine()
    return (
        f"Bookstore bench, {mode}, {started.astimezone(UTC):%Y-%m-%d %H:%M} UTC\n"
        f"machine: nproc {m['nproc']}, {m['memory_gb']} GB, {m['cpu']}, Linux {m['kernel']}, "
        f"Python {m['python']}; load average at start {load}\n"
        f"versions: {', '.join(f'{k} {v}' for k, v in m['versions'].items() if v)}"
    )
