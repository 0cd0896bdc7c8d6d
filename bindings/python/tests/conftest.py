"""Shared fixtures. The tests drive the real libwause (``$WAUSE_LIBRARY``) on real SQLite stores
in temporary directories; nothing is mocked."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence, Tuple

import pytest

# Run from a checkout without installing: the package lives one directory up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import wause  # noqa: E402

BINDINGS_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = BINDINGS_DIR.parent.parent


@pytest.fixture(scope="session", autouse=True)
def loaded_library() -> str:
    """Loads libwause once. The library is rebuilt from time to time by other work, so a load
    that fails while the file is being replaced is retried for a little while."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return wause.library_path()
        except wause.LibraryNotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A store directory that does not exist yet (the engine creates it)."""
    return tmp_path / "store"


@pytest.fixture
def client(data_dir: Path) -> Iterator[wause.Client]:
    with wause.Client(data_dir=str(data_dir)) as opened:
        yield opened


EventRow = Tuple[str, int, Mapping[str, Any]]


def insert_events(data_dir: Path, rows: Sequence[EventRow]) -> None:
    """Appends rows to the store's event log as another process would: through SQLite itself."""
    with sqlite3.connect(str(data_dir / "wause.db"), timeout=10) as connection:
        connection.executemany(
            "INSERT INTO events (name, ts, data) VALUES (?, ?, ?)",
            [(name, ts, json.dumps(data)) for name, ts, data in rows])
    connection.close()


def library_env() -> dict:
    """The environment for a subprocess that must load the same library."""
    env = dict(os.environ)
    env["WAUSE_LIBRARY"] = wause.library_path()
    env["PYTHONPATH"] = str(BINDINGS_DIR) + os.pathsep + env.get("PYTHONPATH", "")
    return env
