"""An interrupted push, killed mid-way, finishes on re-run without sending anything twice."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import requests
from cli_helpers import files_under

FILES = 150


def listing(swift_aio, container: str) -> dict[str, str]:
    """name -> MD5 of every object in the container, straight from Swift."""
    auth = requests.get(
        swift_aio.auth_url,
        headers={"X-Auth-User": swift_aio.user, "X-Auth-Key": swift_aio.key},
        timeout=10,
    )
    r = requests.get(
        f"{auth.headers['X-Storage-Url']}/{container}",
        params={"format": "json"},
        headers={"X-Auth-Token": auth.headers["X-Auth-Token"]},
        timeout=10,
    )
    return {} if r.status_code == 404 else {o["name"]: o["hash"] for o in r.json()}


def test_killed_push_resumes_without_resending(swift_aio, swift_env, container, tmp_path):
    src = tmp_path / "many"
    src.mkdir()
    for i in range(FILES):
        (src / f"f{i:04d}.txt").write_bytes(os.urandom(2048))
    url = f"swift://{container}/many"
    push = [sys.executable, "-m", "bookstore.cli", "push", "--json", str(src), url]
    env = {**os.environ, **swift_env}

    # One file at a time, so it is surely mid-way when killed.
    first = subprocess.Popen(
        [*push, "--jobs", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    try:
        while len(listing(swift_aio, container)) < 10:
            assert first.poll() is None, "push finished before it could be interrupted"
            assert time.monotonic() < deadline, "push made no progress"
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    time.sleep(0.5)  # a request sent whole just before the kill may still be landing
    arrived = set(listing(swift_aio, container))
    assert 10 <= len(arrived) < FILES, len(arrived)

    again = subprocess.run(push, env=env, capture_output=True, timeout=120)
    assert again.returncode == 0, again.stderr.decode()
    report = json.loads(again.stdout)
    # Exactly the missing files were sent; every one that had arrived was skipped.
    assert set(report["keys"]["skipped"]) == arrived
    assert report["transferred"] == FILES - len(arrived)
    assert set(report["keys"]["transferred"]).isdisjoint(arrived)

    assert listing(swift_aio, container) == {
        f"many/{name}": hashlib.md5(data).hexdigest() for name, data in files_under(src).items()
    }
