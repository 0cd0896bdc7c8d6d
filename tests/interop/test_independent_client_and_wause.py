"""An independent WhatsApp client and a wause engine exchange end-to-end messages through wause-sim
(issue 5, "Verification").

Each side is linked to its own sim account:
  - the independent client is sim_client.py — `websockets`, dissononce (Noise), baileys-python's
    binary XML codec, python-axolotl 0.2.3 (Signal), `cryptography`, protobuf by hand: nothing
    the team wrote in Swift;
  - the engine is a real `wause-mcp` process (tests/mcp/wause_harness.py), linked by QR through the
    sim's phone and driven through its MCP tools and event stream.

What is checked (whatsmeow send.go, message.go, receipt.go, retry.go; go.mau.fi/libsignal protocol/):
  1. wause → independent: a `pkmsg` with `<device-identity>` (whose signatures verify against the
     pkmsg's identity key), decrypted by python-axolotl, WhatsApp padding (1–15 bytes of the count)
     and `Message.conversation` read here; our delivery receipt turns up in
     `whatsapp_message_status` as `delivered` by our device.
  2. independent → wause: usync and a prekey bundle from the sim, X3DH by python-axolotl, a padded
     `conversation` in `<participants><to><enc v=2 type=pkmsg>` with our device-identity; the server
     ack; `message.received` with the exact text and `sender_phone`; then a long ping-pong (alternating,
     and runs of 3 each way) across ratchet steps, every text exact and stored once.
  3. a `msg` with a broken MAC earns wause's retry receipt (count 1, its registration id, no keys);
     a proper resend of the same id decrypts and is filed once. Broken twice: count 2 with `<keys>`
     (type, identity, one-time key, signed key with a valid signature, device-identity); a new
     session from those keys (a `pkmsg`) decrypts. No `message.received` for a broken attempt.
  4. the same stanza bytes delivered twice (a `pkmsg`, and later a `msg`): filed once, and both copies
     answered with a delivery receipt, no retry receipt.
  5. the reverse fault: our retry receipts for wause's messages — without keys, wause encrypts again on
     its session (`<message to=OUR-DEVICE device_fanout=false t=original><enc count=1>`); with our
     `<keys>` (count 2), a new session from them, a pkmsg on the one-time prekey we sent.

Run (see the Makefile's test-interop):
    WAUSE_SIM=$PWD/.build/debug/wause-sim WAUSE_MCP=$PWD/.build/debug/wause-mcp \\
        .venv-interop/bin/python -m pytest -q tests/interop/test_independent_client_and_wause.py

Nothing sleeps: the independent client blocks on its socket, the engine side on its event stream;
the one state with no event (a receipt from a device other than the first to answer, in the
message's timeline) is polled under the deadline.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import sys
import threading
import time

import pytest

import sim_client as sc
from sim_client import DEADLINE, SIM_BINARY, SimProcess
from test_sim_independent_client import link_by_qr

_HERE = pathlib.Path(__file__).resolve().parent
for _directory in (_HERE.parent / "sim", _HERE.parent / "mcp"):  # stdlib-only helpers shared with tests/sim
    if str(_directory) not in sys.path:
        sys.path.insert(0, str(_directory))

from test_qr_linking_e2e import call_tool, open_events, stopped_cleanly  # noqa: E402
from wause_harness import BINARY as MCP_BINARY, WauseServer  # noqa: E402

WAUSE_PHONE = "15558100001"
_peer_phones = itertools.count(15558200001)
_ids = itertools.count(1)


def node(tag, attrs=None, content=None):
    return sc.wabinary().BinaryNode(tag=tag, attrs=attrs or {}, content=content)


def new_message_id() -> str:
    return "3EB0" + os.urandom(9).hex().upper()


def wait_until(predicate, what: str):
    """For a state with no event to block on; the deadline only fails a hang."""
    waiter = threading.Event()
    deadline = time.monotonic() + DEADLINE
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {DEADLINE}s")
        waiter.wait(0.02)
    return value


# --------------------------------------------------------------------------------------------
# The engine: a wause-mcp process linked to its own sim account


class Engine:
    def __init__(self, sim: SimProcess, data_dir, account: dict, extra: tuple[str, ...] = ()):
        self.account = account
        self.phone = account["phone"]
        self.jid = account["jid"]
        self.server = WauseServer(data_dir, ["--server-url", sim.ws_url, "--server-root-key", sim.root_public_key, *extra])
        self.session, _ = self.server.initialize()
        self.events = open_events(self.server, self.session)
        started = self.call("whatsapp_start_auth")
        assert started["state"] == "qr" and started["qr"], started
        answer = sim.admin("POST", f"/accounts/{self.phone}/scan", {"qr": started["qr"]})
        assert answer.status == 200, answer
        self.device_jid = answer.json()["jid"]  # PHONE:N@s.whatsapp.net
        # The same device by LID: the engine sends 1:1 LID-first (whatsmeow send.go SendMessage).
        self.lid_device_jid = account["lid"].split("@")[0] + ":" + self.device_jid.split(":")[1]
        self.lid_device_jid = self.lid_device_jid.replace("@s.whatsapp.net", "@lid")
        self.events.next("account.paired")
        while self.events.next("account.connected")["data"].get("phase") != "login":
            pass
        assert self.call("whatsapp_status")["state"] == "ready"

    def call(self, name: str, arguments: dict | None = None) -> dict:
        return call_tool(self.server, self.session, name, arguments)

    def send(self, phone: str, text: str) -> str:
        sent = self.call("whatsapp_send_message", {"phone_number": phone, "message": text})
        assert sent["ok"] is True and sent["status"] in ("sent", "delivered"), sent
        return sent["message_id"]

    def received(self, message_id: str) -> dict:
        """The `message.received` event of this id (events of other ids are skipped, and kept in
        `events.seen`)."""
        while True:
            event = self.events.next("message.received")
            if event["data"]["message"]["id"] == message_id:
                return event["data"]

    def received_count(self, message_id: str) -> int:
        return sum(1 for e in self.events.seen
                   if e["name"] == "message.received" and e["data"]["message"]["id"] == message_id)

    def history(self, phone: str) -> list[dict]:
        return self.call("whatsapp_read_messages", {"phone_number": phone, "limit": 100})["messages"]


# --------------------------------------------------------------------------------------------
# The independent client, logged in as a companion of its own sim account


class Peer:
    def __init__(self, sim: SimProcess, root: bytes, account: dict):
        self.account = account
        self.phone = account["phone"]
        self.jid = account["jid"]
        self.keys, _, self.pair = link_by_qr(sim, root, account)
        self.device_jid = self.pair.jid
        self.store = sc.axolotl_store(self.keys)
        self.device_identity = sc.signed_device_identity(self.pair, self.keys)
        self.backlog: list = []
        self.log: list = []
        device = int(self.device_jid.split(":")[1].split("@")[0])
        self.companion = sc.Companion(sim.ws_url, root, sc.login_payload(int(self.phone), device), keys=self.keys)
        assert self.next_stanza().tag == "success"
        self.expect(lambda s: s.tag == "ib", "<ib><offline/></ib> after login")
        uploaded = self.query("encrypt", "set", sc.axolotl_prekey_upload(self.store, self.keys, range(1, 31), node))
        assert uploaded.attrs.get("type") == "result", uploaded

    def close(self) -> None:
        self.companion.close()

    # -- stanzas -------------------------------------------------------------------------------

    def next_stanza(self):
        """The next stanza off the socket; receipts and notifications are acked as a client does (whatsmeow receipt.go sendAck)."""
        stanza, _ = self.companion.receive()
        self.log.append(stanza)
        if stanza.tag in ("receipt", "notification"):
            attrs = {"id": stanza.attrs["id"], "class": stanza.tag}
            if stanza.attrs.get("type"):
                attrs["type"] = stanza.attrs["type"]
            sender = stanza.attrs.get("from", "")
            if sender == "@s.whatsapp.net":
                self.companion.send(node("ack", {**attrs, "to": "s.whatsapp.net"}), server_jid_attributes=("to",))
            else:
                self.companion.send(node("ack", {**attrs, "to": sender}))
        return stanza

    def expect(self, predicate, what: str):
        """The first stanza (already read or still to come) that satisfies `predicate`."""
        for index, stanza in enumerate(self.backlog):
            if predicate(stanza):
                return self.backlog.pop(index)
        while True:
            try:
                stanza = self.next_stanza()
            except TimeoutError:
                raise AssertionError(f"{what}: nothing within {DEADLINE}s; unclaimed: {self.backlog}") from None
            if predicate(stanza):
                return stanza
            self.backlog.append(stanza)

    def query(self, xmlns: str, type_: str, children):
        iq_id = f"indep-{next(_ids)}"
        self.companion.send(node("iq", {"id": iq_id, "to": "s.whatsapp.net", "type": type_, "xmlns": xmlns}, children),
                            server_jid_attributes=("to",))
        return self.expect(lambda s: s.tag == "iq" and s.attrs.get("id") == iq_id, f"the answer to {xmlns} {type_}")

    def server_ack(self, message_id: str, chat: str):
        ack = self.expect(lambda s: s.tag == "ack" and s.attrs.get("class") == "message" and s.attrs.get("id") == message_id,
                          f"the server ack of {message_id}")
        assert ack.attrs.get("from") == chat and ack.attrs.get("t", "").isdigit() and "error" not in ack.attrs, ack.attrs
        return ack

    def receipt(self, message_id: str, sender: str, type_: str | None = None):
        return self.expect(lambda s: s.tag == "receipt" and s.attrs.get("id") == message_id and s.attrs.get("from") == sender
                           and s.attrs.get("type") == type_, f"a {type_ or 'delivery'} receipt for {message_id} from {sender}")

    # -- the engine's account ------------------------------------------------------------------

    def devices(self, user: str) -> list[str]:
        """usync (whatsmeow user.go GetUserDevices): the device ids of `user`."""
        answer = self.query("usync", "get", [node("usync", {"sid": f"u{next(_ids)}", "mode": "query", "last": "true",
                                                            "index": "0", "context": "message"}, [
            node("query", {}, [node("devices", {"version": "2"}), node("lid")]),
            node("list", {}, [node("user", {"jid": user})]),
        ])])
        assert answer.attrs.get("type") == "result", answer
        [listed] = answer.content[0].content[0].content
        assert listed.attrs["jid"] == user, listed
        devices = next(child for child in listed.content if child.tag == "devices")
        return [d.attrs["id"] for d in devices.content[0].content]

    def start_session(self, device_jid: str) -> dict:
        """whatsmeow prekeys.go fetchPreKeys: `<iq xmlns=encrypt type=get><key><user jid/></key>` → X3DH by python-axolotl.
        Returns the bundle's registration id and identity key."""
        answer = self.query("encrypt", "get", [node("key", {}, [node("user", {"jid": device_jid})])])
        assert answer.attrs.get("type") == "result", answer
        [user] = answer.content[0].content
        assert user.attrs["jid"] == device_jid, user.attrs
        parts = {child.tag: child.content for child in user.content}
        assert set(parts) >= {"registration", "type", "identity", "skey"}, parts
        assert parts["type"] == b"\x05" and len(parts["registration"]) == 4 and len(parts["identity"]) == 32, parts
        sc.process_bundle(self.store, user)
        return {"registration": int.from_bytes(parts["registration"], "big"), "identity": parts["identity"]}

    # -- messages ------------------------------------------------------------------------------

    def message_stanza(self, message_id: str, chat: str, device_jid: str, kind: str, ciphertext: bytes):
        """whatsmeow send.go sendDM: `<message id to type=text><participants><to jid><enc v=2 type/>…` (+ device-identity with a pkmsg)."""
        children = [node("participants", {}, [node("to", {"jid": device_jid}, [node("enc", {"v": "2", "type": kind}, ciphertext)])])]
        if kind == "pkmsg":
            children.append(node("device-identity", {}, self.device_identity))
        return node("message", {"id": message_id, "to": chat, "type": "text"}, children)

    def send_text(self, engine: Engine, text: str, message_id: str | None = None, broken: bool = False):
        """Encrypts and sends `text` to the engine's device; returns (id, kind, the stanza's bytes) once the server acked."""
        message_id = message_id or new_message_id()
        kind, ciphertext = sc.encrypt(self.store, engine.device_jid, sc.text_message(text))
        if broken:
            ciphertext = sc.break_mac(kind, ciphertext)
        frame = self.companion.send(self.message_stanza(message_id, engine.jid, engine.device_jid, kind, ciphertext))
        ack = self.server_ack(message_id, engine.jid)
        return message_id, kind, frame, ack

    def resend(self, engine: Engine, message_id: str, text: str, retry, broken: bool = False):
        """The resend of whatsmeow retry.go handleRetryReceipt: `<message to=DEVICE id type t device_fanout=false><enc v=2 type count/>`."""
        kind, ciphertext = sc.encrypt(self.store, engine.device_jid, sc.text_message(text))
        if broken:
            ciphertext = sc.break_mac(kind, ciphertext)
        children = [node("enc", {"v": "2", "type": kind, "count": retry.attrs["count"]}, ciphertext)]
        if kind == "pkmsg":
            children.append(node("device-identity", {}, self.device_identity))
        self.companion.send(node("message", {"id": message_id, "to": engine.device_jid, "type": "text",
                                             "device_fanout": "false", "t": retry.attrs["t"]}, children))
        self.server_ack(message_id, engine.device_jid)
        return kind

    def receive_text(self, engine: Engine, message_id: str):
        """The engine's message: decrypted by python-axolotl, padding and protobuf read here, then
        our delivery receipt (whatsmeow receipt.go sendMessageReceipt). Returns (stanza, enc type, text)."""
        message = self.expect(lambda s: s.tag == "message" and s.attrs.get("id") == message_id, f"message {message_id}")
        # LID-first: from the engine's LID device, its phone number beside it (message.go parseMessageSource sender_pn).
        assert message.attrs.get("from") == engine.lid_device_jid and message.attrs.get("sender_pn") == engine.jid, message.attrs
        assert message.attrs.get("type") == "text" and message.attrs.get("t", "").isdigit(), message.attrs
        encs = [child for child in message.content if child.tag == "enc"]
        assert len(encs) == 1 and encs[0].attrs.get("v") == "2", message
        kind = encs[0].attrs["type"]
        # One session per peer device whichever form it writes from (whatsmeow message.go decryptMessages keys it by
        # the LID; this client keys it by the engine's number, which sender_pn gives).
        padded = sc.decrypt_padded(self.store, engine.device_jid, kind, encs[0].content)
        count = padded[-1]
        # whatsmeow message.go padMessage, as the engine writes it: 1–15 bytes, each holding the count.
        assert 1 <= count <= 15 and padded[-count:] == bytes([count]) * count, padded[-16:].hex()
        fields = sc.pb_decode(padded[:-count])
        assert 1 in fields and len(fields[1]) == 1, fields  # Message.conversation
        assert set(fields) <= {1, 35}, fields  # conversation, messageContextInfo
        self.companion.send(node("receipt", {"id": message_id, "to": message.attrs["from"]}))
        return message, kind, fields[1][0].decode("utf-8")


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    for binary, variable in ((SIM_BINARY, "WAUSE_SIM"), (MCP_BINARY, "WAUSE_MCP")):
        if not os.access(binary, os.X_OK):
            pytest.fail(f"{binary} is missing: build it or set {variable}")
    process = SimProcess(tmp_path_factory.mktemp("sim"))
    yield process
    assert process.stop() == 0, "".join(process.log_lines[-20:])


