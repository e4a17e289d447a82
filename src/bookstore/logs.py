"""Keep secrets out of Jupyter's DEBUG log.

traitlets logs ``Config changed: {...}`` with the whole configuration whenever
an application's config changes, so ``c.SwiftStore.key`` (or Jupyter's own
token) set in a config file would be printed by ``jupyter lab --debug``. A log
record factory, installed when Jupyter discovers the extension (before any
application is linked), masks the values of secret-looking settings.
"""

from __future__ import annotations

import logging
import re
from typing import Any

#: A setting is secret when its name ends with one of these (``key``, ``cookie_secret``,
#: ``hashed_password``, ``api_token``, ``application_credential_secret``, ...).
SECRET_WORDS = ("key", "password", "passwd", "token", "secret", "credential", "credentials")
_NAME = rf"""\w*(?:{"|".join(SECRET_WORDS)})"""
# 'key': 'v', b'v' (bytes), or DeferredConfigString('v') for a value given on the command
# line; a quote inside the value is backslash-escaped in the repr.
_SECRET_VALUE = re.compile(
    rf"""(['"]{_NAME}['"]\s*:\s*(?:DeferredConfigString\()?b?)(['"])(?:\\.|(?!\2).)*\2"""
)
# user:password@ in a URL (a storage_url or endpoint with credentials in it)
_URL_PASSWORD = re.compile(r"(://[^/\s:@'\"]+:)[^@\s'\"/]+@")


def redact(text: str) -> str:
    """``{'key': 'testing'}`` -> ``{'key': '***'}`` for every secret-looking name, and
    the password of a URL's ``user:password@``."""
    return _URL_PASSWORD.sub(r"\1***@", _SECRET_VALUE.sub(r"\1\2***\2", text))


def install_secret_redaction() -> None:
    """Mask secrets in traitlets' "Config changed" records, once per process."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "bookstore_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if isinstance(record.msg, str) and record.msg.startswith("Config changed"):
            record.msg, record.args = redact(record.getMessage()), ()
        return record

    factory.bookstore_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
