"""The package's public surface: what users put in their Jupyter config."""

import subprocess
import sys

import bookstore


def test_every_public_name_resolves():
    for name in bookstore.__all__:
        assert getattr(bookstore, name) is not None, name


def test_server_extension_is_declared_and_enabled_on_install():
    [point] = bookstore._jupyter_server_extension_points()
    assert point["module"] == "bookstore"
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    listing = out.stdout + out.stderr
    assert "bookstore" in listing and "enabled" in listing.split("bookstore", 1)[1][:80]


def test_importing_the_package_stays_light():
    """`bookstore swift-aio` and the Swift server must not pay for Jupyter imports."""
    code = "import sys, bookstore; print('nbformat' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