@pytest.fixture(scope="module")
def root(sim) -> bytes:
    return bytes.fromhex(sim.root_public_key)


def create_account(sim, phone: str, push_name: str) -> dict:
    response = sim.admin("POST", "/accounts", {"phone": phone, "push_name": push_name})
    assert response.status == 201, response
    return response.json()


@pytest.fixture(scope="module")
def wause(sim, tmp_path_factory):
    engine = Engine(sim, tmp_path_factory.mktemp("engine"), create_account(sim, WAUSE_PHONE, "Wause"))
    yield engine
    stopped_cleanly(engine.server)


@pytest.fixture
def peer(sim, root, wause):
    """A fresh independent client on a fresh account for each test (so every test starts its own sessions)."""
    client = Peer(sim, root, create_account(sim, str(next(_peer_phones)), "Independent"))
    yield client
    client.close()


def delivered_by(engine: Engine, message_id: str, device: str) -> dict:
    """`whatsapp_message_status` once its timeline holds `device`'s delivery receipt (the
    recipient's phone may have answered first)."""
    def check():
        status = engine.call("whatsapp_message_status", {"message_id": message_id})
        return status if any(e["status"] == "delivered" and e["device"] == device for e in status["timeline"]) else None
    return wait_until(check, f"{device}'s delivery receipt in the timeline of {message_id}")


