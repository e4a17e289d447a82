"""The measures P1..P7: each returns a Row measured against its baselines in this run."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from . import data
from .client import Api, ApiError
from .servers import JupyterServer, Swift, bookstore_server, file_server, s3contents_server
from .swiftlog import SwiftLog, summarise

MB = 1024 * 1024


@dataclass
class Params:
    nb_mb: float = 10
    list_count: int = 10_000
    cp_big_mb: float = 20
    cp_small_kb: float = 10
    rename_count: int = 1000
    lag_upload_mb: int = 50
    clients: int = 20
    client_kb: float = 200
    saves_per_client: int = 10
    rss_upload_mb: int = 200
    repeat: int = 5
    populate: str = "puts"  # "puts" (16 parallel PUTs) or "bulk" (?extract-archive=tar)
    listing_ttl: float = 2.0  # the server's BookstoreContentsManager.listing_cache_ttl

    @classmethod
    def quick(cls) -> Params:
        return cls(
            list_count=2000,
            rename_count=200,
            lag_upload_mb=20,
            saves_per_client=5,
            rss_upload_mb=50,
            repeat=3,
        )


@dataclass
class Row:
    id: str
    measure: str
    target: str
    value: float | None = None
    unit: str = "x"
    met: bool | None = None
    columns: dict[str, str] = field(default_factory=dict)  # per contents manager, human text
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def value_text(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit == "x":
            return f"{self.value:.2f}x"
        if self.unit == "s":
            return f"{self.value:.2f} s"
        if self.unit == "ms":
            return f"{self.value:.1f} ms"
        if self.unit == "MB":
            return f"{self.value:.1f} MB"
        return f"{self.value:.3g} {self.unit}"


@dataclass
class Context:
    params: Params
    swift: Swift
    container: str
    bookstore: Api
    file: Api
    s3contents: Api | None
    file_root: Path
    swiftlog: SwiftLog
    log: Callable[[str], None] = print
    cache: dict[str, Any] = field(default_factory=dict)

    def apis(self) -> dict[str, Api]:
        out = {"bookstore": self.bookstore, "file": self.file}
        if self.s3contents is not None:
            out["s3contents"] = self.s3contents
        return out

    def server(self, api: Api) -> JupyterServer:
        return api.server


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


async def interleaved(
    apis: dict[str, Api], repeat: int, once: Callable[[str, Api], Awaitable[float]]
) -> dict[str, list[float]]:
    """``repeat`` rounds, each timing ``once`` on every server in turn (so machine load
    drifts affect every column alike)."""
    times: dict[str, list[float]] = {name: [] for name in apis}
    for _ in range(repeat):
        for name, api in apis.items():
            times[name].append(await once(name, api))
    return times


def ratio_row(
    row: Row, times: dict[str, list[float]], limit: float, *, baseline: str = "file"
) -> Row:
    meds = {name: median(ts) for name, ts in times.items()}
    row.value = meds["bookstore"] / meds[baseline]
    row.met = row.value <= limit
    row.columns = {name: fmt_s(m) for name, m in meds.items()}
    row.details["seconds"] = {name: [round(t, 4) for t in ts] for name, ts in times.items()}
    return row


class CpuMeter:
    """CPU time (user + system) of some processes over the timed part of a run, per save
    (or per object): where the 2 cores go."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.ms_each: dict[str, list[float]] = {}
        self._before: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {name: sum(p.cpu_times()[:2]) for name, p in self.procs.items()}

    def start(self) -> None:
        self._before = self._now()

    def stop(self, count: int) -> None:
        after = self._now()
        for name, t in after.items():
            ms = (t - self._before[name]) * 1000 / max(1, count)
            self.ms_each.setdefault(name, []).append(ms)


# --- P1, P1b: a 10 MB notebook -----------------------------------------------------------


P1_PATH = "run/p1/big.ipynb"


async def _p1_setup(ctx: Context) -> tuple[dict, bytes]:
    """The big notebook, saved once on every server (creates it and its first checkpoint)."""
    p = ctx.params
    nb = data.make_notebook(int(p.nb_mb * MB), seed=10)
    body = data.json_body({"type": "notebook", "content": nb})
    if ctx.cache.get("p1") is None:
        for api in ctx.apis().values():
            await api.mkdir("run/p1")
            await api.put_raw(P1_PATH, body)
        ctx.cache["p1"] = True
    return nb, body


