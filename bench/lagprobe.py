"""A tiny Jupyter Server extension that measures the server's own event-loop lag.

Loaded into the server under test with
``--ServerApp.jpserver_extensions={"bench.lagprobe": True}`` (``bench`` on
PYTHONPATH). A ticker on the server's loop sleeps ``INTERVAL`` seconds at a time
and records how late it wakes up: anything that blocks the loop (JSON parsing,
hashing, model building, a blocking call) shows up as lag. The numbers are read
and reset over HTTP at ``/bench/lag`` (loopback only, no auth: bench use only):

- ``GET  /bench/lag``  -> ``{"count", "p50_ms", "p99_ms", "max_ms", "worst": [[t, ms]...]}``
- ``POST /bench/lag``  -> reset the samples (answers the same JSON, then empties)
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from tornado.web import RequestHandler

INTERVAL = 0.005  # seconds between ticks


class _Ticker:
    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (wall time, lag seconds)
        self.task: asyncio.Task | None = None
        self.watcher: asyncio.Future | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(INTERVAL)
            lag = loop.time() - start - INTERVAL
            self.samples.append((time.time(), max(0.0, lag)))
            if len(self.samples) > 2_000_000:  # bounded, whatever the run length
                del self.samples[:1_000_000]

    def stats(self) -> dict[str, Any]:
        lags = sorted(lag for _, lag in self.samples)
        worst = sorted(self.samples, key=lambda s: s[1], reverse=True)[:10]

        def pct(p: float) -> float:
            if not lags:
                return 0.0
            return lags[min(len(lags) - 1, int(p * len(lags)))] * 1000

        return {
            "count": len(lags),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": (lags[-1] * 1000) if lags else 0.0,
            # p99 of ticks under-weights long stalls (one 400 ms stall is one tick), so
            # also count them and sum the time the loop spent stalled beyond 50 ms.
            "stalls_over_50ms": sum(1 for lag in lags if lag > 0.05),
            "stalled_s": round(sum(lag for lag in lags if lag > 0.05), 3),
            "worst": [[round(t, 3), round(lag * 1000, 2)] for t, lag in worst],
        }


TICKER = _Ticker()


class LagHandler(RequestHandler):
    def check_xsrf_cookie(self) -> None:  # loopback bench endpoint, no browser involved
        return

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(TICKER.stats()))

    def post(self) -> None:
        stats = TICKER.stats()
        TICKER.samples.clear()
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(stats))


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "bench.lagprobe"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    serverapp.web_app.add_handlers(".*$", [(r"/bench/lag", LagHandler)])

    def start() -> None:
        TICKER.task = asyncio.ensure_future(TICKER.run())
        if os.environ.get("BENCH_STALLS"):
            TICKER.watcher = _watch_stalls(os.environ["BENCH_STALLS"])

    serverapp.io_loop.add_callback(start)
    serverapp.log.info("bench.lagprobe: ticking every %.0f ms", INTERVAL * 1000)


def _watch_stalls(path: str, threshold: float = 0.03) -> asyncio.Future:
    """Debug aid: on every stall over ``threshold``, append the loop thread's stack to ``path``."""
    import sys
    import threading
    import traceback

    main = threading.main_thread().ident
    state = {"last": time.monotonic()}

    async def beat() -> None:
        while True:
            state["last"] = time.monotonic()
            await asyncio.sleep(0.002)

    def watch() -> None:
        seen_stall = None
        while True:
            time.sleep(0.005)
            stalled = time.monotonic() - state["last"]
            if stalled > threshold and seen_stall != state["last"]:
                seen_stall = state["last"]
                frame = sys._current_frames().get(main)
                stack = "".join(traceback.format_stack(frame)[-14:]) if frame else "?"
                with open(path, "a") as f:
                    f.write(f"--- stall >{threshold * 1000:.0f} ms\n{stack}")

    threading.Thread(target=watch, daemon=True).start()
    return asyncio.ensure_future(beat())