def assert_stored_once(engine: Engine, peer: Peer, expected: dict[str, tuple[str, bool]]) -> None:
    """Every id in the engine's chat with `peer` exactly once, with its text and side."""
    history = engine.history(peer.phone)
    ids = [m["id"] for m in history]
    assert len(ids) == len(set(ids)), ids
    stored = {m["id"]: (m["body"], m["from_me"]) for m in history}
    assert stored == expected, (stored, expected)


# --------------------------------------------------------------------------------------------
# 1. wause → independent


def test_wause_to_independent_client_decrypts_and_our_receipt_marks_it_delivered(wause, peer):
    text = "Hello from wause — ünïcødé ✓ and 🚀"
    message_id = wause.send(peer.phone, text)
    message, kind, got = peer.receive_text(wause, message_id)
    assert kind == "pkmsg" and got == text
    assert message.attrs.get("notify") == "Wause", message.attrs
    # The pkmsg names wause's identity key (go.mau.fi/libsignal protocol/); the device-identity that goes with a pkmsg
    # (whatsmeow send.go makeDeviceIdentityNode)
    # is wause's ADVSignedDeviceIdentity, signed by its account and by that identity key.
    [enc] = [c for c in message.content if c.tag == "enc"]
    prekey_message = sc.pb_decode(enc.content[1:])
    assert enc.content[0] == 0x33, enc.content[:1].hex()
    identity_key = sc.pb_one(prekey_message, 3)
    assert len(identity_key) == 33 and identity_key[0] == 0x05, identity_key.hex()
    [device_identity] = [c for c in message.content if c.tag == "device-identity"]
    identity = sc.parse_signed_device_identity(device_identity.content)
    sc.check_device_identity(identity, identity_key[1:])
    assert identity.key_index >= 1, identity

    status = delivered_by(wause, message_id, peer.device_jid)
    assert status["status"] in ("delivered", "read") and status["from_me"] is True, status
    assert status["chat_id"] == peer.jid, status
    assert_stored_once(wause, peer, {message_id: (text, True)})