async def p1_save(ctx: Context) -> list[Row]:
    p = ctx.params
    _, body = await _p1_setup(ctx)

    async def save(name: str, api: Api) -> float:
        return (await api.put_raw(P1_PATH, body))[0]

    ctx.swiftlog.mark()
    saves = await interleaved(ctx.apis(), p.repeat, save)
    row = ratio_row(
        Row("P1", f"save a {p.nb_mb:g} MB notebook (REST PUT), Bookstore / File", "<= 1.05x"),
        saves,
        1.05,
    )
    row.details.update(body_mb=round(len(body) / MB, 2), swift=summarise(ctx.swiftlog.read()))
    return [row]


async def p1b_open(ctx: Context) -> list[Row]:
    p = ctx.params
    nb, _ = await _p1_setup(ctx)

    async def open_(name: str, api: Api) -> float:
        dt, model = await api.get(P1_PATH, content=1)
        assert len(model["content"]["cells"]) == len(nb["cells"])
        return dt

    ctx.swiftlog.mark()
    opens = await interleaved(ctx.apis(), p.repeat, open_)
    row = ratio_row(
        Row("P1b", f"open a {p.nb_mb:g} MB notebook (REST GET), Bookstore / File", "<= 1.2x"),
        opens,
        1.2,
    )
    row.details.update(swift=summarise(ctx.swiftlog.read()))
    return [row]


# --- P2: list 10k --------------------------------------------------------------------------


async def p2_list(ctx: Context) -> list[Row]:
    p = ctx.params
    folder = f"cached/list-{p.list_count}"
    apis = {"bookstore": ctx.bookstore, "file": ctx.file}

    last = {"bookstore": 0.0}
    repeated: list[float] = []

    async def get(name: str, api: Api) -> float:
        dt, model = await api.get(folder, content=1)
        assert len(model["content"]) == p.list_count, (name, len(model["content"]))
        return dt

    async def listing(name: str, api: Api) -> float:
        if name != "bookstore":
            return await get(name, api)
        # Bookstore keeps complete listings for listing_cache_ttl (2 s by default): the
        # row is the cold listing (the cache expired), the repeat within the TTL a detail.
        await asyncio.sleep(max(0.0, last["bookstore"] + p.listing_ttl + 0.5 - time.monotonic()))
        dt = await get(name, api)
        repeated.append(await get(name, api))
        last["bookstore"] = time.monotonic()
        return dt

    for name, api in apis.items():  # warm: first request authenticates, fills OS caches
        await get(name, api)
    ctx.swiftlog.mark()
    times = await interleaved(apis, p.repeat, listing)
    row = ratio_row(
        Row(
            "P2",
            f"list a folder of {p.list_count:,} notebooks (cold), Bookstore / File",
            "<= 0.6x",
        ),
        times,
        0.6,
    )
    row.columns["bookstore"] += f" (repeated within {p.listing_ttl:g} s: {fmt_s(median(repeated))})"
    row.details["repeated_seconds"] = repeated
    row.details["swift"] = summarise(ctx.swiftlog.read())
    if ctx.s3contents is not None:
        # s3contents on the very same container (an s3api bucket), in a fresh server
        # (s3fs keeps a listings cache per process): its first listing, then repeats.
        with s3contents_server(ctx.swift.info, ctx.container) as server:
            api = Api(server)
            try:
                cold, _ = await api.get(folder, content=1)
                cached = [(await api.get(folder, content=1))[0] for _ in range(2)]
            finally:
                await api.aclose()
        row.columns["s3contents"] = f"{fmt_s(cold)} first, {fmt_s(median(cached))} repeated"
        row.details["s3contents_seconds"] = {"cold": cold, "cached": cached}
    return [row]


# --- P3: checkpoint 20 MB vs 10 KB ---------------------------------------------------------


async def p3_checkpoint(ctx: Context) -> list[Row]:
    p = ctx.params
    big = data.json_body(
        {"type": "notebook", "content": data.make_notebook(int(p.cp_big_mb * MB), seed=3)}
    )
    small = data.json_body(
        {"type": "notebook", "content": data.make_notebook(int(p.cp_small_kb * 1024), seed=4)}
    )
    apis = ctx.apis()
    for api in apis.values():
        await api.mkdir("run/p3")
        await api.put_raw("run/p3/big.ipynb", big)
        await api.put_raw("run/p3/small.ipynb", small)
    ratios: dict[str, float] = {}
    seconds: dict[str, dict[str, list[float]]] = {}
    ctx.swiftlog.mark()
    for name, api in apis.items():
        t_big: list[float] = []
        t_small: list[float] = []
        for _ in range(p.repeat):
            t_big.append((await api.checkpoint("run/p3/big.ipynb"))[0])
            t_small.append((await api.checkpoint("run/p3/small.ipynb"))[0])
        ratios[name] = median(t_big) / median(t_small)
        seconds[name] = {"big": t_big, "small": t_small}
    row = Row(
        "P3",
        f"create a checkpoint of a {p.cp_big_mb:g} MB notebook / of a {p.cp_small_kb:g} KB one",
        "<= 3x",
        value=ratios["bookstore"],
        met=ratios["bookstore"] <= 3,
    )
    row.columns = {
        name: f"{ratios[name]:.1f}x ({fmt_s(median(s['big']))} / {fmt_s(median(s['small']))})"
        for name, s in seconds.items()
    }
    row.details.update(seconds=seconds, swift=summarise(ctx.swiftlog.read()))
    return [row]


