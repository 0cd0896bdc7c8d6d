"""What the end-to-end suites do again and again with a `wause-mcp` and a `wause-sim`: start an
engine pointed at the simulator, follow its event stream, call tools, link it by QR, wait for a
state, stop it cleanly. Shared by tests/sim and tests/mcp (which puts this folder on sys.path), so
that each test module holds only its tests.

Standard library only, except `scan_qr_png` (zxing-cpp and pillow, skipped where missing).
Nothing sleeps: every wait blocks on the event stream or polls a state under the deadline.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import pathlib
import socket
import sqlite3
import threading
import time

import pytest

from sim_process import DEADLINE
from wause_harness import LATEST, WauseServer

#: The phone of the account most linking tests create.
PHONE = "15551234567"


class EventReader:
    """The session's GET /mcp stream: `notifications/wause/event` messages, in order."""

    def __init__(self, stream):
        self.stream = stream
        self.seen: list[dict] = []

    def _next_sse(self, deadline: float) -> tuple[str | None, dict | None]:
        fields: dict[str, list[str]] = {}
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"no event before the deadline; seen: {[e['name'] for e in self.seen]}")
            try:
                line = self.stream.readline()
            except (socket.timeout, TimeoutError):
                raise AssertionError(f"the event stream stalled; seen: {[e['name'] for e in self.seen]}")
            if not line:
                raise AssertionError(f"the event stream ended; seen: {[e['name'] for e in self.seen]}")
            text = line.decode("utf-8").rstrip("\r\n")
            if text == "":
                if "data" in fields:
                    return (fields.get("id", [None])[-1], json.loads("\n".join(fields["data"])))
                fields = {}
                continue
            if text.startswith(":"):
                continue  # keep-alive comment
            name, _, value = text.partition(":")
            fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)

    def next(self, name: str | None = None, timeout: float = DEADLINE) -> dict:
        """The next event (named `name`, skipping others) as its params object."""
        deadline = time.monotonic() + timeout
        while True:
            sse_id, message = self._next_sse(deadline)
            assert message.get("jsonrpc") == "2.0" and "id" not in message, message
            assert message["method"] == "notifications/wause/event", message
            event = message["params"]
            assert set(event) == {"cursor", "name", "ts", "data"}, event
            assert sse_id == str(event["cursor"]), (sse_id, event)
            if self.seen:
                assert event["cursor"] > self.seen[-1]["cursor"], "cursors strictly increase"
            assert event["ts"].endswith("Z")
            dt.datetime.fromisoformat(event["ts"].replace("Z", "+00:00"))
            self.seen.append(event)
            if name is None or event["name"] == name:
                return event

    def names_since(self, index: int) -> list[str]:
        return [e["name"] for e in self.seen[index:]]


def call_tool(server: WauseServer, session: str, name: str, arguments: dict | None = None) -> dict:
    response = server.rpc(session, "tools/call", {"name": name, "arguments": arguments or {}})
    assert response.status == 200, response
    result = response.json()["result"]
    assert result.get("isError") is False, result
    structured = result["structuredContent"]
    assert json.loads(result["content"][0]["text"]) == structured
    return structured


def status(server: WauseServer, session: str) -> dict:
    return call_tool(server, session, "whatsapp_status")


def engine_keys(data_dir: str) -> dict[str, bytes]:
    """The engine's device keys, from its own store (read-only; the engine keeps running)."""
    db = sqlite3.connect(f"file:{data_dir}/wause.db?mode=ro", uri=True, timeout=DEADLINE)
    try:
        rows = db.execute("SELECT noise_public, identity_public, adv_secret FROM device").fetchall()
    finally:
        db.close()
    assert len(rows) == 1, rows
    noise, identity, adv = (bytes(value) for value in rows[0])
    assert len(noise) == len(identity) == len(adv) == 32
    return {"noise": noise, "identity": identity, "adv": adv}