# --------------------------------------------------------------------------------------------
# 2. independent → wause, then a long ping-pong


def test_independent_client_to_wause_and_a_long_ping_pong(wause, peer):
    assert peer.devices(wause.jid) == ["0", wause.device_jid.split(":")[1].split("@")[0]]
    peer.start_session(wause.device_jid)
    expected: dict[str, tuple[str, bool]] = {}
    kinds: list[tuple[str, str]] = []

    def independent_says(text: str) -> None:
        message_id, kind, _, _ = peer.send_text(wause, text)
        data = wause.received(message_id)
        assert data["message"]["body"] == text, data
        assert data["sender_phone"] == peer.phone and data["message"]["from_me"] is False, data
        peer.receipt(message_id, wause.device_jid)  # whatsmeow receipt.go sendMessageReceipt: wause answers with a delivery receipt
        expected[message_id] = (text, False)
        kinds.append(("in", kind))

    def wause_says(text: str) -> None:
        message_id = wause.send(peer.phone, text)
        _, kind, got = peer.receive_text(wause, message_id)
        assert got == text
        expected[message_id] = (text, True)
        kinds.append(("out", kind))

    independent_says("Hello wause, this is an independent client (python-axolotl)")
    for round_ in range(10):  # alternating: a DH ratchet step on every message
        (wause_says if round_ % 2 == 0 else independent_says)(f"ping-pong round {round_} 🏓")
    for i in range(3):  # runs in one direction: the same sending chain
        independent_says(f"independent run message {i}")
    for i in range(3):
        wause_says(f"wause run message {i}")
    independent_says("and after the runs, from the independent client")
    wause_says("and the last word, from wause")

    # The first goes out as a pkmsg; once wause answered, python-axolotl sends plain msgs, and
    # wause, whose session began with our pkmsg, never needs one.
    assert kinds[0] == ("in", "pkmsg"), kinds
    assert all(kind == "msg" for _, kind in kinds[1:]), kinds
    assert_stored_once(wause, peer, expected)
    assert all(wause.received_count(message_id) == 1 for message_id, (_, from_me) in expected.items() if not from_me)