# --- P4: rename a folder of 1,000 --------------------------------------------------------------


def _object_map(conn, container: str, prefix: str) -> dict[str, str]:
    _, objects = conn.get_container(container, prefix=prefix, full_listing=True)
    return {o["name"][len(prefix) :]: o["hash"] for o in objects}


async def p4_rename(ctx: Context) -> list[Row]:
    p = ctx.params
    base = f"cached/rename-{p.rename_count}"
    conn = ctx.swift.connection()
    try:
        a, b = f"{base}/a/", f"{base}/b/"
        src, dst = (a, b) if data.count_under(conn, ctx.container, a) else (b, a)
        if not data.count_under(conn, ctx.container, src):
            data.ensure_folder(
                ctx.swift.connection,
                ctx.container,
                src,
                p.rename_count,
                method=p.populate,
                log=ctx.log,
            )
        before = _object_map(conn, ctx.container, src)
        meter = CpuMeter({"jupyter": ctx.bookstore.server.pid} | ctx.swift.processes())
        ctx.swiftlog.mark()
        meter.start()
        t0 = time.perf_counter()
        await ctx.bookstore.patch(src.rstrip("/"), dst.rstrip("/"))
        elapsed = time.perf_counter() - t0
        meter.stop(len(before))
        requests = ctx.swiftlog.read()
        after_new = _object_map(conn, ctx.container, dst)
        after_old = _object_map(conn, ctx.container, src)
    finally:
        conn.close()
    _, listing = await ctx.bookstore.get(dst.rstrip("/"), content=1)
    try:
        await ctx.bookstore.get(src.rstrip("/"), content=0)
        old_gone = False
    except ApiError as exc:
        old_gone = exc.status == 404
    correct = (
        after_new == before
        and not after_old
        and old_gone
        and len(listing["content"]) == p.rename_count
    )
    limit = 5.0 * p.rename_count / 1000
    row = Row(
        "P4",
        f"rename a folder of {p.rename_count:,} notebooks (+ correct afterwards)",
        f"<= {limit:g} s" + ("" if p.rename_count == 1000 else " (5 s x n/1000)"),
        value=elapsed,
        unit="s",
        met=elapsed <= limit and correct,
    )
    # File baseline: the same rename on local disk.
    froot = ctx.file_root / base
    fsrc, fdst = ("a", "b") if (froot / "a").exists() else ("b", "a")
    t0 = time.perf_counter()
    await ctx.file.patch(f"{base}/{fsrc}", f"{base}/{fdst}")
    file_s = time.perf_counter() - t0
    phases = _phases(requests)
    cpu_ms = {proc: round(ms[0], 1) for proc, ms in meter.ms_each.items()}
    where = ", ".join(f"{proc} {ms:g}" for proc, ms in cpu_ms.items())
    row.columns = {
        "bookstore": f"{elapsed:.2f} s, {'correct' if correct else 'WRONG'}; "
        f"CPU ms/object: {where}",
        "file": fmt_s(file_s),
    }
    row.details.update(
        cpu_ms_per_object=cpu_ms,
        correct=correct,
        objects_before=len(before),
        objects_after=len(after_new),
        left_behind=len(after_old),
        phases=phases,
        swift=summarise(requests),
    )
    return [row]


def _phases(requests: list) -> dict[str, float]:
    """Wall time of each phase of a folder move, from the Swift log."""
    out: dict[str, float] = {}
    client = [r for r in requests if r.source == "-"]
    copies = [r for r in client if r.method == "COPY" or (r.method == "PUT" and r.query == "")]
    deletes = [r for r in client if "bulk-delete" in r.query or r.method == "DELETE"]
    if copies:
        out["copy_phase_s"] = round(max(r.end for r in copies) - min(r.start for r in copies), 3)
        out["copies"] = len(copies)
    if deletes:
        out["delete_phase_s"] = round(
            max(r.end for r in deletes) - min(r.start for r in deletes), 3
        )
    return out


