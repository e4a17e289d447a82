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

SECRET_NAMES = (
    "key",
    "password",
    "token",
    "secret",
    "secret_access_key",
    "session_token",
    "application_credential_secret",
    "account_key",
    "api_key",
)
_NAMES = "|".join(SECRET_NAMES)
# 'key': 'v', or 'key': DeferredConfigString('v') for a value given on the command line
_SECRET_VALUE = re.compile(
    rf"""(['"](?:{_NAMES})['"]\s*:\s*(?:DeferredConfigString\()?)(['"])(?:(?!\2).)*\2"""
)


def redact(text: str) -> str:
    """``{'key': 'testing'}`` -> ``{'key': '***'}`` for every secret-looking name."""
    return _SECRET_VALUE.sub(r"\1\2***\2", text)


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
