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
        #: Holds ``media-ca.pem``, the CA a client trusts for the sim's media host (``media_ca_file``).
        self.data_dir = data_dir
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
        """Client configuration that dials this simulator only, trusting its media host (app-state
        snapshots travel as media blobs)."""
        return {"data_dir": str(data_dir), "server_url": self["ws_url"],
                "server_root_key": self["root_public_key"], "media_ca_file": str(self.data_dir / "media-ca.pem")}

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

    def settled_connections(self) -> List[Dict[str, Any]]:
        """``GET /connections`` once closes in progress have been booked: the simulator drops a
        connection when it reads its close, a moment after the client's side has closed, and has
        no event for it, so this re-reads the list (under the deadline) until it is empty and
        answers what is left then."""
        pause = threading.Event()
        deadline = time.monotonic() + DEADLINE
        while True:
            status, connections = self.admin("GET", "/connections")
            assert status == 200, (status, connections)
            if not connections or time.monotonic() > deadline:
                return connections
            pause.wait(0.02)

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


# Messaging helpers -------------------------------------------------------------------------------

class EventFollower:
    """Follows one client's events and remembers every one it has seen, so waits for several
    things in any order never lose an event that another wait passed over."""

    def __init__(self, client: wause.Client) -> None:
        self.client = client
        self.seen: List[wause.Event] = []

    def wait(self, name: str, where: Any = lambda data: True) -> wause.Event:
        """The first event (seen before or arriving now) called ``name`` whose data satisfies
        ``where``. Blocks on the event stream; ``DEADLINE`` only against hangs."""
        for event in self.seen:
            if event["name"] == name and where(event["data"]):
                return event
        for event in self.client.events(timeout=DEADLINE):
            self.seen.append(event)
            if event["name"] == name and where(event["data"]):
                return event
        raise AssertionError(f"no {name} event within {DEADLINE} s; status: {self.client.status()}")

    def logged_in(self) -> wause.Event:
        return self.wait("account.connected", lambda data: data["phase"] == "login")

    def received(self, body: str) -> wause.Event:
        return self.wait("message.received", lambda data: data["message"]["body"] == body)

    def status(self, message_id: str, status: str) -> wause.Event:
        return self.wait("message.status", lambda data: data["message_id"] == message_id and data["status"] == status)


#: The three people of the messaging, agent-helper and delivery tests (the `accounts` fixture).
ADA, BOB, CAROL = "15550001111", "15550002222", "15550003333"


@pytest.fixture
def accounts(simulator: Simulator) -> Dict[str, Dict[str, Any]]:
    """Ada, Bob and Carol on the simulator (a test module may define its own)."""
    return {phone: simulator.create_account(phone, name)
            for phone, name in ((ADA, "Ada"), (BOB, "Bob"), (CAROL, "Carol"))}


@pytest.fixture
def ada(simulator: Simulator, tmp_path: Path, accounts: Dict[str, Any]) -> Iterator[wause.Client]:
    """A client for Ada's companion, not yet linked."""
    with wause.Client(simulator.client_config(tmp_path / "ada")) as client:
        yield client


def link_by_qr(client: wause.Client, simulator: Simulator, phone: str) -> EventFollower:
    """Links ``client`` to the sim account ``phone`` (the phone scans the QR) and waits until it
    is logged in; returns the follower of its events."""
    follower = EventFollower(client)
    started = client.start_auth()
    assert started["qr"], started
    status, answer = simulator.admin("POST", f"/accounts/{phone}/scan", {"qr": started["qr"]})
    assert status == 200, (status, answer)
    follower.logged_in()
    return follower


def link_by_code(client: wause.Client, simulator: Simulator, phone: str) -> EventFollower:
    """Links ``client`` to ``phone`` by pairing code (the phone enters it) and waits for login."""
    follower = EventFollower(client)
    code = client.pairing_code(phone)["code"]
    assert code, code
    status, answer = simulator.admin("POST", f"/accounts/{phone}/enter-code", {"code": code})
    assert status == 200, (status, answer)
    follower.logged_in()
    return follower


def inbox(simulator: Simulator, phone: str, after: int = 0) -> Dict[str, Any]:
    """What the virtual phone ``phone`` received: ``{messages, next_cursor}``."""
    status, body = simulator.admin("GET", f"/accounts/{phone}/inbox?after={after}")
    assert status == 200, (status, body)
    return body


def wait_in_inbox(simulator: Simulator, phone: str, message_id: str) -> Dict[str, Any]:
    """The inbox entry of ``message_id`` on the virtual phone. The sim has no event stream for its
    phones, so this re-reads the inbox (from the last cursor) until the entry is there."""
    cursor = 0
    pause = threading.Event()
    deadline = time.monotonic() + DEADLINE
    while True:
        page = inbox(simulator, phone, cursor)
        for entry in page["messages"]:
            if entry["id"] == message_id:
                return entry
        cursor = page["next_cursor"]
        if time.monotonic() > deadline:
            raise AssertionError(f"{message_id} not in {phone}'s inbox within {DEADLINE} s")
        pause.wait(0.02)
