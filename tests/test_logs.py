"""Secrets in Jupyter's DEBUG log are masked."""

import logging

from bookstore.logs import install_secret_redaction, redact


def test_redact_masks_secret_looking_settings_only():
    text = (
        "{'SwiftStore': {'auth_url': 'http://x/auth/v1.0', 'user': 'test:tester', "
        "'key': 'testing'}, 'S3Store': {'secret_access_key': 's3cr3t'}, "
        "'IdentityProvider': {'token': 'abc123'}, 'KeystoneContentsManager': "
        "{'password': \"p'w\"}, 'X': {'token': DeferredConfigString('argv-tok')}}"
    )
    masked = redact(text)
    for secret in ("testing", "s3cr3t", "abc123", "p'w", "argv-tok"):
        assert secret not in masked
    assert "'user': 'test:tester'" in masked and "http://x/auth/v1.0" in masked


def test_config_changed_records_are_masked(caplog):
    install_secret_redaction()
    install_secret_redaction()  # idempotent
    log = logging.getLogger("ServerApp.test")
    with caplog.at_level(logging.DEBUG, logger="ServerApp.test"):
        log.debug("Config changed: %r", {"SwiftStore": {"key": "testing", "user": "u"}})
        log.debug("Saving %s", "key.ipynb")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "Config changed: {'SwiftStore': {'key': '***', 'user': 'u'}}",
        "Saving key.ipynb",
    ]


def test_every_secret_looking_setting_and_url_password_is_masked():
    config = {
        "ServerApp": {"cookie_secret": b"COOKIE-SECRET", "root_dir": "/srv"},
        "PasswordIdentityProvider": {"hashed_password": "argon2:HASH-SECRET"},
        "HubAuth": {"api_token": "HUB-SECRET"},
        "SwiftStore": {"key": "a'b\"QUOTED-SECRET", "storage_url": "https://u:URL-SECRET@h/v1"},
        "KeystoneAuth": {"application_credential_secret": "APP-SECRET", "keystone": "kept"},
    }
    masked = redact(repr(config))
    assert "SECRET" not in masked, masked
    assert "'root_dir': '/srv'" in masked and "'keystone': 'kept'" in masked
    assert "https://u:***@h/v1" in masked
