"""Helpers of the CLI tests (a module of its own: ``conftest`` names collide across folders)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from bookstore.cli import main

BUNDLED = Path(__file__).resolve().parents[1] / "data" / "notebooks"


@dataclass
class Cli:
    env: dict[str, str]
    config_dir: Path

    def __call__(self, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Result:
        result = CliRunner().invoke(main, list(args), env={**self.env, **(env or {})})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == code, (
            f"bookstore {' '.join(args)} exited {result.exit_code}, not {code}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
        return result

    def json(self, *args: str, code: int = 0, env: dict[str, str] | None = None):
        return json.loads(self(*args, "--json", code=code, env=env).stdout)


def files_under(root: Path, keep: Callable[[Path], bool] = lambda p: True) -> dict[str, bytes]:
    """Every regular file under ``root`` by relative POSIX path (Bookstore's own files left out)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not any(part.startswith(".bookstore-") for part in p.relative_to(root).parts)
        and keep(p)
    }
