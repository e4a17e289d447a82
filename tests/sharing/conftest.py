"""Links are judged the way a stranger sees them: a plain HTTP client, no credentials."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Fetched:
    status: int
    body: bytes
    content_type: str | None


def anonymous_get(url: str) -> Fetched:
    """GET ``url`` with urllib and nothing else: no token, no cookie, no signature of ours."""
    request = urllib.request.Request(url, headers={"User-Agent": "stranger/1.0"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Fetched(response.status, response.read(), response.headers.get("content-type"))
    except urllib.error.HTTPError as exc:
        with exc:
            return Fetched(exc.code, exc.read(), exc.headers.get("content-type"))


@pytest.fixture
def anon():
    return anonymous_get