# --------------------------------------------------------------------------------------------
# 3. broken MACs → retry receipts → resends


def check_retry_receipt(receipt, message_id: str, count: int, ack_t: str, registration: int) -> dict:
    """The shape of whatsmeow sendRetryReceipt: `<receipt type=retry id><retry count id t v=1/><registration>4 bytes</registration>[<keys>]`."""
    children = {child.tag: child for child in receipt.content}
    assert [child.tag for child in receipt.content][:2] == ["retry", "registration"], receipt
    retry = children["retry"]
    assert retry.attrs.get("count") == str(count) and retry.attrs.get("id") == message_id, retry.attrs
    assert retry.attrs.get("v") == "1" and retry.attrs.get("t") == ack_t, (retry.attrs, ack_t)  # the original stanza's t
    assert children["registration"].content == registration.to_bytes(4, "big"), children["registration"]
    return children


def test_broken_macs_earn_retry_receipts_and_the_resends_are_filed_once(wause, peer):
    bundle = peer.start_session(wause.device_jid)
    expected: dict[str, tuple[str, bool]] = {}
    setup_id, kind, _, _ = peer.send_text(wause, "setting up a session")
    assert kind == "pkmsg" and wause.received(setup_id)["message"]["body"] == "setting up a session"
    expected[setup_id] = ("setting up a session", False)
    reply_id = wause.send(peer.phone, "session acknowledged")
    assert peer.receive_text(wause, reply_id)[2] == "session acknowledged"
    expected[reply_id] = ("session acknowledged", True)

    # A: a msg with a broken MAC → retry receipt 1 (no keys) → re-encrypted properly, same id.
    text_a = "arrives on the second try"
    id_a, kind, _, ack = peer.send_text(wause, text_a, broken=True)
    assert kind == "msg"
    retry = peer.receipt(id_a, wause.device_jid, "retry")
    children = check_retry_receipt(retry, id_a, 1, ack.attrs["t"], bundle["registration"])
    assert set(children) == {"retry", "registration"}, children  # no keys on the first try
    assert peer.resend(wause, id_a, text_a, children["retry"]) == "msg"
    data = wause.received(id_a)
    assert data["message"]["body"] == text_a and data["sender_phone"] == peer.phone, data
    peer.receipt(id_a, wause.device_jid)
    expected[id_a] = (text_a, False)

    # B: broken twice → retry receipt 2 with <keys> → a new session from them (a pkmsg).
    text_b = "arrives on the third try, on a new session"
    id_b, _, _, ack = peer.send_text(wause, text_b, broken=True)
    first = peer.receipt(id_b, wause.device_jid, "retry")
    retry_1 = check_retry_receipt(first, id_b, 1, ack.attrs["t"], bundle["registration"])["retry"]
    assert peer.resend(wause, id_b, text_b, retry_1, broken=True) == "msg"
    second = peer.receipt(id_b, wause.device_jid, "retry")
    children = check_retry_receipt(second, id_b, 2, ack.attrs["t"], bundle["registration"])
    assert set(children) == {"retry", "registration", "keys"}, children
    keys = {child.tag: child for child in children["keys"].content}
    assert [child.tag for child in children["keys"].content] == ["type", "identity", "key", "skey", "device-identity"], keys
    assert keys["type"].content == b"\x05" and keys["identity"].content == bundle["identity"], keys
    one_time = {child.tag: child.content for child in keys["key"].content}
    assert len(one_time["id"]) == 3 and len(one_time["value"]) == 32, one_time
    signed = {child.tag: child.content for child in keys["skey"].content}
    assert len(signed["id"]) == 3 and len(signed["value"]) == 32 and len(signed["signature"]) == 64, signed
    assert sc.verify_signature(bundle["identity"], b"\x05" + signed["value"], signed["signature"])
    sc.check_device_identity(sc.parse_signed_device_identity(keys["device-identity"].content), bundle["identity"])
    sc.process_retry_keys(peer.store, wause.device_jid, second)
    assert peer.resend(wause, id_b, text_b, children["retry"]) == "pkmsg"
    data = wause.received(id_b)
    assert data["message"]["body"] == text_b and data["sender_phone"] == peer.phone, data
    peer.receipt(id_b, wause.device_jid)
    expected[id_b] = (text_b, False)

    # The new session carries on both ways.
    back_id = wause.send(peer.phone, "the new session works")
    assert peer.receive_text(wause, back_id)[2] == "the new session works"
    expected[back_id] = ("the new session works", True)
    last_id, kind, _, _ = peer.send_text(wause, "and so does ours")
    assert kind == "msg" and wause.received(last_id)["message"]["body"] == "and so does ours"
    peer.receipt(last_id, wause.device_jid)
    expected[last_id] = ("and so does ours", False)

    # Everything before `last_id` has been handled by now (wause answers in order, the sim forwards
    # in order): one message.received and one delivery receipt per id, none for a broken attempt.
    for message_id in (setup_id, id_a, id_b, last_id):
        assert wause.received_count(message_id) == 1, message_id
        assert sum(1 for s in peer.log if s.tag == "receipt" and s.attrs.get("id") == message_id
                   and s.attrs.get("type") is None) == 1, message_id
    assert [s.content[0].attrs["count"] for s in peer.log
            if s.tag == "receipt" and s.attrs.get("type") == "retry"] == ["1", "1", "2"]
    assert_stored_once(wause, peer, expected)


