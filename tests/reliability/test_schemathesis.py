"""R5 (fuzzing): schemathesis against jupyter_server's own contents API spec, with Bookstore
as the contents manager: whatever the input, no 5xx caused by Bookstore.

The spec is ``jupyter_server/services/api/api.yaml`` (Swagger 2.0). Every operation
under ``/api/contents`` is fuzzed with schema-valid (positive) and schema-violating
(negative) requests, a bounded number of examples each, derandomised so a failure
reproduces. The servers are real subprocesses, so requests really cross a socket.

jupyter_server's own handlers answer some malformed bodies with a 500 before any
contents manager runs (a body that is not UTF-8, or JSON that is not an object:
``get_json_body`` decodes outside its try, ``put``/``patch`` call ``model.get``). So
every 5xx from Bookstore is replayed against a server running jupyter_server's
default FileContentsManager: a 5xx there too is upstream (counted and printed), a
5xx only with Bookstore fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from reliability_helpers import disabled_server_extensions, jupyter_server_process

from kinds import unique

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

MAX_EXAMPLES = int(os.environ.get("BOOKSTORE_FUZZ_EXAMPLES", "12"))


def api_spec() -> Path:
    import jupyter_server

    return Path(jupyter_server.__file__).parent / "services" / "api" / "api.yaml"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The same API over jupyter_server's default contents manager (a local folder)."""
    config = {"ServerApp": {"jpserver_extensions": disabled_server_extensions()}}
    with jupyter_server_process(tmp_path_factory.mktemp("fuzz-file"), config) as proc:
        yield proc


@pytest.fixture(scope="module")
def server(tmp_path_factory, swift_aio):
    config = {
        "ServerApp": {
            "contents_manager_class": "bookstore.BookstoreContentsManager",
            "jpserver_extensions": disabled_server_extensions(),
        },
        "BookstoreContentsManager": {"store_url": f"swift://{unique('fuzz')}/"},
    }
    env = {"ST_AUTH": swift_aio.auth_url, "ST_USER": swift_aio.user, "ST_KEY": swift_aio.key}
    with jupyter_server_process(tmp_path_factory.mktemp("fuzz"), config, env=env) as proc:
        yield proc


def contents_operations():
    schema = schemathesis.openapi.from_path(str(api_spec()))
    ops = [result.ok() for result in schema.get_all_operations()]
    return [op for op in ops if op.path.startswith("/api/contents")]


def cases() -> list:
    """(operation, mode): negative (schema-violating) input only where some exists: a
    query or a body (any string is a valid {path})."""
    out = []
    for op in contents_operations():
        label = f"{op.method.upper()} {op.path}"
        out.append(pytest.param(op, "positive", id=f"{label} positive"))
        if len(op.query) or len(op.body):
            out.append(pytest.param(op, "negative", id=f"{label} negative"))
    return out


@pytest.mark.parametrize(("operation", "mode"), cases())
def test_no_server_error(server, baseline, operation, mode):
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode

    generation = GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE
    errors: list[str] = []
    upstream: list[str] = []
    tried: list[int] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=generation))
    def fuzz(case) -> None:
        response = case.call(base_url=server.url, headers=server.headers, timeout=60)
        tried.append(response.status_code)
        if response.status_code >= 500:
            what = (
                f"{case.method} {response.request.url} body={str(case.body)[:200]!r} -> "
                f"{response.status_code} {response.text[:300]}"
            )
            again = case.call(base_url=baseline.url, headers=baseline.headers, timeout=60)
            (upstream if again.status_code >= 500 else errors).append(what)

    fuzz()
    print(
        f"\nR5 fuzz {operation.method.upper()} {operation.path} ({mode}): "
        f"{len(tried)} requests, statuses {sorted(set(tried))}, "
        f"{len(upstream)} upstream 5xx (FileContentsManager too), {len(errors)} Bookstore 5xx"
    )
    assert not errors, "\n".join(errors[:5])
