"""py-spy the server under test while a row runs (``python -m bench --profile``).

The output is py-spy's "raw" format (collapsed stacks with sample counts), which
``python -m bench.profile FILE`` summarises: where the server's threads spent
their samples, by innermost frames and by our own (bookstore) frames.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

#: Frames counted inclusively: ours, Jupyter's, and Swift's servers and middleware.
INCLUSIVE = (
    "bookstore/",
    "jupyter_server/",
    "nbformat/",
    "tornado/web",
    "swift/proxy/",
    "swift/obj/",
    "swift/container/",
    "swift/common/middleware/",
)


class Profiler:
    def __init__(self, pid: int, out: Path, rate: int = 200) -> None:
        self.pid, self.out, self.rate = pid, out, rate
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(self.pid),
                "--format",
                "raw",
                "--rate",
                str(self.rate),
                "--threads",
                "--nonblocking",
                "-o",
                str(self.out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc = None


def summarise(path: Path, top: int = 25, thread: str | None = None) -> str:
    """Self time by function, and inclusive time of bookstore/jupyter functions."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        if thread and thread not in stack.split(";", 1)[0]:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            if any(k in frame for k in INCLUSIVE):
                inclusive[frame] += n
    lines = [f"{total} samples"]
    lines.append("-- self --")
    lines += [f"{100 * n / total:5.1f}% {f}" for f, n in own.most_common(top)]
    lines.append("-- inclusive (bookstore, jupyter_server, nbformat, tornado.web, swift) --")
    lines += [f"{100 * n / total:5.1f}% {f}" for f, n in inclusive.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1]), thread=sys.argv[2] if len(sys.argv) > 2 else None))