# --------------------------------------------------------------------------------------------
# 4. the same stanza twice


def test_the_same_stanza_delivered_twice_is_filed_once_and_receipted_twice(wause, peer):
    peer.start_session(wause.device_jid)
    expected: dict[str, tuple[str, bool]] = {}

    def twice(text: str, want_kind: str) -> str:
        message_id, kind, frame, _ = peer.send_text(wause, text)
        assert kind == want_kind
        peer.companion.send_plaintext(frame)  # the very same stanza bytes: same id, same ciphertext
        peer.server_ack(message_id, wause.jid)
        peer.receipt(message_id, wause.device_jid)
        peer.receipt(message_id, wause.device_jid)  # both copies answered (a duplicate still gets its receipt)
        assert wause.received(message_id)["message"]["body"] == text
        expected[message_id] = (text, False)
        return message_id

    first = twice("a pkmsg delivered twice", "pkmsg")
    reply = wause.send(peer.phone, "got it (once, I hope)")
    assert peer.receive_text(wause, reply)[2] == "got it (once, I hope)"
    expected[reply] = ("got it (once, I hope)", True)
    second = twice("a msg delivered twice", "msg")
    marker, _, _, _ = peer.send_text(wause, "the marker after the duplicates")
    wause.received(marker)
    peer.receipt(marker, wause.device_jid)
    expected[marker] = ("the marker after the duplicates", False)
    assert wause.received_count(first) == 1 and wause.received_count(second) == 1
    # A duplicate is not a decryption failure (whatsmeow message.go decryptMessages): no retry receipt for either copy.
    assert not [s for s in peer.log if s.tag == "receipt" and s.attrs.get("type") == "retry"], peer.log
    assert_stored_once(wause, peer, expected)


