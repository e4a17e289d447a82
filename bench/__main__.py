"""``python -m bench [--quick] [--rows P1,P2] [...]``: one table of ratios, one run.

Starts a real Swift (bookstore.devswift, data kept in bench/.cache so populated
folders are reused), then three real ``jupyter server`` subprocesses: Bookstore on
that Swift, jupyter_server's default FileContentsManager on a local folder, and
s3contents on the same Swift through its s3api. Every ratio is measured in this
run, the baselines interleaved with Bookstore.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
import traceback
from dataclasses import asdict, fields
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from . import data, report
from .client import Api
from .profile import Profiler
from .rows import ROWS, Context, Params, Row
from .servers import Swift, bookstore_server, file_server, s3contents_server
from .swiftlog import SwiftLog, format_summary

HERE = Path(__file__).resolve().parent
CONTAINER = "bench"
S3_BUCKET = "bench-s3c"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes: a few minutes on 2 cores")
    ap.add_argument("--rows", default="P1,P1b,P2,P3,P4,P5,P6,P7", help="which rows, e.g. P1,P5")
    for f in fields(Params):
        ap.add_argument(
            f"--{f.name.replace('_', '-')}",
            type={"float": float, "int": int}.get(str(f.type), str),
            default=None,
            help=f"default {f.default} (quick: {getattr(Params.quick(), f.name)})",
        )
    ap.add_argument("--no-s3contents", action="store_true", help="skip the s3contents column")
    ap.add_argument("--cache-dir", type=Path, default=HERE / ".cache")
    ap.add_argument("--results-dir", type=Path, default=HERE / "results")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the Bookstore and File servers and Swift's two processes during each row "
        "(raw stacks in results/profiles/; summarise with python -m bench.profile FILE)",
    )
    ap.add_argument(
        "--compare-populate",
        type=int,
        default=0,
        metavar="N",
        help="only time populating N objects by parallel PUTs vs bulk extract-archive",
    )
    return ap.parse_args(argv)


def clean_container(swift: Swift, container: str, keep: str | None) -> None:
    """Delete every object of ``container`` except those under ``keep``."""
    conn = swift.connection()
    try:
        conn.put_container(container)
        _, objects = conn.get_container(container, full_listing=True)
        names = [o["name"] for o in objects if keep is None or not o["name"].startswith(keep)]
        for i in range(0, len(names), 1000):
            body = "\n".join(quote(f"/{container}/{n}") for n in names[i : i + 1000])
            conn.post_account(
                {"Content-Type": "text/plain", "Accept": "application/json"},
                query_string="bulk-delete",
                data=body.encode(),
            )
    finally:
        conn.close()


def prepare_file_root(root: Path, params: Params) -> None:
    root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root / "run", ignore_errors=True)
    data.ensure_local_folder(root, f"cached/list-{params.list_count}", params.list_count)
    base = root / f"cached/rename-{params.rename_count}"
    if not any((base / d).exists() for d in ("a", "b")):
        data.ensure_local_folder(base, "a", params.rename_count)


async def run(args: argparse.Namespace) -> int:
    params = Params.quick() if args.quick else Params()
    for f in fields(Params):
        value = getattr(args, f.name)
        if value is not None:
            setattr(params, f.name, value)
    mode = "quick" if args.quick else "full"
    wanted = [r.strip().upper() for r in args.rows.split(",") if r.strip()]
    started = datetime.now(UTC)
    load_start = report.loadavg()
    print(report.header(started, mode, load_start))
    print(f"params: {asdict(params)}\n", flush=True)

    swift = Swift(args.cache_dir / "swift-aio")
    with swift as info:
        if args.compare_populate:
            result = data.compare_population(
                swift.connection, "populate-test", args.compare_populate
            )
            print(result)
            return 0
        print(f"Swift at {info.storage_url} (data in {swift.data_dir})")
        clean_container(swift, CONTAINER, keep="cached/")
        clean_container(swift, S3_BUCKET, keep=None)
        need_list = "P2" in wanted or "P5" in wanted
        if need_list:
            data.ensure_folder(
                swift.connection,
                CONTAINER,
                f"cached/list-{params.list_count}/",
                params.list_count,
                method=params.populate,
            )
        file_root = args.cache_dir / "files"
        prepare_file_root(file_root, params)

        servers = [bookstore_server(info, CONTAINER), file_server(file_root)]
        if not args.no_s3contents:
            servers.append(s3contents_server(info, S3_BUCKET))
        for server in servers:
            server.start()
        apis = [Api(s) for s in servers]
        ctx = Context(
            params=params,
            swift=swift,
            container=CONTAINER,
            bookstore=apis[0],
            file=apis[1],
            s3contents=apis[2] if len(apis) > 2 else None,
            file_root=file_root,
            swiftlog=SwiftLog(swift.data_dir / "log" / "swift.log"),
        )
        rows: list[Row] = []
        profiles = args.results_dir / "profiles"
        try:
            for rid, fn in ROWS.items():
                if rid.upper() not in wanted:
                    continue
                print(f"{rid} ...", flush=True)
                t0 = time.perf_counter()
                profiled = {api.server.name: api.server.pid for api in apis[:2]}
                profiled.update(swift.processes())
                profilers = [
                    Profiler(pid, profiles / f"{mode}-{rid}-{name}.txt")
                    for name, pid in profiled.items()
                    if args.profile
                ]
                try:
                    for profiler in profilers:
                        profiler.start()
                    got = await fn(ctx)
                except Exception as exc:
                    traceback.print_exc()
                    got = [Row(rid, "failed", "-", note=f"{type(exc).__name__}: {exc}")]
                finally:
                    for profiler in profilers:
                        profiler.stop()
                for row in got:
                    status = {True: "met", False: "NOT met", None: "error"}[row.met]
                    print(
                        f"  {row.id}: {row.value_text()} (target {row.target}: {status}) "
                        f"{row.columns} {row.note}",
                        flush=True,
                    )
                    if row.met is False and row.details.get("swift"):
                        print(format_summary(row.details["swift"]))
                rows.extend(got)
                print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
        finally:
            for api in apis:
                await api.aclose()
            for server in servers:
                server.stop()

    load_end = report.loadavg()
    columns = ["bookstore", "file", "raw", "s3contents"]
    columns = [c for c in columns if any(c in r.columns for r in rows)]
    text = "\n".join(
        [
            report.header(started, mode, load_start),
            f"load average at end {load_end}",
            f"params: {asdict(params)}",
            "",
            report.table(rows, columns),
            "",
            "file = jupyter_server's default AsyncLargeFileManager (a FileContentsManager) on a"
            " local dir; raw = python-swiftclient PUTs; s3contents on the same Swift's s3api.",
        ]
    )
    print("\n" + text)
    paths = report.write(
        args.results_dir,
        rows,
        params=asdict(params),
        mode=mode,
        started=started,
        load={"start": load_start, "end": load_end},
        text=text,
    )
    print(f"\nresults: {paths[0]} {paths[1]}")
    # Unmet targets are results, not failures; a row that could not be measured is.
    return 0 if all(r.met is not None for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse(argv)))


if __name__ == "__main__":
    sys.exit(main())