def scan_qr_png(server: WauseServer) -> str:
    """GET /qr.png and decode it with zxing-cpp: what a phone camera would read."""
    zxingcpp = pytest.importorskip("zxingcpp")
    image_module = pytest.importorskip("PIL.Image")
    response = server.request("GET", "/qr.png")
    assert response.status == 200, response
    assert response.content_type == "image/png"
    # QR codes only: in a dense QR zxing can also "see" spurious EAN-13s in the module pattern.
    results = zxingcpp.read_barcodes(image_module.open(io.BytesIO(response.body)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(results) == 1, [(r.format, r.text) for r in results]
    return results[0].text


def poll(predicate, what: str, server: WauseServer, session: str):
    """Re-evaluates `predicate` until it is truthy (for a state with no event to block on); the
    deadline fails a hang, it is no timing assertion. Never sees auth_failure on the way."""
    seen: list[dict] = []

    def ready():
        value = predicate()
        if value:
            return value
        seen.append(status(server, session))
        assert seen[-1]["state"] != "auth_failure", seen[-1]
        return None

    return wait_until(ready, what, lambda: f" (last status {seen[-1] if seen else None})")


def stopped_cleanly(server: WauseServer) -> None:
    code = server.stop()
    assert code == 0, f"wause-mcp exit code {code}\n" + "".join(server.log_lines[-20:])


def open_events(server: WauseServer, session: str) -> EventReader:
    stream = server.open_stream(headers={"Accept": "text/event-stream", "Mcp-Session-Id": session,
                                         "MCP-Protocol-Version": LATEST})
    assert stream.status == 200
    assert (stream.header("Content-Type") or "").split(";")[0] == "text/event-stream"
    return EventReader(stream)


def start_engine(tmp_path_factory, sim, data_dir=None, extra=()) -> WauseServer:
    directory = data_dir or tmp_path_factory.mktemp("engine")
    return WauseServer(directory, ["--server-url", sim.ws_url, "--server-root-key", sim.root_public_key, *extra])


def start_media_engine(tmp_path_factory, sim, account: dict, extra=()) -> tuple[WauseServer, str, pathlib.Path]:
    """A wause-mcp serving toolsets core and media that trusts the sim's media host and may send
    files from a fresh folder, linked to `account` and ready: (server, session, that folder)."""
    outbox = tmp_path_factory.mktemp("outbox-media")
    server = start_engine(tmp_path_factory, sim, extra=["--toolsets", "core,media", "--media-ca-file", sim.media_ca_file,
                                                        "--media-dirs", str(outbox), *extra])
    session, events, _, _ = link_by_qr(sim, server, account)
    wait_ready(server, session, events)
    return server, session, outbox


def call_tool_error(server: WauseServer, session: str, name: str, arguments: dict) -> dict:
    response = server.rpc(session, "tools/call", {"name": name, "arguments": arguments})
    assert response.status == 200, response
    result = response.json()["result"]
    assert result["isError"] is True, result
    return json.loads(result["content"][0]["text"])


def create_account(sim, phone: str = PHONE, push_name: str = "Ada") -> dict:
    response = sim.admin("POST", "/accounts", {"phone": phone, "push_name": push_name})
    assert response.status == 201, response
    return response.json()


def wait_ready(server: WauseServer, session: str, events) -> dict:
    """Follows the events to `account.connected` (phase login) and returns the status then."""
    connected = events.next("account.connected")
    while connected["data"].get("phase") != "login":
        connected = events.next("account.connected")
    current = status(server, session)
    assert current["state"] == "ready", current
    return current


def link_by_qr(sim, server: WauseServer, account: dict):
    """start_auth → /qr.png (zxing) → scan; returns (session, events, paired event, scan answer)."""
    session, _ = server.initialize()
    events = open_events(server, session)
    started = call_tool(server, session, "whatsapp_start_auth")
    assert started["state"] == "qr", started
    assert started["qr"] and started["qr_png_base64"], started
    assert base64.b64decode(started["qr_png_base64"])[:8] == b"\x89PNG\r\n\x1a\n"
    qr = scan_qr_png(server)
    assert qr == started["qr"]
    answer = sim.admin("POST", f"/accounts/{account['phone']}/scan", {"qr": qr})
    assert answer.status == 200, answer
    paired = events.next("account.paired")
    return session, events, paired, answer.json()


def linked_engine(sim, tmp_path_factory, account: dict, data_dir=None, extra=()):
    """A wause-mcp linked to `account` by QR and logged in: (server, session, events). The QR
    text comes from the start_auth result (reading /qr.png is test_linking_flows_e2e.py's job).
    `extra`: more wause-mcp arguments (e.g. `--toolsets`)."""
    server = start_engine(tmp_path_factory, sim, data_dir=data_dir, extra=extra)
    session, _ = server.initialize()
    events = open_events(server, session)
    started = call_tool(server, session, "whatsapp_start_auth")
    assert started["state"] == "qr" and started["qr"], started
    answer = sim.admin("POST", f"/accounts/{account['phone']}/scan", {"qr": started["qr"]})
    assert answer.status == 200, answer
    events.next("account.paired")
    wait_ready(server, session, events)
    return server, session, events


def wait_until(predicate, what: str, last=lambda: ""):
    """Re-evaluates `predicate` until truthy (a state with no event); the deadline fails a hang,
    saying `what` and `last()`."""
    waiter = threading.Event()
    deadline = time.monotonic() + DEADLINE
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {DEADLINE}s{last()}")
        waiter.wait(0.02)


def inbox(sim, phone: str) -> dict:
    # `?after=N` is covered in Tests/WauseSimTests: the HTTP layer (WauseHTTP) passes only the
    # query arguments it lists to the routes, and `after`/`limit` are not among them yet.
    response = sim.admin("GET", f"/accounts/{phone}/inbox")
    assert response.status == 200, response
    return response.json()


def linked_by_qr(sim, tmp_path_factory, phone: str = PHONE, push_name: str = "Ada"):
    """A new account on the simulator and an engine linked to it by QR, logged in:
    (account, server, session, events)."""
    account = create_account(sim, phone, push_name)
    server = start_engine(tmp_path_factory, sim)
    session, events, _, _ = link_by_qr(sim, server, account)
    wait_ready(server, session, events)
    return account, server, session, events


def linked_store(sim, tmp_path_factory, phone: str = PHONE, push_name: str = "Ada"):
    """As `linked_by_qr`, then the engine is stopped cleanly: (account, its linked data dir)."""
    account, server, _, events = linked_by_qr(sim, tmp_path_factory, phone, push_name)
    events.stream.close()
    stopped_cleanly(server)
    return account, server.data_dir