# --------------------------------------------------------------------------------------------
# 5. the other way round: the independent client's retry receipts, answered by wause


def retry_receipt(peer: Peer, message, count: int, with_keys: bool):
    """A retry receipt as whatsmeow retry.go sendRetryReceipt writes it, for a message of the engine we "could not decrypt"; from the
    second try on with our keys: a fresh one-time prekey (kept in python-axolotl's store), signed
    prekey 1, identity and device-identity."""
    children = [node("retry", {"count": str(count), "id": message.attrs["id"], "t": message.attrs["t"], "v": "1"}),
                node("registration", {}, peer.keys.registration_id.to_bytes(4, "big"))]
    if with_keys:
        prekey_id = 1000 + count
        private = sc.nw.clamp(os.urandom(32))
        public = sc.nw.public_key(private)
        peer.store.storePreKey(prekey_id, sc.PreKeyRecord(prekey_id, sc.ECKeyPair(sc.DjbECPublicKey(public), sc.DjbECPrivateKey(private))))
        signed = peer.store.loadSignedPreKey(1)
        children.append(node("keys", {}, [
            node("type", {}, b"\x05"),
            node("identity", {}, peer.keys.identity_public),
            node("key", {}, [node("id", {}, prekey_id.to_bytes(3, "big")), node("value", {}, public)]),
            node("skey", {}, [node("id", {}, (1).to_bytes(3, "big")),
                              node("value", {}, signed.getKeyPair().getPublicKey().getPublicKey()),
                              node("signature", {}, signed.getSignature())]),
            node("device-identity", {}, peer.device_identity),
        ]))
    return node("receipt", {"id": message.attrs["id"], "to": message.attrs["from"], "type": "retry"}, children)


