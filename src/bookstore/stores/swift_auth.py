"""Swift credentials -> a storage URL and a token: v1.0, Keystone v2.0/v3, Rackspace.

``SwiftStore`` asks its ``SwiftAuth`` for ``(storage_url, token)`` when it has no token,
after Swift rejected its token (401), and when the auth says the token expires soon
(``renewal_due``). Each of these calls returns a *fresh* token.

- ``V1Auth``: Swift's own v1.0 auth (tempauth, swauth): ``GET auth_url`` with a user and key.
- ``KeystoneAuth``: any keystoneauth1 identity plugin (v3 password, application
  credential, token; v2.0 password) in a keystoneauth1 ``Session``; the object-store
  endpoint comes from the service catalog, by ``region_name`` and ``interface``.
- ``RackspaceAuth``: Rackspace Identity v2.0 with an API key (``RAX-KSKEY``); the
  ``cloudFiles`` endpoint of a region, and its ``cloudFilesCDN`` endpoint as ``cdn_url``.

``auth_from_config(store)`` picks one from the store's settings. Where they come from,
first match wins:

1. ``c.SwiftStore.cloud``: that cloud of ``clouds.yaml``, read by openstacksdk where it
   looks for it (``$OS_CLIENT_CONFIG_FILE``, ``./clouds.yaml``, ``~/.config/openstack/``,
   ``/etc/openstack/``; ``secure.yaml`` too).
2. ``c.SwiftStore.auth_url`` and the other credential settings, as configured.
3. Nothing of the two configured: ``$OS_CLOUD`` or ``$OS_AUTH_URL`` (with the other
   ``OS_*`` variables, read by openstacksdk), else ``$ST_AUTH``/``$ST_USER``/``$ST_KEY``.

Settings made in the configuration always win over the file or the environment, field
by field (a configured ``region_name`` overrides the cloud's). A configured ``auth_url``
or ``cloud`` leaves the environment out entirely, so that secrets found in the
environment only ever go to the URL found next to them.

Errors are ``bookstore.errors`` that name the user and the identity URL, never a
password, key, secret or token.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import requests
from swiftclient.client import get_auth_1_0

from ..errors import InvalidRequest, PermissionDenied, Unauthenticated, Unavailable
from .retry import Transient, is_retryable_status

if TYPE_CHECKING:
    from keystoneauth1.access import AccessInfo
    from keystoneauth1.identity.base import BaseIdentityPlugin

__all__ = [
    "RACKSPACE_IDENTITY_URL",
    "KeystoneAuth",
    "RackspaceAuth",
    "SwiftAuth",
    "V1Auth",
    "auth_from_config",
    "renewal_due",
]

log = logging.getLogger(__name__)

RACKSPACE_IDENTITY_URL = "https://identity.api.rackspacecloud.com/v2.0/"
#: Renew a token this long before it expires (keystoneauth1 uses the same margin)...
RENEW_BEFORE_SECONDS = 120.0
#: ...or after this share of its lifetime is left, for tokens that live only minutes.
RENEW_BEFORE_SHARE = 0.25
#: Keystone's usual default domain: a user or project given by name without a domain is
#: looked up there, as the openstack CLI and swiftclient users expect.
DEFAULT_DOMAIN_ID = "default"

# The SwiftStore settings that describe credentials, in the order they are read.
CREDENTIAL_SETTINGS = (
    "auth_url",
    "auth_version",
    "auth_type",
    "user",
    "user_id",
    "key",
    "project_name",
    "project_id",
    "user_domain_name",
    "user_domain_id",
    "project_domain_name",
    "project_domain_id",
    "application_credential_id",
    "application_credential_secret",
    "token",
)
SECRET_SETTINGS = ("key", "application_credential_secret", "token")
_CLOUD_SECRETS = ("password", "application_credential_secret", "token")
# Settings that only make sense with Keystone: with one of them, an auth_url without a
# version is Keystone's (discovered), not Swift's v1.0.
_KEYSTONE_ONLY = (
    "user_id",
    "project_name",
    "project_id",
    "user_domain_name",
    "user_domain_id",
    "project_domain_name",
    "project_domain_id",
    "application_credential_id",
    "application_credential_secret",
    "token",
)
# SwiftStore setting -> keystoneauth1 plugin option (``loader.get_options()`` dests).
_PLUGIN_OPTIONS = {
    "auth_url": "auth_url",
    "user": "username",
    "user_id": "user_id",
    "key": "password",
    "project_name": "project_name",
    "project_id": "project_id",
    "user_domain_name": "user_domain_name",
    "user_domain_id": "user_domain_id",
    "project_domain_name": "project_domain_name",
    "project_domain_id": "project_domain_id",
    "application_credential_id": "application_credential_id",
    "application_credential_secret": "application_credential_secret",
    "token": "token",
}
# Swift's own variables (python-swiftclient's), read when nothing else is configured.
_ST_ENV = {
    "auth_url": "ST_AUTH",
    "user": "ST_USER",
    "key": "ST_KEY",
    "auth_version": "ST_AUTH_VERSION",
}
_VERSIONS = {"1.0": ("1", "1.0"), "2.0": ("2", "2.0"), "3": ("3", "3.0")}


# --- the seam ----------------------------------------------------------------------------


class SwiftAuth(Protocol):
    """Credentials -> a storage URL and a token. Blocking: called in a worker thread.

    Optional: ``expiring() -> bool``, cheap and non-blocking, True when the token last
    returned should be replaced before it is used again (see ``renewal_due``).
    """

    #: Who and where, for error messages (user and auth URL): never a key or a token.
    description: str

    def authenticate(self) -> tuple[str, str]:
        """A fresh ``(storage_url, token)``; raises bookstore or swiftclient/requests errors."""
        ...


def renewal_due(auth: object) -> bool:
    """True when ``auth`` says the token it last gave out expires soon."""
    expiring = getattr(auth, "expiring", None)
    return bool(expiring is not None and expiring())


@dataclass
class V1Auth:
    """Swift's v1.0 auth (tempauth, swauth): ``GET auth_url`` with X-Auth-User/X-Auth-Key."""

    auth_url: str
    user: str
    key: str = field(repr=False)
    timeout: float | None = None
    insecure: bool = False
    cacert: str | None = None

    @property
    def description(self) -> str:
        return f"user {self.user!r} at {self.auth_url}"

    def authenticate(self) -> tuple[str, str]:
        try:
            return get_auth_1_0(
                self.auth_url,
                self.user,
                self.key,
                timeout=self.timeout,
                insecure=self.insecure,
                cacert=self.cacert,
            )
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            if isinstance(exc, requests.exceptions.SSLError):
                raise
            raise Transient(
                f"cannot authenticate: Swift auth at {self.auth_url} is unreachable "
                f"({type(exc).__name__})"
            ) from exc


