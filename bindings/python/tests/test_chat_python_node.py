"""A Python-binding client and a Node-binding client chat with each other through wause-sim
(issue 5).

The Python client links to account A by QR (the sim's phone scans it); a Node process
(bindings/node/test/chat_peer.js, on the Node binding) links to account B by pairing code (the
sim's phone enters it) and answers every message with ``"echo: <text>"``. Python sends → Node
receives the exact text from A → Node replies → Python receives the reply from B; both messages
reach ``delivered`` (``message.status`` events), the history (``read_messages``, ``list_chats``)
shows the conversation on both sides, and the message ids are the same on both sides.

Nothing sleeps: Python follows its client's events; the peer's events arrive as JSON lines on
its stdout, read by a thread into a queue. ``DEADLINE`` only guards against hangs.
"""

from __future__ import annotations

import json
import queue
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import wause

from conftest import BINDINGS_DIR, DEADLINE, REPO_ROOT, EventFollower, Simulator, link_by_qr

ADA, BOB = "15550001111", "15550002222"
NODE_DIR = REPO_ROOT / "bindings" / "node"
PEER = NODE_DIR / "test" / "chat_peer.js"
ADDON = NODE_DIR / "build" / "wause.node"

Line = Dict[str, Any]


class NodePeer:
    """The chat_peer.js process: its stdout lines (parsed) collected by a thread; :meth:`wait`
    blocks on that queue for a line matching a predicate."""

    def __init__(self, config: Dict[str, str], phone: str, stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "w")
        self.process = subprocess.Popen(
            ["node", str(PEER), json.dumps({"config": config, "phone": phone})], cwd=str(NODE_DIR),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        self.lines: List[Line] = []
        self._queue: "queue.Queue[Optional[Line]]" = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            self._queue.put(json.loads(text))
        self._queue.put(None)

    def wait(self, what: str, where: Callable[[Line], bool]) -> Line:
        """The first line (seen before or arriving now) that satisfies ``where``."""
        for line in self.lines:
            if where(line):
                return line
        while True:
            try:
                line = self._queue.get(timeout=DEADLINE)
            except queue.Empty:
                raise AssertionError(f"the Node peer sent no {what} within {DEADLINE} s{self._diagnostics()}") from None
            if line is None:
                raise AssertionError(f"the Node peer ended before {what}{self._diagnostics()}")
            self.lines.append(line)
            if line["type"] == "error":
                raise AssertionError(f"the Node peer failed: {line['message']}")
            if where(line):
                return line

    def event(self, name: str, where: Callable[[Dict[str, Any]], bool] = lambda data: True) -> wause.Event:
        line = self.wait(f"{name} event", lambda line: line["type"] == "event"
                         and line["event"]["name"] == name and where(line["event"]["data"]))
        return line["event"]

    def command(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def quit(self) -> int:
        if self.process.poll() is None:
            try:
                self.command(cmd="quit")
                self.process.stdin.close()  # type: ignore[union-attr]
            except BrokenPipeError:
                pass
        try:
            return self.process.wait(timeout=DEADLINE)
        finally:
            self._stderr.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._stderr.close()

    def _diagnostics(self) -> str:
        self._stderr.flush()
        return f"; exit {self.process.poll()}; stderr: {self.stderr_path.read_text()[-2000:]}"


@pytest.fixture
def node_peer_available() -> None:
    # `make test` builds the addon first and sets WAUSE_REQUIRE_NODE: there a missing peer fails.
    required = os.environ.get("WAUSE_REQUIRE_NODE") == "1"
    if shutil.which("node") is None:
        (pytest.fail if required else pytest.skip)("node is not installed")
    if not ADDON.exists():
        (pytest.fail if required else pytest.skip)(f"the Node addon is not built ({ADDON}); run: sh bindings/node/build.sh")


@pytest.fixture
def peer(simulator: Simulator, tmp_path: Path, node_peer_available: None) -> Iterator[NodePeer]:
    """The Node client, linked to BOB by pairing code and logged in."""
    simulator.create_account(BOB, "Bob")
    node = NodePeer(simulator.client_config(tmp_path / "node-client"), BOB, tmp_path / "peer.err")
    try:
        code = node.wait("pairing code", lambda line: line["type"] == "code")["code"]
        status, answer = simulator.admin("POST", f"/accounts/{BOB}/enter-code", {"code": code})
        assert status == 200, (status, answer)
        ready = node.wait("ready", lambda line: line["type"] == "ready")
        assert ready["status"]["state"] == "ready", ready
        yield node
        assert node.quit() == 0, node._diagnostics()
    finally:
        node.kill()


def test_a_python_client_and_a_node_client_chat_both_ways(
        simulator: Simulator, tmp_path: Path, peer: NodePeer) -> None:
    ada = simulator.create_account(ADA, "Ada")
    bob_jid = f"{BOB}@s.whatsapp.net"
    with wause.Client(simulator.client_config(tmp_path / "python-client")) as client:
        events: EventFollower = link_by_qr(client, simulator, ADA)

        # Python → Node: the exact text, from A, under the id Python got.
        text = "hello from Python — ünïcödé ✓ 🐍\nsecond line"
        sent = client.send_message("+1 555 000 2222", text)
        assert sent["ok"] is True and sent["to"] == BOB and sent["chat_id"] == bob_jid, sent
        assert sent["status"] in ("sent", "delivered", "read"), sent
        message_id = sent["message_id"]
        assert message_id, sent
        on_node = peer.event("message.received", lambda data: data["message"]["id"] == message_id)["data"]
        assert on_node["message"]["body"] == text, on_node
        assert on_node["message"]["from_me"] is False and on_node["message"]["type"] == "chat", on_node
        assert on_node["sender_phone"] == ADA, on_node
        assert on_node["sender_lid"] == ada["lid"].split("@")[0], on_node
        assert on_node["message"]["chat_id"] in (ada["jid"], ada["lid"]), on_node

        # Delivered on the Python side (a receipt from B's devices, forwarded by the server).
        events.wait("message.sent", lambda data: data.get("message_id") == message_id)
        delivered = events.status(message_id, "delivered")
        assert delivered["data"]["chat_id"] == bob_jid, delivered

        # Node → Python: the peer's reply, received from B under the id Node got.
        reply_text = f"echo: {text}"
        replied = peer.wait("reply", lambda line: line["type"] == "replied" and line["in_reply_to"] == message_id)
        assert replied["to"] == ADA and replied["result"]["ok"] is True, replied
        reply_id = replied["result"]["message_id"]
        assert reply_id and reply_id != message_id, replied
        back = events.wait("message.received", lambda data: data["message"]["id"] == reply_id)["data"]
        assert back["message"]["body"] == reply_text, back
        assert back["sender_phone"] == BOB and back["message"]["from_me"] is False, back
        assert back["message"]["chat_id"] == bob_jid, back
        # The reply reaches delivered on the Node side too.
        peer.event("message.status", lambda data: data["message_id"] == reply_id and data["status"] == "delivered")

        # Status as stored on the Python side: every step, in order, with a time.
        status = client.message_status(message_id)
        assert status["from_me"] is True and status["chat_id"] == bob_jid, status
        assert status["status"] in ("delivered", "read") and status["reason"] is None, status
        steps = [entry["status"] for entry in status["timeline"]]
        # One entry per step and, for receipts, per device. Not checked: their order — the engine
        # sorts by `at`, and `sent`/`delivered` carry the server's whole-second `t` while `queued`
        # has the local millisecond clock, so `queued` can come after them within one second.
        # Which device's receipt came first (B's phone or the Node client) is not fixed, and a
        # later device's receipt emits no event, so only the first is certain to be listed here.
        assert steps.count("queued") == 1 and steps.count("sent") == 1, status["timeline"]
        delivered_by = [entry["device"] for entry in status["timeline"] if entry["status"] == "delivered"]
        assert delivered_by and all(device.startswith(BOB) for device in delivered_by), status["timeline"]
        assert all(entry["at"].endswith("Z") for entry in status["timeline"]), status

        # Both sides' history shows the same two messages, with the same ids, in order.
        python_side = client.read_messages(BOB, limit=100)
        assert [(m["id"], m["body"], m["from_me"]) for m in python_side["messages"]] == [
            (message_id, text, True), (reply_id, reply_text, False)], python_side
        assert python_side["chat"]["id"] == bob_jid and python_side["count"] == 2, python_side
        chats = client.list_chats()
        assert [chat["id"] for chat in chats["chats"]] == [bob_jid], chats
        assert chats["chats"][0]["last_message"]["id"] == reply_id, chats
        assert chats["chats"][0]["unread_count"] == 1, chats

        peer.command(cmd="history", phone=ADA)
        node_side = peer.wait("history", lambda line: line["type"] == "history")
        assert [(m["id"], m["body"], m["from_me"]) for m in node_side["chat"]["messages"]] == [
            (message_id, text, False), (reply_id, reply_text, True)], node_side
        node_chat_ids = [chat["id"] for chat in node_side["chats"]["chats"]]
        assert node_chat_ids == [node_side["chat"]["chat"]["id"]], node_side
        assert node_side["chats"]["chats"][0]["last_message"]["id"] == reply_id, node_side

        # Python reads the reply: a read receipt goes to B, whose Node client sees its reply read.
        marked = client.mark_read(BOB)
        assert marked == {"ok": True, "chat_id": bob_jid, "count": 1, "message_ids": [reply_id]}, marked
        peer.event("message.status", lambda data: data["message_id"] == reply_id and data["status"] == "read")
        assert client.list_chats()["chats"][0]["unread_count"] == 0
