"""A TEST DOUBLE of Rackspace Identity v2.0 (and of Keystone v2.0's password call).

This is not Rackspace and not Keystone: a small loopback HTTP server of ours, for tests
only. It speaks the documented wire format of ``POST /v2.0/tokens``:

- Rackspace API key: ``{"auth": {"RAX-KSKEY:apiKeyCredentials": {"username": ...,
  "apiKey": ...}}}``, and Rackspace passwords (``passwordCredentials``);
- Keystone v2.0 passwords: ``{"auth": {"passwordCredentials": {...}, "tenantName": ...}}``
  (Keystone itself dropped v2.0; legacy clusters still speak it).

It answers with an ``access`` document whose service catalog points at the session's
real Swift: the token is a real tempauth token that the double gets from swift-aio for
the user's Swift account(s), so what the client then does happens in real Swift.

- Rackspace user ``rack``: ``cloudFiles`` in DFW is account ``AUTH_test``, in LON
  ``AUTH_test2`` (a reseller-admin token opens both), plus ``cloudFilesCDN`` endpoints.
- Keystone v2.0 user ``legacy`` (tenant ``legacy-tenant``): ``object-store`` in RegionOne,
  account ``AUTH_test``.

Every request is recorded in ``requests`` (kind and user name, never a secret).
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bookstore.devswift import AIOInfo

HOST = "127.0.0.1"
_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class DoubleUser:
    name: str
    password: str
    tempauth: tuple[str, str]  # the swift-aio user whose token is handed out
    api_key: str = ""
    tenant: str = ""  # Keystone v2.0 tenantName the user may ask for
    catalog: list[dict[str, Any]] = field(default_factory=list)


class IdentityDouble:
    """``with IdentityDouble(swift) as double:`` serves on ``double.url`` (…/v2.0/)."""

    def __init__(self, swift: AIOInfo) -> None:
        self.swift = swift
        self.requests: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer((HOST, 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        base = f"http://{HOST}:{swift.port}/v1"
        cdn = f"http://{HOST}:{self.port}/cdn"
        self.rack = DoubleUser(
            name="rack",
            password="rax-pw-" + secrets.token_hex(8),
            api_key="rax-key-" + secrets.token_hex(12),
            tempauth=("admin:admin", "admin"),  # reseller admin: both accounts below
            catalog=[
                {
                    "name": "cloudFiles",
                    "type": "object-store",
                    "endpoints": [
                        _rax_endpoint("DFW", f"{base}/AUTH_test"),
                        _rax_endpoint("LON", f"{base}/AUTH_test2"),
                    ],
                },
                {
                    "name": "cloudFilesCDN",
                    "type": "rax:object-cdn",
                    "endpoints": [
                        _rax_endpoint("DFW", f"{cdn}/DFW/AUTH_test"),
                        _rax_endpoint("LON", f"{cdn}/LON/AUTH_test2"),
                    ],
                },
                {"name": "cloudServersOpenStack", "type": "compute", "endpoints": []},
            ],
        )
        self.legacy = DoubleUser(
            name="legacy",
            password="legacy-pw-" + secrets.token_hex(8),
            tenant="legacy-tenant",
            tempauth=(swift.user, swift.key),
            catalog=[
                {
                    "name": "swift",
                    "type": "object-store",
                    "endpoints": [
                        {
                            "region": "RegionOne",
                            "publicURL": f"{base}/AUTH_test",
                            "internalURL": f"{base}/AUTH_test",
                            "adminURL": f"http://{HOST}:{swift.port}",
                        }
                    ],
                }
            ],
        )
        self.users = {u.name: u for u in (self.rack, self.legacy)}
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The identity endpoint, like https://identity.api.rackspacecloud.com/v2.0/."""
        return f"http://{HOST}:{self.port}/v2.0/"

    def __enter__(self) -> IdentityDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- the protocol ---------------------------------------------------------------------

    def authenticate(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        auth = body.get("auth") or {}
        if "RAX-KSKEY:apiKeyCredentials" in auth:
            creds = auth["RAX-KSKEY:apiKeyCredentials"]
            user = self.users.get(creds.get("username", ""))
            self.requests.append(("apikey", creds.get("username", "")))
            ok = user is not None and user.api_key and creds.get("apiKey") == user.api_key
        elif "passwordCredentials" in auth:
            creds = auth["passwordCredentials"]
            user = self.users.get(creds.get("username", ""))
            self.requests.append(("password", creds.get("username", "")))
            ok = user is not None and creds.get("password") == user.password
            tenant = auth.get("tenantName") or auth.get("tenantId")
            if ok and user.tenant and tenant not in (None, user.tenant):
                ok = False
        else:
            return 400, {"badRequest": {"code": 400, "message": "Invalid request body"}}
        if not ok or user is None:
            message = "Username or api key is invalid."
            return 401, {"unauthorized": {"code": 401, "message": message}}
        token, _ = self._tempauth_token(*user.tempauth)
        now = datetime.now(UTC)
        tenant_id = user.tenant or "123456"
        return 200, {
            "access": {
                "token": {
                    "id": token,
                    "issued_at": _iso(now),
                    "expires": _iso(now + timedelta(hours=12)),
                    "tenant": {"id": tenant_id, "name": tenant_id},
                    "RAX-AUTH:authenticatedBy": ["APIKEY"],
                },
                "serviceCatalog": user.catalog,
                "user": {
                    "id": uuid.uuid5(uuid.NAMESPACE_URL, user.name).hex,
                    "name": user.name,
                    "roles": [{"id": "3", "name": "identity:user-admin"}],
                    "RAX-AUTH:defaultRegion": "DFW",
                },
            }
        }

    def _tempauth_token(self, user: str, key: str) -> tuple[str, str]:
        req = urllib.request.Request(
            self.swift.auth_url, headers={"X-Auth-User": user, "X-Auth-Key": key}
        )
        with _no_proxy.open(req, timeout=10) as resp:
            return resp.headers["X-Auth-Token"], resp.headers["X-Storage-Url"]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v2.0/tokens":
                    return self._send(404, {"itemNotFound": {"code": 404, "message": "no"}})
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self._send(400, {"badRequest": {"code": 400, "message": "not JSON"}})
                self._send(*double.authenticate(body))

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _rax_endpoint(region: str, url: str) -> dict[str, str]:
    return {"region": region, "tenantId": "MossoCloudFS_test", "publicURL": url, "internalURL": url}


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