# --- Keystone ------------------------------------------------------------------------------


class KeystoneAuth:
    """A keystoneauth1 identity plugin in a Session, and the object-store endpoint it lists.

    ``authenticate()`` returns the plugin's token the first time and a new one on every
    later call (the store calls again only when its token was rejected or is expiring):
    the plugin is invalidated, then asked again. keystoneauth1 sends the request.
    """

    service = "Keystone"
    service_type = "object-store"
    service_name: str | None = None

    def __init__(
        self,
        plugin: BaseIdentityPlugin,
        *,
        auth_url: str,
        who: str,
        region_name: str = "",
        interface: str = "public",
        storage_url: str = "",
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        timeout: float | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        from keystoneauth1.session import Session

        self.plugin = plugin
        self.auth_url = auth_url
        self.who = who
        self.region_name = region_name
        self.interface = interface or "public"
        self.storage_url = storage_url
        self.session = Session(auth=plugin, verify=verify, cert=cert, timeout=timeout)
        self._secrets = tuple(s for s in secrets if s)
        self._lock = threading.Lock()
        self._access: AccessInfo | None = None
        self._issued = 0  # tokens handed out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"

    @property
    def description(self) -> str:
        return f"{self.who} at {self.service} {self.auth_url}"

    @property
    def access(self) -> AccessInfo | None:
        """What the identity service said last (token, catalog, expiry), if anything."""
        return self._access

    def authenticate(self) -> tuple[str, str]:
        with self._lock, self._errors():
            if self._issued:  # the last token was rejected or expires soon: a new one
                self.plugin.invalidate()
            access = self.plugin.get_access(self.session)
            url = self.storage_url or self._endpoint(access)
            self._access = access
            self._issued += 1
            return url, access.auth_token

    def expiring(self) -> bool:
        access = self._access
        if access is None:
            return False
        expires = access.expires
        if expires is None:
            return False
        margin = RENEW_BEFORE_SECONDS
        with contextlib.suppress(KeyError, TypeError, ValueError):  # issued_at is optional
            if issued := access.issued:
                lifetime = (expires - issued).total_seconds()
                margin = min(margin, max(1.0, lifetime * RENEW_BEFORE_SHARE))
        return (expires - datetime.now(UTC)).total_seconds() <= margin

    def regions(self, access: AccessInfo | None = None) -> list[str]:
        """Regions with an endpoint for our service and interface, as the catalog lists them."""
        access = access or self._access
        if access is None:
            return []
        found = access.service_catalog.get_endpoints_data(
            service_type=self.service_type,
            service_name=self.service_name,
            interface=self.interface,
        )
        names = {e.region_name or "(no region)" for es in found.values() for e in es}
        return sorted(names)

    # --- plumbing ---------------------------------------------------------------------

    def _endpoint(self, access: AccessInfo) -> str:
        from keystoneauth1 import exceptions as ksa

        what = self.service_name or self.service_type
        if not hasattr(access, "service_catalog"):  # e.g. swiftclient's v1password plugin
            url = self.plugin.get_endpoint(self.session, service_type=self.service_type)
            if url:
                return url
            raise InvalidRequest(f"no {what} endpoint from {self.description}")
        try:
            found = access.service_catalog.endpoint_data_for(
                service_type=self.service_type,
                service_name=self.service_name,
                interface=self.interface,
                region_name=self.region_name or None,
            )
        except ksa.EndpointNotFound:
            found = None
        if found is not None and found.url:
            if not self.region_name and self._issued == 0 and len(self.regions(access)) > 1:
                log.info(
                    "%s lists %s endpoints in regions %s; using %s (SwiftStore.region_name "
                    "chooses)",
                    self.description,
                    what,
                    ", ".join(self.regions(access)),
                    found.region_name,
                )
            log.debug("%s: %s endpoint %s (%s)", self.description, what, found.url, self.interface)
            return found.url
        if not getattr(access, "project_scoped", True):
            raise InvalidRequest(
                f"{self.service} at {self.auth_url} gave {self.who} a token without a project, "
                "so no Swift account: set SwiftStore.project_name (or project_id)"
            )
        regions = self.regions(access)
        if not regions:
            raise InvalidRequest(
                f"{self.service} at {self.auth_url} lists no {what} endpoint "
                f"({self.interface}) for {self.who}; set SwiftStore.storage_url"
            )
        if self.region_name:
            raise InvalidRequest(
                f"{self.service} at {self.auth_url} has no {what} endpoint ({self.interface}) "
                f"in region {self.region_name!r}; its catalog has one in: {', '.join(regions)}"
            )
        raise InvalidRequest(f"no usable {what} endpoint in the catalog of {self.description}")

    def _rejected(self) -> str:
        where = f"{self.service} at {self.auth_url}"
        if self.who.startswith("user "):
            return f"{where} rejected the credentials for {self.who}"
        return f"{where} rejected {self.who}"  # an application credential, a token

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """keystoneauth1's exceptions -> bookstore errors that name no secret."""
        from keystoneauth1 import exceptions as ksa

        where = f"{self.service} at {self.auth_url}"
        try:
            yield
        except ksa.Unauthorized as exc:
            raise Unauthenticated(self._rejected()) from exc
        except ksa.Forbidden as exc:
            raise PermissionDenied(f"{where} refused to authenticate {self.who}") from exc
        except ksa.NotFound as exc:
            raise Unavailable(
                f"{where} answered 404: is it the identity endpoint (e.g. ending in /v3)?"
            ) from exc
        except ksa.HttpError as exc:
            detail = self._redact(f"{exc.http_status} {exc.message or ''}".strip())
            if is_retryable_status(exc.http_status):
                raise Transient(f"cannot authenticate {self.who}: {where} said {detail}") from exc
            raise Unauthenticated(f"{where} refused to authenticate {self.who}: {detail}") from exc
        except ksa.SSLError as exc:
            raise Unavailable(f"{where}: TLS failed ({type(exc).__name__})") from exc
        except ksa.ConnectionError as exc:
            raise Transient(f"{where} is unreachable ({type(exc).__name__})") from exc
        except ksa.DiscoveryFailure as exc:
            raise Unavailable(
                f"no usable identity API at {self.auth_url} ({self._redact(str(exc))}); "
                "give the versioned URL, e.g. .../v3, or SwiftStore.auth_version"
            ) from exc
        except ksa.EndpointNotFound as exc:  # e.g. an unscoped token has no catalog
            raise InvalidRequest(
                f"{where} gave {self.who} no service catalog: a project (project_name or "
                "project_id) is needed to use Swift"
            ) from exc
        except ksa.ClientException as exc:  # invalid responses, plugin errors
            detail = self._redact(str(exc))[:200]
            raise Unavailable(f"cannot authenticate {self.who} at {where}: {detail}") from exc


class RackspaceAuth(KeystoneAuth):
    """Rackspace Identity v2.0 with an API key; Cloud Files and its CDN from the catalog.

    ``POST {auth_url}/tokens`` with ``{"auth": {"RAX-KSKEY:apiKeyCredentials":
    {"username": ..., "apiKey": ...}}}``, through keystoneauth1 (``RaxApiKey``).
    """

    service = "Rackspace Identity"
    service_name: str | None = "cloudFiles"
    cdn_service_name = "cloudFilesCDN"

    def __init__(
        self,
        user: str,
        api_key: str,
        region_name: str = "",
        *,
        auth_url: str = RACKSPACE_IDENTITY_URL,
        interface: str = "public",
        **kwargs: Any,
    ) -> None:
        auth_url = auth_url or RACKSPACE_IDENTITY_URL
        super().__init__(
            _rax_plugin(auth_url, user, api_key),
            auth_url=auth_url,
            who=f"user {user}",
            region_name=region_name.upper(),  # Rackspace spells regions DFW, LON, ...
            interface=interface,
            secrets=(api_key,),
            **kwargs,
        )
        self.user = user

    @property
    def cdn_url(self) -> str | None:
        """The region's ``cloudFilesCDN`` management endpoint (once authenticated)."""
        access = self._access
        if access is None:
            return None
        from keystoneauth1 import exceptions as ksa

        try:
            return access.service_catalog.url_for(
                service_name=self.cdn_service_name,
                interface="public",
                region_name=self.region_name or None,
            )
        except ksa.EndpointNotFound:
            return None


def _rax_plugin(auth_url: str, user: str, api_key: str) -> BaseIdentityPlugin:
    from keystoneauth1.identity import v2

    class RaxApiKey(v2.Auth):
        """keystoneauth1's v2.0 flow with Rackspace's API key credentials."""

        def get_auth_data(self, headers: Any = None) -> dict[str, object]:
            return {"RAX-KSKEY:apiKeyCredentials": {"username": user, "apiKey": api_key}}

    return RaxApiKey(auth_url)


# --- configuration -> auth -----------------------------------------------------------------


def auth_from_config(store: Any) -> SwiftAuth:
    """The ``SwiftAuth`` that ``store``'s settings (or the environment) describe."""
    explicit = {name: v for name in CREDENTIAL_SETTINGS if (v := getattr(store, name, ""))}
    if store.cloud:
        return _from_openstack_config(store, store.cloud, explicit)
    rackspace = explicit.get("auth_type", "").lower() == "rackspace"  # its own default URL
    if "auth_url" not in explicit and not rackspace:
        if os.environ.get("OS_CLOUD") or os.environ.get("OS_AUTH_URL"):
            return _from_openstack_config(store, None, explicit)
        if os.environ.get("ST_AUTH"):
            env = {name: os.environ.get(var, "") for name, var in _ST_ENV.items()}
            explicit = {**{k: v for k, v in env.items() if v}, **explicit}
    return _from_settings(store, explicit)


def _from_settings(store: Any, s: Mapping[str, str]) -> SwiftAuth:
    auth_type = s.get("auth_type", "").strip().lower()
    if auth_type == "rackspace":
        user, key = s.get("user", ""), s.get("key", "")
        if not (user and key):
            raise Unauthenticated(
                "Rackspace Cloud Files needs a user name and an API key "
                "(c.SwiftStore.user and .key, or c.CloudFilesContentsManager.account_name "
                "and .account_key)"
            )
        return RackspaceAuth(
            user,
            key,
            store.region_name,
            auth_url=s.get("auth_url") or RACKSPACE_IDENTITY_URL,
            interface=store.interface,
            storage_url=store.storage_url,
            **_transport(store),
        )
    auth_url = s.get("auth_url", "")
    if not auth_url:
        raise Unauthenticated(
            "no Swift credentials: set c.SwiftStore.auth_url, .user and .key (or "
            "c.SwiftStore.cloud for a clouds.yaml entry), or the environment: OS_CLOUD, "
            "OS_AUTH_URL and the other OS_* variables, or ST_AUTH, ST_USER and ST_KEY"
        )
    version = _auth_version(auth_url, s)
    if version == "1.0" and auth_type in ("", "v1", "v1password"):
        if not (s.get("user") and s.get("key")):
            raise Unauthenticated(
                f"Swift v1.0 auth at {auth_url} needs a user and a key: set "
                "c.SwiftStore.user and .key (or ST_USER and ST_KEY)"
            )
        t = _transport(store)
        return V1Auth(
            auth_url,
            s["user"],
            s["key"],
            timeout=t["timeout"],
            insecure=store.insecure,
            cacert=store.cacert,
        )
    plugin_name = auth_type or _plugin_name(version, s)
    url = _versioned_url(auth_url, version)
    options = {_PLUGIN_OPTIONS[k]: v for k, v in s.items() if k in _PLUGIN_OPTIONS}
    options["auth_url"] = url
    if plugin_name.startswith("v2"):
        options.setdefault("tenant_name", options.pop("project_name", ""))
        options.setdefault("tenant_id", options.pop("project_id", ""))
    elif options.get("username") and not (
        options.get("user_domain_name") or options.get("user_domain_id")
    ):
        options["user_domain_id"] = DEFAULT_DOMAIN_ID
    if options.get("project_name") and not (
        options.get("project_domain_name") or options.get("project_domain_id")
    ):
        options["project_domain_id"] = DEFAULT_DOMAIN_ID
    plugin = _load_plugin(plugin_name, options, url)
    return KeystoneAuth(
        plugin,
        auth_url=url,
        who=_who(s),
        region_name=store.region_name,
        interface=store.interface,
        storage_url=store.storage_url,
        secrets=tuple(s.get(k, "") for k in SECRET_SETTINGS),
        **_transport(store),
    )


def _from_openstack_config(store: Any, cloud: str | None, s: Mapping[str, str]) -> SwiftAuth:
    """A cloud of clouds.yaml (or the OS_* variables), read by openstacksdk."""
    try:
        from openstack import exceptions as sdk_exceptions
        from openstack.config import OpenStackConfig
    except ImportError as exc:
        raise InvalidRequest(
            "reading clouds.yaml and OS_* variables needs openstacksdk: "
            f"pip install 'bookstore[swift]' ({exc})"
        ) from exc
    from keystoneauth1 import exceptions as ksa

    overrides: dict[str, Any] = {}
    auth = {_PLUGIN_OPTIONS[k]: v for k, v in s.items() if k in _PLUGIN_OPTIONS}
    if auth:
        overrides["auth"] = auth
    if s.get("auth_type"):
        overrides["auth_type"] = s["auth_type"]
    elif s.get("application_credential_id") or s.get("application_credential_secret"):
        overrides["auth_type"] = "v3applicationcredential"
    elif s.get("token"):
        overrides["auth_type"] = "v3token"
    if s.get("auth_version"):
        overrides["identity_api_version"] = s["auth_version"]
    # A configured region_name is applied below: openstacksdk accepts only the regions
    # the cloud itself names.
    if store.interface:
        overrides["interface"] = store.interface
    config = OpenStackConfig(app_name="bookstore")
    name = cloud or config.default_cloud or "envvars"
    source = (
        f"cloud {name!r} of {config.config_filename or 'clouds.yaml'}"
        if name != config.envvar_key
        else "the OS_* environment variables"
    )
    try:
        region = config.get_one(cloud=cloud, **overrides)
    except sdk_exceptions.ConfigException as exc:
        files = ", ".join(getattr(config, "_config_files", []))
        raise Unauthenticated(
            f"cannot use {source}: {exc} (clouds.yaml looked for in: {files})"
        ) from exc
    except ksa.MissingRequiredOptions as exc:
        missing = ", ".join(o.dest for o in exc.options)
        raise Unauthenticated(f"{source} lacks {missing}") from exc
    except ksa.ClientException as exc:  # e.g. an unknown auth_type
        raise InvalidRequest(f"cannot use {source}: {exc}") from exc
    cfg = region.config
    auth_cfg = cfg.get("auth") or {}
    auth_url = auth_cfg.get("auth_url", "")
    verify: bool | str = cfg.get("cacert") or bool(cfg.get("verify", True))
    if store.cacert or store.insecure:
        verify = store.cacert or not store.insecure
    cert = cfg.get("cert")
    if cert and cfg.get("key"):
        cert = (cert, cfg["key"])
    who = _who(
        {
            "user": auth_cfg.get("username", ""),
            "user_id": auth_cfg.get("user_id", ""),
            "application_credential_id": auth_cfg.get("application_credential_id", ""),
            "token": "t" if "token" in (cfg.get("auth_type") or "") else "",
        }
    )
    log.debug("Swift credentials from %s (%s, %s)", source, who, auth_url)
    return KeystoneAuth(
        region.get_auth(),
        auth_url=auth_url,
        who=who,
        region_name=store.region_name or region.region_name or "",
        interface=cfg.get("interface") or "public",
        storage_url=store.storage_url or cfg.get("object_store_endpoint_override") or "",
        verify=verify,
        cert=cert,
        timeout=store.timeout,
        secrets=tuple(str(auth_cfg.get(k) or "") for k in _CLOUD_SECRETS),
    )


def _auth_version(auth_url: str, s: Mapping[str, str]) -> str:
    """'1.0', '2.0', '3', or '' for a Keystone whose version is to be discovered."""
    given = s.get("auth_version", "").strip().lower().removeprefix("v")
    if given:
        for version, spellings in _VERSIONS.items():
            if given in spellings:
                return version
        raise InvalidRequest(
            f"SwiftStore.auth_version {s['auth_version']!r} is not one of '1.0', '2.0', '3'"
        )
    path = urlsplit(auth_url).path.rstrip("/")
    if path.endswith("/v3"):
        return "3"
    if path.endswith("/v2.0"):
        return "2.0"
    if path.endswith(("/v1.0", "/auth")) or "/auth/v1" in path:
        return "1.0"
    if s.get("auth_type") or any(s.get(k) for k in _KEYSTONE_ONLY):
        return ""
    return "1.0"


def _plugin_name(version: str, s: Mapping[str, str]) -> str:
    """The keystoneauth1 plugin for the credentials given ('' version: discovered)."""
    if s.get("application_credential_id") or s.get("application_credential_secret"):
        if version == "2.0":
            raise InvalidRequest("application credentials need Keystone v3, not v2.0")
        return "v3applicationcredential"
    kind = "token" if s.get("token") and not s.get("key") else "password"
    return {"3": f"v3{kind}", "2.0": f"v2{kind}"}.get(version, kind)


def _versioned_url(auth_url: str, version: str) -> str:
    url = auth_url.rstrip("/")
    suffix = {"3": "/v3", "2.0": "/v2.0"}.get(version)
    if suffix and not urlsplit(url).path.endswith(suffix):
        url += suffix
    return url


def _load_plugin(name: str, options: dict[str, str], url: str) -> BaseIdentityPlugin:
    from keystoneauth1 import exceptions as ksa
    from keystoneauth1 import loading

    try:
        loader = loading.get_plugin_loader(name)
    except ksa.NoMatchingPlugin:
        raise InvalidRequest(
            f"SwiftStore.auth_type {name!r} is not a keystoneauth1 plugin; use e.g. "
            "'v3password', 'v3applicationcredential', 'v3token', 'v2password' or 'rackspace'"
        ) from None
    known = {opt.dest for opt in loader.get_options()}
    try:
        return loader.load_from_options(**{k: v for k, v in options.items() if v and k in known})
    except ksa.MissingRequiredOptions as exc:
        missing = ", ".join(f"SwiftStore.{_setting_name(o.dest)}" for o in exc.options)
        raise Unauthenticated(f"Keystone auth ({name}) at {url} needs {missing}") from exc
    except ksa.ClientException as exc:
        raise InvalidRequest(f"cannot use Keystone auth ({name}) at {url}: {exc}") from exc


def _setting_name(option: str) -> str:
    names = {v: k for k, v in _PLUGIN_OPTIONS.items()}
    names.update(tenant_name="project_name", tenant_id="project_id")
    return names.get(option.replace("-", "_"), option)


def _who(s: Mapping[str, str]) -> str:
    """Whose credentials, for messages: a user, an application credential or a token."""
    if s.get("user"):
        return f"user {s['user']}"
    if s.get("user_id"):
        return f"user {s['user_id']}"
    if s.get("application_credential_id"):
        return f"application credential {s['application_credential_id']}"
    if s.get("token"):
        return "the configured token"
    return "user (none given)"


def _transport(store: Any) -> dict[str, Any]:
    verify: bool | str = store.cacert or not store.insecure
    return {"verify": verify, "timeout": store.timeout}