# --- P5: event-loop lag -------------------------------------------------------------------------


async def _lag_under_load(ctx: Context, api: Api, name: str) -> dict[str, Any]:
    p = ctx.params
    folder = f"cached/list-{p.list_count}"
    await api.mkdir("run/p5")
    await asyncio.sleep(1.0)
    idle = await api.lag(reset=True)  # the last second, idle
    await asyncio.sleep(1.0)
    idle = await api.lag(reset=True)
    done = asyncio.Event()
    listings = 0

    async def list_loop() -> None:
        nonlocal listings
        while not done.is_set() or listings == 0:
            await api.get(folder, content=1)
            listings += 1

    async def upload() -> float:
        try:
            dt, _ = await api.upload_chunked(f"run/p5/blob-{name}.bin", p.lag_upload_mb * MB)
            return dt
        finally:
            done.set()

    lister = asyncio.create_task(list_loop())
    upload_s = await upload()
    await lister
    stats = await api.lag(reset=True)
    return {"idle": idle, "load": stats, "listings": listings, "upload_s": round(upload_s, 2)}


async def p5_lag(ctx: Context) -> list[Row]:
    p = ctx.params
    results = {}
    ctx.swiftlog.mark()
    for name, api in (("bookstore", ctx.bookstore), ("file", ctx.file)):
        results[name] = await _lag_under_load(ctx, api, name)
    p99 = results["bookstore"]["load"]["p99_ms"]
    row = Row(
        "P5",
        f"event-loop lag p99 during a {p.lag_upload_mb} MB chunked upload + "
        f"{p.list_count:,}-entry listings",
        "< 50 ms",
        value=p99,
        unit="ms",
        met=p99 < 50,
    )
    row.columns = {
        name: f"p99 {r['load']['p99_ms']:.0f} ms, max {r['load']['max_ms']:.0f} ms, "
        f"{r['load']['stalls_over_50ms']} stalls > 50 ms "
        f"({r['listings']} listings, upload {r['upload_s']:.1f} s)"
        for name, r in results.items()
    }
    row.details.update(results)
    return [row]


# --- P6: 20 concurrent savers vs raw swiftclient ------------------------------------------------


async def _rest_throughput(
    api: Api, bodies: list[bytes], saves: int, tag: str, meter: CpuMeter | None = None
) -> float:
    await api.mkdir(f"run/p6{tag}")
    for i, body in enumerate(bodies):  # first save of each: creates file and checkpoint
        await api.put_raw(f"run/p6{tag}/c{i:02d}.ipynb", body)

    async def client(i: int) -> None:
        for _ in range(saves):
            await api.put_raw(f"run/p6{tag}/c{i:02d}.ipynb", bodies[i])

    if meter:
        meter.start()
    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(len(bodies))))
    elapsed = time.perf_counter() - t0
    if meter:
        meter.stop(len(bodies) * saves)
    return len(bodies) * saves / elapsed


def _raw_throughput(
    swift: Swift, container: str, payloads: list[bytes], saves: int, meter: CpuMeter
) -> float:
    conns = [swift.connection() for _ in payloads]
    for i, conn in enumerate(conns):
        conn.put_object(container, f"run/p6raw/c{i:02d}.ipynb", payloads[i])  # warm, auth

    def client(i: int) -> None:
        for _ in range(saves):
            conns[i].put_object(
                container,
                f"run/p6raw/c{i:02d}.ipynb",
                payloads[i],
                content_type="application/x-ipynb+json",
            )

    try:
        meter.start()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(len(payloads)) as pool:
            list(pool.map(client, range(len(payloads))))
        elapsed = time.perf_counter() - t0
        meter.stop(len(payloads) * saves)
        return len(payloads) * saves / elapsed
    finally:
        for conn in conns:
            conn.close()