def test_wause_answers_the_independent_clients_retry_receipts(wause, peer):
    # A: the first pkmsg "does not decrypt" here; a retry receipt without keys → wause encrypts
    # again on its (still unanswered) session: a pkmsg with count=1, to our device alone.
    text_a = "wause will have to say this twice"
    id_a = wause.send(peer.phone, text_a)
    original = peer.expect(lambda s: s.tag == "message" and s.attrs.get("id") == id_a, "the first copy")
    assert [c.attrs.get("type") for c in original.content if c.tag == "enc"] == ["pkmsg"], original
    peer.companion.send(retry_receipt(peer, original, 1, with_keys=False))
    resent = peer.expect(lambda s: s.tag == "message" and s.attrs.get("id") == id_a, "wause's resend")
    [enc] = [c for c in resent.content if c.tag == "enc"]
    assert enc.attrs.get("count") == "1" and enc.attrs.get("type") == "pkmsg", enc.attrs
    assert resent.attrs.get("t") == original.attrs["t"], (resent.attrs, original.attrs)  # the original t (handleRetryReceipt)
    assert any(c.tag == "device-identity" for c in resent.content), resent
    peer.backlog.insert(0, resent)
    assert peer.receive_text(wause, id_a)[2] == text_a
    delivered_by(wause, id_a, peer.device_jid)

    # B: count 2 with our keys → wause starts a new session from them: a pkmsg on our one-time prekey 1002.
    text_b = "and this one on a session from your retry keys"
    id_b = wause.send(peer.phone, text_b)
    original = peer.expect(lambda s: s.tag == "message" and s.attrs.get("id") == id_b, "the first copy of B")
    # Still a pkmsg: nothing from us has reached wause's session yet (libsignal's pending prekey).
    assert [c.attrs.get("type") for c in original.content if c.tag == "enc"] == ["pkmsg"], original
    peer.companion.send(retry_receipt(peer, original, 1, with_keys=False))
    again = peer.expect(lambda s: s.tag == "message" and s.attrs.get("id") == id_b, "wause's first resend of B")
    assert [c.attrs.get("count") for c in again.content if c.tag == "enc"] == ["1"], again
    peer.companion.send(retry_receipt(peer, again, 2, with_keys=True))
    resent = peer.expect(lambda s: s.tag == "message" and s.attrs.get("id") == id_b, "wause's second resend of B")
    [enc] = [c for c in resent.content if c.tag == "enc"]
    assert enc.attrs.get("count") == "2" and enc.attrs.get("type") == "pkmsg", enc.attrs
    assert sc.pb_one(sc.pb_decode(enc.content[1:]), 1) == 1002, "the pkmsg must use the one-time prekey of our <keys>"
    peer.backlog.insert(0, resent)
    assert peer.receive_text(wause, id_b)[2] == text_b
    delivered_by(wause, id_b, peer.device_jid)

    # The new session carries on both ways.
    reply_id, kind, _, _ = peer.send_text(wause, "the session from my keys works")
    assert kind == "msg" and wause.received(reply_id)["message"]["body"] == "the session from my keys works"
    assert_stored_once(wause, peer, {id_a: (text_a, True), id_b: (text_b, True), reply_id: ("the session from my keys works", False)})
