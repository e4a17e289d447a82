"""JupyterHub: one store per user, named from the user's name.

A store URL may hold ``{username}``; each single-user server fills it from
``$JUPYTERHUB_USER`` (which JupyterHub sets), so one config serves everyone::

    c.BookstoreContentsManager.store_url = "swift://notebooks-{username}"
    c.BookstoreContentsManager.store_url = "s3://notebooks/users/{username}"

The name is escaped so that it is safe as a Swift container, an S3 bucket or a
key prefix, and so that two users never get the same store: ASCII lower-case
letters and digits stay, every other byte of the UTF-8 name becomes ``-XX``
(hex), ``-`` included (so the mapping is one-to-one). ``Ann.Lee`` becomes
``-41nn-2e-4cee``. A name with ``/`` or ``..`` is refused outright.

Isolation comes from credentials, not from names: see the README, "JupyterHub".
"""

from __future__ import annotations

from collections.abc import Mapping

USER_ENV = "JUPYTERHUB_USER"
PLACEHOLDER = "{username}"
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


class UnsafeUsername(ValueError):
    """A JupyterHub username that cannot name a store."""


def escape_username(name: str) -> str:
    """``name`` as ``[a-z0-9-]+``, one-to-one; UnsafeUsername for ``/``, ``..`` or empty."""
    if not name or "/" in name or ".." in name or "\0" in name:
        raise UnsafeUsername(
            f"username {name!r} cannot name a store ('/', '..' and '' are refused)"
        )
    return "".join(
        ch if ch in _SAFE else "".join(f"-{b:02x}" for b in ch.encode("utf-8")) for ch in name
    )


def expand_store_url(url: str, env: Mapping[str, str]) -> str:
    """``url`` with ``{username}`` replaced by the escaped ``$JUPYTERHUB_USER``.

    A URL without the placeholder is returned unchanged; one with it and no
    ``JUPYTERHUB_USER`` is an error rather than a store shared by every user.
    """
    if PLACEHOLDER not in url:
        return url
    user = env.get(USER_ENV)
    if not user:
        raise UnsafeUsername(
            f"store URL {url!r} uses {PLACEHOLDER} but ${USER_ENV} is not set "
            "(is this server started by JupyterHub?)"
        )
    return url.replace(PLACEHOLDER, escape_username(user))