async def p6_concurrency(ctx: Context) -> list[Row]:
    p = ctx.params
    nbs = [data.make_notebook(int(p.client_kb * 1024), seed=100 + i) for i in range(p.clients)]
    bodies = [data.json_body({"type": "notebook", "content": nb}) for nb in nbs]
    payloads = [data.notebook_bytes(nb) for nb in nbs]
    rounds = 2
    tput: dict[str, list[float]] = {"bookstore": [], "raw": [], "file": []}
    swift = ctx.swift.processes()
    client = {"client": os.getpid()}
    meters = {
        "raw": CpuMeter(client | swift),
        "bookstore": CpuMeter(client | {"jupyter": ctx.bookstore.server.pid} | swift),
        "file": CpuMeter(client | {"jupyter": ctx.file.server.pid}),
    }
    ctx.swiftlog.mark()
    swift_window = []
    for r in range(rounds):
        tput["raw"].append(
            await asyncio.to_thread(
                _raw_throughput,
                ctx.swift,
                ctx.container,
                payloads,
                p.saves_per_client,
                meters["raw"],
            )
        )
        ctx.swiftlog.mark()
        tput["bookstore"].append(
            await _rest_throughput(
                ctx.bookstore, bodies, p.saves_per_client, str(r), meters["bookstore"]
            )
        )
        swift_window = ctx.swiftlog.read()
        tput["file"].append(
            await _rest_throughput(ctx.file, bodies, p.saves_per_client, str(r), meters["file"])
        )
    if ctx.s3contents is not None:
        tput["s3contents"] = [
            await _rest_throughput(ctx.s3contents, bodies, p.saves_per_client, "s3")
        ]
    means = {name: statistics.mean(ts) for name, ts in tput.items()}
    value = means["bookstore"] / means["raw"]
    row = Row(
        "P6",
        f"{p.clients} clients saving {p.client_kb:g} KB notebooks: REST throughput / "
        "raw swiftclient PUTs",
        ">= 0.8x",
        value=value,
        met=value >= 0.8,
    )
    row.columns = {name: f"{m:.1f} saves/s" for name, m in means.items()}
    cpu_ms = {
        name: {proc: round(statistics.mean(v), 1) for proc, v in meter.ms_each.items()}
        for name, meter in meters.items()
    }
    for name, per in cpu_ms.items():
        where = ", ".join(f"{proc} {ms:g}" for proc, ms in per.items())
        row.columns[name] += f"; CPU ms/save: {where}"
    row.details.update(
        throughput=tput,
        cpu_ms_per_save=cpu_ms,
        swift_last_bookstore_round=summarise(swift_window),
    )
    return [row]


# --- P7: RSS during a 200 MB chunked upload ------------------------------------------------------


async def _rss_growth(api: Api, path: str, total_mb: int) -> dict[str, Any]:
    server = api.server
    await asyncio.sleep(0.5)
    before = server.rss()
    exact = server.reset_peak_rss()
    sampled = before
    stop = asyncio.Event()

    async def sample() -> None:
        nonlocal sampled
        while not stop.is_set():
            sampled = max(sampled, server.rss())
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    try:
        upload_s, model = await api.upload_chunked(path, total_mb * MB)
    finally:
        stop.set()
        await sampler
    peak = server.peak_rss() if exact else None
    top = max(sampled, peak or 0)
    assert model["size"] == total_mb * MB, model
    return {
        "rss_before_mb": round(before / MB, 1),
        "peak_mb": round(top / MB, 1),
        "growth_mb": round((top - before) / MB, 1),
        "vmhwm_reset": exact,
        "upload_s": round(upload_s, 1),
    }


async def p7_rss(ctx: Context) -> list[Row]:
    """Each on a freshly started server: a server that already served big requests keeps
    that memory in its allocator, which would hide any growth."""
    p = ctx.params
    results = {}
    ctx.swiftlog.mark()
    fresh = {
        "bookstore": bookstore_server(ctx.swift.info, ctx.container),
        "file": file_server(ctx.file_root),
    }
    for name, server in fresh.items():
        with server:
            api = Api(server)
            try:
                await api.mkdir("run/p7")
                await api.get("", content=1)  # warm: imports, first store connection
                results[name] = await _rss_growth(api, f"run/p7/big-{name}.bin", p.rss_upload_mb)
            finally:
                await api.aclose()
    growth = results["bookstore"]["growth_mb"]
    row = Row(
        "P7",
        f"peak RSS growth of the server during a {p.rss_upload_mb} MB chunked upload",
        "<= 64 MB",
        value=growth,
        unit="MB",
        met=growth <= 64,
    )
    row.columns = {
        name: f"+{r['growth_mb']:.1f} MB (from {r['rss_before_mb']:.0f} MB; "
        f"upload {r['upload_s']:.0f} s)"
        for name, r in results.items()
    }
    row.details.update(results, swift=summarise(ctx.swiftlog.read()))
    return [row]


ROWS: dict[str, Callable[[Context], Awaitable[list[Row]]]] = {
    "P1": p1_save,
    "P1b": p1b_open,
    "P2": p2_list,
    "P3": p3_checkpoint,
    "P4": p4_rename,
    "P5": p5_lag,
    "P6": p6_concurrency,
    "P7": p7_rss,
}
