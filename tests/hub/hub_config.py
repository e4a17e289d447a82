"""jupyterhub_config.py for the Hub test: loaded by ``jupyterhub -f`` in its own process.

The same shape as the deployment in the README (JupyterHub): the Hub knows each
user's *own* store credentials; a ``pre_spawn_hook`` writes them, with the
user's store URL, into a private config file for that user's server, and
points the server at it with ``JUPYTER_CONFIG_DIR`` (a path, not a secret).
Test settings (ports, credentials) come as JSON in ``$BOOKSTORE_HUB_TEST``.
"""

# ruff: noqa: F821 (``c`` is provided by traitlets' config loader)

import json
import os
from secrets import compare_digest

from jupyterhub.auth import Authenticator
from traitlets import Dict

from bookstore.hub import expand_store_url

S = json.loads(os.environ["BOOKSTORE_HUB_TEST"])


class PasswordsAuthenticator(Authenticator):
    """One password per user (DummyAuthenticator's single shared password is deprecated)."""

    passwords = Dict(config=True)

    async def authenticate(self, handler, data):
        expected = self.passwords.get(data["username"])
        if expected and compare_digest(expected.encode(), data["password"].encode()):
            return data["username"]
        return None


def write_private_json(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)


def pre_spawn_hook(spawner):
    name = spawner.user.name
    config_dir = os.path.join(S["config_root"], name)
    os.makedirs(config_dir, mode=0o700, exist_ok=True)
    write_private_json(
        os.path.join(config_dir, "jupyter_server_config.json"),
        {
            "ServerApp": {
                "contents_manager_class": "bookstore.BookstoreContentsManager",
                # Only what the test uses (start-up time), and root in CI containers.
                "jpserver_extensions": {
                    "jupyterlab": False,
                    "jupyter_lsp": False,
                    "jupyter_server_terminals": False,
                    "notebook_shim": False,
                    "notebook": False,
                },
                "allow_root": True,
            },
            "BookstoreContentsManager": {
                "store_url": expand_store_url(S["store_url"], {"JUPYTERHUB_USER": name})
            },
            "SwiftStore": S["credentials"][name],  # this user's own account, nobody else's
            "MultiKernelManager": {
                "kernel_manager_class": "bookstore.kernels.BookstoreKernelManager"
            },
        },
    )
    spawner.environment["JUPYTER_CONFIG_DIR"] = config_dir


c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = S["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = S["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{S['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = S["proxy_command"]
c.ConfigurableHTTPProxy.auth_token = S["proxy_token"]
c.JupyterHub.db_url = f"sqlite:///{S['root']}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{S['root']}/jupyterhub_cookie_secret"
c.JupyterHub.cleanup_servers = True
# Answer POST /users/NAME/server at once; the test polls for readiness.
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}

c.JupyterHub.authenticator_class = PasswordsAuthenticator
c.PasswordsAuthenticator.passwords = S["passwords"]
c.Authenticator.allowed_users = set(S["passwords"])

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = S["root"] + "/home/{username}"
c.Spawner.cmd = [S["singleuser"]]
c.Spawner.pre_spawn_hook = pre_spawn_hook
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60

# The test drives the Hub through its REST API as a service.
c.JupyterHub.services = [{"name": "tests", "api_token": S["service_token"]}]
c.JupyterHub.load_roles = [
    {
        "name": "tests",
        "scopes": ["admin:users", "admin:servers", "admin:server_state", "tokens"],
        "services": ["tests"],
    }
]
