"""Layout of a swift-aio data directory and the Swift config files written into it.

Nothing here imports Swift: the CLI must be able to explain that Swift is missing.
"""

from __future__ import annotations

import base64
import getpass
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEVICE = "d1"
# 2**8 partitions: plenty for one device, and the rings build in milliseconds.
PART_POWER = 8
SERVERS = ("account", "container", "object")

# tempauth users; the first is the one `env` and the fixture hand out.
ACCOUNT, USER, KEY = "test", "tester", "testing"
USERS = {
    "test:tester": ("testing", ".admin"),  # owner of AUTH_test
    "test:tester3": ("testing3", ""),  # same account, no rights without ACLs
    "test2:tester2": ("testing2", ".admin"),  # owner of another account
    "admin:admin": ("admin", ".admin .reseller_admin"),
}
REGION = "us-east-1"

PROXY_PIPELINE = (
    # s3api must come before tempauth; the cache is our in-process dict (see cache.py).
    "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl"
    " ratelimit s3api tempauth staticweb copy container-quotas account-quotas slo dlo"
    " versioned_writes symlink proxy-logging proxy-server"
)

# --- with Keystone (bookstore swift-aio start --keystone) ---------------------------------
# A second proxy app, validating Keystone tokens, on one socket per (region, interface):
# the catalog lists each as an object-store endpoint, so regions and interfaces differ
# by port while all of them share the same storage servers.
KEYSTONE_REGIONS = ("RegionOne", "RegionTwo")
KEYSTONE_INTERFACES = ("public", "internal")
KEYSTONE_LISTENERS = tuple(f"{r}/{i}" for r in KEYSTONE_REGIONS for i in KEYSTONE_INTERFACES)
KEYSTONE_PROXY = "proxy-keystone"
KEYSTONE_PROXY_PIPELINE = (
    "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl"
    " ratelimit authtoken keystoneauth staticweb copy container-quotas account-quotas slo dlo"
    " versioned_writes symlink proxy-logging proxy-server"
)
#: The user authtoken validates tokens as, in Keystone's "service" project.
SERVICE_USER, SERVICE_PROJECT = "swift", "service"
#: Roles that make a Keystone user the owner of their project's Swift account.
OPERATOR_ROLES = ("admin", "member", "swiftoperator")


@dataclass(frozen=True)
class KeystoneProxy:
    """What the Keystone-enabled proxy needs to know about Keystone."""

    auth_url: str  # e.g. http://127.0.0.1:5000/v3
    service_password: str


@dataclass(frozen=True)
class Layout:
    """Where everything lives inside a data directory."""

    root: Path

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def devices(self) -> Path:
        return self.root / "srv"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def settings_file(self) -> Path:
        return self.etc / "aio.json"

    @property
    def pid_file(self) -> Path:
        return self.run / "swift.pid"

    @property
    def state_file(self) -> Path:
        return self.run / "state.json"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "swift.log"

    def conf(self, server: str) -> Path:
        return self.etc / f"{server}-server.conf"

    def ring(self, server: str) -> Path:
        return self.etc / f"{server}.ring.gz"


