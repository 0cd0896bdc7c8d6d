"""Shared fixtures. The tests drive the real libwause (``$WAUSE_LIBRARY``) on real SQLite stores
in temporary directories; nothing is mocked."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

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


SIM = os.environ.get("WAUSE_SIM", str(REPO_ROOT / ".build" / "debug" / "wause-sim"))
#: Against hangs only, never a timing assertion.
DEADLINE = float(os.environ.get("WAUSE_TEST_DEADLINE", "60"))


class Simulator:
    """A running wause-sim (``$WAUSE_SIM``): the facts it printed (``sim["ws_url"]``,
    ``sim["root_public_key"]``, ``sim["admin_url"]``) and its admin API over real HTTP."""

    def __init__(self, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            [SIM, "--port", "0", "--admin-port", "0", "--data-dir", str(data_dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines: List[str] = []

        def read_facts() -> None:
            assert self.process.stdout is not None
            for _ in range(3):
                lines.append(self.process.stdout.readline())

        reader = threading.Thread(target=read_facts, daemon=True)
        reader.start()
        reader.join(timeout=DEADLINE)
        if len(lines) != 3 or not all(lines):
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"wause-sim did not print its three lines: {lines}")
        self.facts: Dict[str, str] = dict(line.strip().partition("=")[::2] for line in lines)

    def __getitem__(self, key: str) -> str:
        return self.facts[key]

    def client_config(self, data_dir: Path) -> Dict[str, str]:
        """Client configuration that dials this simulator only."""
        return {"data_dir": str(data_dir), "server_url": self["ws_url"],
                "server_root_key": self["root_public_key"]}

    def admin(self, method: str, path: str, body: Optional[Mapping[str, Any]] = None) -> Tuple[int, Any]:
        """One admin API request: ``(HTTP status, parsed JSON body or None)``; 4xx/5xx are returned,
        not raised."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self["admin_url"] + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=DEADLINE) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        return status, (json.loads(text) if text else None)

    def create_account(self, phone: str, push_name: str = "Ada") -> Dict[str, Any]:
        status, account = self.admin("POST", "/accounts", {"phone": phone, "push_name": push_name})
        assert status in (200, 201), (status, account)
        return account

    def devices(self, phone: str) -> List[Dict[str, Any]]:
        status, devices = self.admin("GET", f"/accounts/{phone}/devices")
        assert status == 200, (status, devices)
        return devices

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=DEADLINE)


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Simulator]:
    """A running wause-sim on 127.0.0.1 with free ports, stopped (and checked) after the test."""
    sim = Simulator(tmp_path / "sim")
    try:
        yield sim
    finally:
        assert sim.stop() == 0