def load_settings(layout: Layout) -> dict:
    """Secrets and the chosen port, created once per data directory and then kept.

    The hash prefix/suffix decide where objects live on disk, and the fernet key
    signs tokens, so they must survive restarts.
    """
    try:
        settings = json.loads(layout.settings_file.read_text())
    except FileNotFoundError:
        settings = {}
    changed = False
    for name in ("hash_path_prefix", "hash_path_suffix"):
        if name not in settings:
            settings[name] = secrets.token_hex(8)
            changed = True
    if "fernet_key" not in settings:
        settings["fernet_key"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        changed = True
    if changed:
        save_settings(layout, settings)
    return settings


def save_settings(layout: Layout, settings: dict) -> None:
    layout.etc.mkdir(parents=True, exist_ok=True)
    _write(layout.settings_file, json.dumps(settings, indent=2) + "\n", private=True)


def write_configs(layout: Layout, settings: dict, keystone: KeystoneProxy | None = None) -> None:
    """(Re)write every config file; rings are built by the server, which knows the ports.

    With ``keystone``, also the Keystone-enabled proxy's; without, it is removed, and
    the server starts the tempauth proxy only.
    """
    for path in (layout.etc, layout.devices / DEVICE, layout.run, layout.log_dir):
        path.mkdir(parents=True, exist_ok=True)
    (layout.root / "cache").mkdir(exist_ok=True)
    _write(layout.etc / "swift.conf", _swift_conf(settings), private=True)
    _write(layout.conf("proxy"), _proxy_conf(layout, settings), private=True)
    if keystone is None:
        layout.conf(KEYSTONE_PROXY).unlink(missing_ok=True)
    else:
        text = _proxy_conf(
            layout, settings, KEYSTONE_PROXY, KEYSTONE_PROXY_PIPELINE
        ) + _keystone_filters(keystone)
        _write(layout.conf(KEYSTONE_PROXY), text, private=True)
    for server in SERVERS:
        _write(layout.conf(server), _backend_conf(layout, server))


def _write(path: Path, text: str, *, private: bool = False) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    if private:
        tmp.chmod(0o600)
    os.replace(tmp, path)


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid without a passwd entry (containers)
        return str(os.getuid())


def _default_section(layout: Layout, log_name: str) -> str:
    # bind_* are informative only: server.py binds the sockets itself.
    # `user` is never used to drop privileges (we do not call run_wsgi), but
    # Swift's default "swift" user usually does not exist, so name ourselves.
    return f"""\
[DEFAULT]
bind_ip = {HOST}
workers = 0
user = {_current_user()}
swift_dir = {layout.etc}
devices = {layout.devices}
mount_check = false
recon_cache_path = {layout.root / "cache"}
log_name = {log_name}
log_level = INFO
eventlet_debug = false
"""


def _swift_conf(settings: dict) -> str:
    # Read from swift_dir via swift.common.utils.set_swift_dir() in server.py, so
    # /etc/swift/swift.conf is neither needed nor written.
    return f"""\
[swift-hash]
swift_hash_path_prefix = {settings["hash_path_prefix"]}
swift_hash_path_suffix = {settings["hash_path_suffix"]}

[storage-policy:0]
name = Policy-0
default = yes

[swift-constraints]
# Swift keeps object metadata in xattrs, and ext4 fits all of a file's xattrs
# in one 4 KiB block. With Swift's own entries and a long object name, more than
# ~3 KiB of user metadata fails as 507 (the client sees 503); 2 KiB (instead of
# 4 KiB) makes Swift answer a clear 400 "Metadata too large" first.
max_meta_overall_size = 2048
"""


def _proxy_conf(
    layout: Layout,
    settings: dict,
    log_name: str = "proxy-server",
    pipeline: str = PROXY_PIPELINE,
) -> str:
    users = "\n".join(
        f"user_{name.replace(':', '_')} = {key} {groups}".rstrip()
        for name, (key, groups) in USERS.items()
    )
    return (
        _default_section(layout, log_name)
        + f"""
[pipeline:main]
pipeline = {pipeline}

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
# One device only: with the default (60 s), a single 507 or timeout makes the
# proxy skip the only device for a minute and every request fails meanwhile.
error_suppression_interval = 0
error_suppression_limit = 1000000

[filter:cache]
paste.filter_factory = bookstore.devswift.cache:filter_factory

[filter:tempauth]
use = egg:swift#tempauth
{users}
# Fernet tokens: authentication works without memcached, and tokens survive a restart.
fernet_key_1 = {settings["fernet_key"]}
active_fernet_key_id = 1
token_life = 86400

[filter:s3api]
use = egg:swift#s3api
location = {REGION}
s3_acl = false
# No storage_domain: path-style requests only (http://127.0.0.1:PORT/bucket/key).

[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
allow_object_versioning = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:tempurl]
use = egg:swift#tempurl
# sha1 is deprecated (and logs a warning at every start).
allowed_digests = sha256 sha512

[filter:ratelimit]
use = egg:swift#ratelimit

[filter:staticweb]
use = egg:swift#staticweb

[filter:copy]
use = egg:swift#copy

[filter:container-quotas]
use = egg:swift#container_quotas

[filter:account-quotas]
use = egg:swift#account_quotas

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:symlink]
use = egg:swift#symlink
"""
    )


def _keystone_filters(keystone: KeystoneProxy) -> str:
    return f"""
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = {keystone.auth_url}
auth_url = {keystone.auth_url}
auth_type = password
username = {SERVICE_USER}
password = {keystone.service_password}
project_name = {SERVICE_PROJECT}
user_domain_id = default
project_domain_id = default
# The catalog's public identity endpoint (the default, internal, may be stale).
interface = public
# Let keystoneauth decide, so that tempurl and public containers work without a token.
delay_auth_decision = true
# Ask Keystone about every token: a revoked token fails at once (the tests revoke some).
# keystonemiddleware's own in-process cache honours -1 ("expired at once"); swift.cache
# (devswift/cache.py) would keep such entries forever, so it is not used here.
token_cache_time = -1
http_connect_timeout = 5
http_request_max_retries = 1

[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = {", ".join(OPERATOR_ROLES)}
reseller_admin_role = ResellerAdmin
"""


def _backend_conf(layout: Layout, server: str) -> str:
    return (
        _default_section(layout, f"{server}-server")
        + f"""
[pipeline:main]
pipeline = healthcheck {server}-server

[app:{server}-server]
use = egg:swift#{server}
# The proxy already logs every request.
log_requests = false

[filter:healthcheck]
use = egg:swift#healthcheck
"""
    )


def pid_exists(pid: int) -> bool:
    """Whether a process ``pid`` exists (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
