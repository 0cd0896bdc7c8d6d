"""wause-sim as the independent clients see it: a companion built only from code nobody on this
team wrote (sim_client.py: `websockets`, dissononce with WhatsApp's quirk, python-axolotl-curve25519,
`cryptography`, baileys-python's binary XML codec, protobuf by hand) connects to a real
wause-sim process and checks what whatsmeow checks (DESIGN.md "The simulator"):

  - the certificate chain of whatsmeow handshake.go verifyServerCert leads to the root key the simulator printed;
  - a registration ClientPayload gets `<iq from=s.whatsapp.net type=set id=…><pair-device>` with
    exactly 6 refs, `from` written as the JID pair FA 00 03, not the bare token;
  - the ack and a keepalive ping (whatsmeow keepalive.go) are answered with the same id, counters in step (socket/noisesocket.go);
  - a login of a device the server does not know gets `<failure reason="401"/>`;
  - a broken handshake is disconnected and the simulator goes on serving others;
  - linking to the simulator's phone: by QR through `POST /accounts/{phone}/scan` and by
    pairing code through `enter-code` (whatsmeow pair.go handlePair; pair-code.go), with the client's own HMAC, account-signature
    and device-signature checks and its own PBKDF2/AES-CTR/HKDF/AES-GCM from `cryptography`;
    then `stream:error 515`, the login payload and `<success lid>`, the prekey count and upload
    (whatsmeow prekeys.go), passive/active and self-unlink (whatsmeow client.go Logout); a corrupted pair-success (the sim's `corrupt`
    knob) rejected by the client with whatsmeow's error iq leaves nothing registered; wrong codes
    (one the phone cannot open, one that fails at the key bundle) chosen with the client's own
    prime-order check;
  - messaging with the sim's virtual phone, Signal by python-axolotl 0.2.3 and waE2E.Message by
    hand: the phone's pkmsg (from a bundle of our uploaded prekeys) decrypts here; usync lists
    devices and LIDs; our reply (a msg) and our own phone's deviceSentMessage copy (a pkmsg from
    its bundle) are acked after queueing and filed by the phones, with receipts forwarded; a
    message with a broken MAC earns the phone's retry receipt and our resend to that one device
    (`device_fanout="false"`) is read.

    python3 -m venv .venv-interop
    .venv-interop/bin/pip install -r tests/requirements-interop.txt
    .venv-interop/bin/pip install --no-deps --ignore-requires-python baileys-python==0.1.0a1
    .venv-interop/bin/python -m pytest tests/interop/test_sim_independent_client.py

WAUSE_SIM names the binary (default: .build/debug/wause-sim of this checkout).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed

import sim_client as sc
from sim_client import DEADLINE, SIM_BINARY, SimProcess


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    if not os.access(SIM_BINARY, os.X_OK):
        pytest.fail(f"{SIM_BINARY} is missing: build wause-sim or set WAUSE_SIM")
    process = SimProcess(tmp_path_factory.mktemp("sim"))
    yield process
    assert process.stop() == 0, "".join(process.log_lines[-20:])


@pytest.fixture(scope="module")
def root(sim) -> bytes:
    return bytes.fromhex(sim.root_public_key)


def node(tag, attrs=None, content=None):
    return sc.wabinary().BinaryNode(tag=tag, attrs=attrs or {}, content=content)


def register(sim, root) -> sc.Companion:
    return sc.Companion(sim.ws_url, root, sc.registration_payload(sc.CompanionKeys.generate()))


def expect_pair_device(companion):
    """The first stanza after a registration handshake; returns (node, plaintext, refs)."""
    stanza, plaintext = companion.receive()
    assert stanza.tag == "iq", stanza
    assert stanza.attrs.get("type") == "set", stanza
    assert stanza.attrs.get("id"), stanza
    # baileys-python reads a JID pair with an empty user as "@s.whatsapp.net", the bare token as
    # "s.whatsapp.net": only the first is a jid-typed `from` that whatsmeow dispatches on.
    assert stanza.attrs.get("from") == "@s.whatsapp.net", stanza.attrs
    assert sc.attribute_value_bytes(plaintext, "from", sc.SERVER_JID_PAIR), plaintext.hex()
    assert not sc.attribute_value_bytes(plaintext, "from", b"\x03"), plaintext.hex()
    assert isinstance(stanza.content, list) and [c.tag for c in stanza.content] == ["pair-device"], stanza
    refs = stanza.content[0].content
    assert isinstance(refs, list) and len(refs) == 6, refs
    assert all(ref.tag == "ref" and not ref.attrs for ref in refs), refs
    texts = []
    for ref in refs:
        assert isinstance(ref.content, bytes) and ref.content, ref
        texts.append(ref.content.decode("ascii"))  # used verbatim as a string in the QR (whatsmeow pair.go handlePairDevice)
        assert "," not in texts[-1], "a ref must not contain the QR field separator"
    assert len(set(texts)) == 6, texts
    return stanza, plaintext, texts


def assert_closed_by_server(socket: sc.FrameSocket) -> None:
    """The server ends the connection: nothing but the close arrives before the deadline."""
    with pytest.raises(ConnectionClosed):
        while True:
            socket.ws.recv(timeout=DEADLINE)


def poll(predicate, what: str):
    waiter = threading.Event()
    deadline = time.monotonic() + DEADLINE
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {DEADLINE}s")
        waiter.wait(0.02)
    return value


# --------------------------------------------------------------------------------------------


def test_our_hand_encoded_first_message_has_the_documented_layout():
    """Guards the client itself: the first WebSocket message (whatsmeow socket/constants.go WAConnHeader), `57 41 06 03 | 00 00 24 | 12 22
    0a 20 <32-byte ephemeral>`, 43 bytes."""
    ephemeral = os.urandom(32)
    hello = sc.client_hello(ephemeral)
    message = sc.HEADER + len(hello).to_bytes(3, "big") + hello
    assert message == bytes.fromhex("5741060300002412220a20") + ephemeral
    assert sc.pb_decode(sc.pb_one(sc.pb_decode(hello), 2)) == {1: [ephemeral]}


def test_certificate_chain_leads_to_the_printed_root(sim, root):
    with register(sim, root) as companion:  # Companion ran verify_cert_chain (whatsmeow's 8 steps)
        assert companion.intermediate.issuer_serial == 0
        assert companion.leaf.issuer_serial == companion.intermediate.serial
        assert companion.leaf.key == companion.server_static
        now = int(time.time())
        assert companion.leaf.not_before <= now <= companion.leaf.not_after
        # The check is not vacuous: another root does not verify the same chain.
        other_root = sc.nw.public_key(os.urandom(32))
        with pytest.raises(AssertionError, match="^2: "):
            sc.verify_cert_chain(companion.cert_chain, other_root, companion.server_static, now)
        with pytest.raises(AssertionError, match="^7: "):
            sc.verify_cert_chain(companion.cert_chain, root, os.urandom(32), now)


def test_registration_gets_pair_device_with_six_refs(sim, root):
    with register(sim, root) as companion:
        expect_pair_device(companion)
        connections = sim.admin("GET", "/connections").json()
        assert [c["state"] for c in connections] == ["pairing"], connections
        assert connections[0]["device"] is None


def test_each_connection_gets_new_refs(sim, root):
    with register(sim, root) as first, register(sim, root) as second:
        _, _, refs_a = expect_pair_device(first)
        _, _, refs_b = expect_pair_device(second)
        assert not set(refs_a) & set(refs_b)
        assert first.server_static == second.server_static  # one server key per simulator run


def test_ack_and_keepalive_ping_are_answered(sim, root):
    with register(sim, root) as companion:
        pair_device, _, _ = expect_pair_device(companion)
        ack = companion.send(node("iq", {"to": "s.whatsapp.net", "type": "result", "id": pair_device.attrs["id"]}),
                             server_jid_attributes=("to",))
        assert sc.attribute_value_bytes(ack, "to", sc.SERVER_JID_PAIR)
        ping_id = "interop-ping-1"
        companion.send(node("iq", {"id": ping_id, "to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"},
                            [node("ping")]), server_jid_attributes=("to",))
        # The ack gets no answer, so the next stanza (read counter 1) is the ping's result.
        reply, plaintext = companion.receive()
        assert reply.tag == "iq", reply
        assert reply.attrs.get("type") == "result", reply
        assert reply.attrs.get("id") == ping_id, reply
        assert reply.attrs.get("from") == "@s.whatsapp.net", reply
        assert sc.attribute_value_bytes(plaintext, "from", sc.SERVER_JID_PAIR)
        # And again, to see both counters keep stepping.
        companion.send(node("iq", {"id": "interop-ping-2", "to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"},
                            [node("ping")]), server_jid_attributes=("to",))
        again, _ = companion.receive()
        assert (again.attrs.get("type"), again.attrs.get("id")) == ("result", "interop-ping-2")


def test_an_unknown_request_gets_an_error_with_the_same_id(sim, root):
    with register(sim, root) as companion:
        expect_pair_device(companion)
        companion.send(node("iq", {"id": "interop-q", "to": "s.whatsapp.net", "type": "get", "xmlns": "interop:none"},
                            [node("query")]), server_jid_attributes=("to",))
        reply, _ = companion.receive()
        assert reply.tag == "iq" and reply.attrs.get("id") == "interop-q", reply
        assert reply.attrs.get("type") == "error", reply


def test_several_frames_in_one_websocket_message_and_a_frame_split_across_messages(sim, root):
    """whatsmeow socket/framesocket.go SendFrame, processData: a WebSocket message may carry several frames and a frame may span messages."""
    with register(sim, root) as companion:
        pair_device, _, _ = expect_pair_device(companion)
        frames = b""
        for plaintext in (
            sc.encode_node(node("iq", {"to": "s.whatsapp.net", "type": "result", "id": pair_device.attrs["id"]}), ("to",)),
            sc.encode_node(node("iq", {"id": "p1", "to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"}, [node("ping")]),
                           ("to",)),
            sc.encode_node(node("iq", {"id": "p2", "to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"}, [node("ping")]),
                           ("to",)),
        ):
            ciphertext = companion.writer.encrypt(plaintext)
            frames += len(ciphertext).to_bytes(3, "big") + ciphertext
        cut = len(frames) - 20  # the last frame, length prefix and all, spans two messages
        companion.socket.send_raw(frames[:cut])
        companion.socket.send_raw(frames[cut:])
        ids = [companion.receive()[0].attrs.get("id") for _ in range(2)]
        assert ids == ["p1", "p2"]


def test_login_of_an_unknown_device_is_refused_with_failure_401(sim, root):
    with sc.Companion(sim.ws_url, root, sc.login_payload(15550001111, 3)) as companion:
        failure, _ = companion.receive()
        assert failure.tag == "failure", failure
        assert failure.attrs.get("reason") == "401", failure
        assert_closed_by_server(companion.socket)


def _garbage_after_header(socket: sc.FrameSocket) -> None:
    socket.send_frame(b"\xff" * 40)  # not a HandshakeMessage


def _wrong_header(socket: sc.FrameSocket) -> None:
    hello = sc.client_hello(os.urandom(32))
    socket.send_raw(b"GET /" + len(hello).to_bytes(3, "big") + hello)


def _short_ephemeral(socket: sc.FrameSocket) -> None:
    socket.send_frame(sc.client_hello(os.urandom(31)))


def _bad_client_finish(socket: sc.FrameSocket) -> None:
    noise = sc.nw.DissononceParty(True, sc.nw.clamp(os.urandom(32)), sc.nw.clamp(os.urandom(32)))
    socket.send_frame(sc.client_hello(noise.write()))
    sc.parse_server_hello(socket.recv_frame())
    socket.send_frame(sc.client_finish(os.urandom(48), os.urandom(80)))  # does not decrypt


GARBAGE = {
    "garbage frame": _garbage_after_header,
    "wrong header": _wrong_header,
    "31-byte ephemeral": _short_ephemeral,
    "undecryptable ClientFinish": _bad_client_finish,
}


@pytest.mark.parametrize("misbehave", GARBAGE.values(), ids=GARBAGE.keys())
def test_a_broken_handshake_is_disconnected_and_others_are_still_served(sim, root, misbehave):
    with register(sim, root) as bystander:  # already connected before the bad client arrives
        expect_pair_device(bystander)
        with sc.FrameSocket(sim.ws_url) as bad:
            misbehave(bad)
            assert_closed_by_server(bad)
        assert sim.alive()
        # The connection that was already there still works …
        bystander.send(node("iq", {"id": "still-there", "to": "s.whatsapp.net", "type": "get", "xmlns": "w:p"},
                               [node("ping")]), server_jid_attributes=("to",))
        assert bystander.receive()[0].attrs.get("id") == "still-there"
        # … a new one is served as usual …
        with register(sim, root) as newcomer:
            expect_pair_device(newcomer)
            # … and the broken one is gone from the admin view.
            poll(lambda: len(sim.admin("GET", "/connections").json()) == 2, "only the two good connections listed")
    poll(lambda: sim.admin("GET", "/connections").json() == [], "closed connections leave /connections")


def test_many_companions_are_served_at_once(sim, root):
    companions = [register(sim, root) for _ in range(8)]
    try:
        for companion in companions:
            expect_pair_device(companion)
        states = [c["state"] for c in sim.admin("GET", "/connections").json()]
        assert states == ["pairing"] * 8, states
    finally:
        for companion in companions:
            companion.close()
    poll(lambda: sim.admin("GET", "/connections").json() == [], "closed connections leave /connections")


@pytest.mark.skipif(not os.environ.get("WAUSE_SLOW_TESTS"),
                    reason="waits for all 6 refs to expire (60 s + 5 × 20 s); set WAUSE_SLOW_TESTS=1")
def test_server_closes_the_pairing_connection_once_all_refs_expired(sim, root):
    """whatsmeow qrchan.go emitQRs and DESIGN.md "Connection states": the refs last 60 s + 5 × 20 s =
    160 s, and "the server also closes the socket itself once the refs expire". Opt-in because it
    waits out the real window (Tests/WauseSimTests checks the same in virtual time). The
    deadline is 160 s plus 40 s of slack; the test blocks on the close, it never sleeps."""
    with register(sim, root) as companion:
        pair_device, _, _ = expect_pair_device(companion)
        companion.send(node("iq", {"to": "s.whatsapp.net", "type": "result", "id": pair_device.attrs["id"]}),
                       server_jid_attributes=("to",))
        deadline = time.monotonic() + 200
        try:
            while True:
                companion.socket.ws.recv(timeout=max(0.0, deadline - time.monotonic()))
        except ConnectionClosed:
            pass
        except TimeoutError:
            pytest.fail("the simulator kept the unscanned pairing connection open 200 s after pair-device")


# --------------------------------------------------------------------------------------------
# Linking to the simulator's phone (whatsmeow pair.go, pair-code.go) and what follows (store/clientpayload.go
# getLoginPayload, prekeys.go), with the client's own
# checks: HMAC, account signature, device signature, pairing-code crypto from `cryptography`.

import concurrent.futures
import itertools

_phones = itertools.count(15557000001)


def new_account(sim) -> dict:
    response = sim.admin("POST", "/accounts", {"phone": str(next(_phones)), "push_name": "Interop"})
    assert response.status == 201, response
    return response.json()


def in_background(call, *args, **kwargs) -> concurrent.futures.Future:
    """An admin call that blocks until the companion has answered the phone."""
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = executor.submit(call, *args, **kwargs)
    executor.shutdown(wait=False)
    return future


def send_iq(companion, xmlns: str, type_: str, children, iq_id: str):
    return companion.send(node("iq", {"id": iq_id, "to": "s.whatsapp.net", "type": type_, "xmlns": xmlns}, children),
                          server_jid_attributes=("to",))


def query(companion, xmlns: str, type_: str, children, iq_id: str):
    send_iq(companion, xmlns, type_, children, iq_id)
    reply, _ = companion.receive()
    assert reply.tag == "iq" and reply.attrs.get("id") == iq_id, reply
    return reply


def expect_nothing_pending(companion) -> None:
    """A ping answered next proves nothing else was sent before it."""
    reply = query(companion, "w:p", "get", [node("ping")], "nothing-pending")
    assert reply.attrs.get("type") == "result", reply


def expect_offline_done(companion, count: int) -> None:
    """After `<success>` the server sends what was queued, then `<ib><offline count=N/></ib>`."""
    ib, _ = companion.receive()
    assert ib.tag == "ib" and ib.content[0].tag == "offline" and ib.content[0].attrs.get("count") == str(count), ib


def expect_restart_then_close(companion) -> None:
    """After pair-success (whatsmeow pair.go handlePair): `<stream:error code=515/>`; the server leaves the close to the client, which
    closes as whatsmeow does on 515 (connectionevents.go `handleStreamError`)."""
    error, _ = companion.receive()
    assert error.tag == "stream:error" and error.attrs.get("code") == "515", error
    companion.socket.close()


def receive_pair_success(companion, account: dict, adv_secret: bytes) -> sc.PairSuccess:
    stanza, plaintext = companion.receive()
    assert sc.attribute_value_bytes(plaintext, "from", sc.SERVER_JID_PAIR), plaintext.hex()
    pair = sc.parse_pair_success(stanza)
    assert pair.t and pair.t.isdigit() and abs(int(pair.t) - time.time()) < 60, pair.t
    phone, lid = account["phone"], account["lid"].split("@")[0]
    assert pair.jid and pair.jid.startswith(f"{phone}:") and pair.jid.endswith("@s.whatsapp.net"), pair.jid
    device = int(pair.jid.split(":")[1].split("@")[0])
    assert pair.lid == f"{lid}:{device}@lid", pair.lid
    assert pair.platform, stanza
    assert (pair.account_type, pair.device_type, pair.container_account_type) == (0, 0, 0)  # E2EE
    assert abs(pair.timestamp - time.time()) < 60
    assert sc.check_pair_success(pair, adv_secret, companion.keys.identity_public) is None
    return pair


def link_by_qr(sim, root, account: dict, ref_index: int = 0):
    """Registration → pair-device → scan → pair-success checked and countersigned → 515.
    Returns (keys, admin answer, pair)."""
    keys = sc.CompanionKeys.generate()
    adv_secret = os.urandom(32)
    with sc.Companion(sim.ws_url, root, sc.registration_payload(keys), keys=keys) as companion:
        pair_device, _, refs = expect_pair_device(companion)
        companion.send(node("iq", {"to": "s.whatsapp.net", "type": "result", "id": pair_device.attrs["id"]}),
                       server_jid_attributes=("to",))
        qr = sc.qr_string(refs[ref_index], keys, adv_secret)
        scan = in_background(sim.admin, "POST", f"/accounts/{account['phone']}/scan", {"qr": qr})
        pair = receive_pair_success(companion, account, adv_secret)
        companion.send(sc.pair_device_sign(pair, keys, node), server_jid_attributes=("to",))
        answer = scan.result(timeout=DEADLINE)
        assert answer.status == 200, answer
        expect_restart_then_close(companion)
    return keys, answer.json(), pair


def test_qr_linking_then_login_prekeys_and_count(sim, root):
    account = new_account(sim)
    keys, answer, pair = link_by_qr(sim, root, account, ref_index=1)
    device = int(pair.jid.split(":")[1].split("@")[0])
    assert answer["ok"] is True and answer["device"] == device == 1, answer
    assert answer["jid"] == pair.jid and answer["lid"] == pair.lid, answer
    assert pair.key_index == answer["key_index"] == 1
    devices = sim.admin("GET", f"/accounts/{account['phone']}/devices").json()
    assert [d["device"] for d in devices] == [1], devices
    assert devices[0]["platform"] == "chrome" and devices[0]["os"] == "wause-interop", devices

    # whatsmeow store/clientpayload.go getLoginPayload: the login payload with the same Noise key → <success lid=…>.
    with sc.Companion(sim.ws_url, root, sc.login_payload(int(account["phone"]), device), keys=keys) as companion:
        success, plaintext = companion.receive()
        assert success.tag == "success", success
        assert success.attrs.get("lid") == pair.lid, success.attrs
        assert success.attrs.get("t", "").isdigit(), success.attrs
        expect_offline_done(companion, 0)
        # whatsmeow prekeys.go getServerPreKeyCount, uploadPreKeys: count, upload, count again.
        count = query(companion, "encrypt", "get", [node("count")], "count-1")
        assert [c.tag for c in count.content] == ["count"] and count.content[0].attrs["value"] == "0", count
        uploaded = query(companion, "encrypt", "set", sc.prekey_upload(keys, range(1, 51), 1, node), "upload-1")
        assert uploaded.attrs.get("type") == "result", uploaded
        count = query(companion, "encrypt", "get", [node("count")], "count-2")
        assert count.content[0].attrs["value"] == "50", count
        # A signed prekey signed by another key is refused, and nothing of it is stored.
        forged = sc.prekey_upload(sc.CompanionKeys(keys.noise_private, sc.nw.clamp(os.urandom(32)), keys.signed_prekey_private,
                                                   keys.registration_id), range(51, 61), 2, node)
        forged[2] = node("identity", {}, keys.identity_public)
        refused = query(companion, "encrypt", "set", forged, "upload-2")
        assert refused.attrs.get("type") == "error", refused
        assert query(companion, "encrypt", "get", [node("count")], "count-3").content[0].attrs["value"] == "50"
        assert query(companion, "passive", "set", [node("active")], "active").attrs.get("type") == "result"
        # whatsmeow client.go Logout: the companion unlinks itself; a later login is refused.
        removed = query(companion, "md", "set", [node("remove-companion-device",
                                                      {"jid": pair.jid, "reason": "user_initiated"})], "logout")
        assert removed.attrs.get("type") == "result", removed
        assert_closed_by_server(companion.socket)
    assert sim.admin("GET", f"/accounts/{account['phone']}/devices").json() == []
    with sc.Companion(sim.ws_url, root, sc.login_payload(int(account["phone"]), device), keys=keys) as companion:
        failure, _ = companion.receive()
        assert failure.tag == "failure" and failure.attrs.get("reason") == "401", failure


def test_two_devices_share_the_account_key_and_count_key_indexes(sim, root):
    account = new_account(sim)
    _, first, pair_a = link_by_qr(sim, root, account)
    _, second, pair_b = link_by_qr(sim, root, account)
    assert (first["device"], second["device"]) == (1, 2)
    assert (pair_a.key_index, pair_b.key_index) == (1, 2)
    assert pair_a.raw_id == pair_b.raw_id
    assert pair_a.account_signature_key == pair_b.account_signature_key


@pytest.mark.parametrize("corrupt, expected", [("hmac", "hmac-mismatch"), ("account_signature", "signature-mismatch")])
def test_the_client_rejects_a_corrupted_pair_success_and_nothing_is_registered(sim, root, corrupt, expected):
    account = new_account(sim)
    keys = sc.CompanionKeys.generate()
    adv_secret = os.urandom(32)
    with sc.Companion(sim.ws_url, root, sc.registration_payload(keys), keys=keys) as companion:
        _, _, refs = expect_pair_device(companion)
        scan = in_background(sim.admin, "POST", f"/accounts/{account['phone']}/scan",
                             {"qr": sc.qr_string(refs[0], keys, adv_secret), "corrupt": corrupt})
        stanza, _ = companion.receive()
        pair = sc.parse_pair_success(stanza)
        assert sc.check_pair_success(pair, adv_secret, keys.identity_public) == expected
        companion.send(sc.pair_error(pair, 401, expected, node), server_jid_attributes=("to",))
        answer = scan.result(timeout=DEADLINE)
        assert answer.status == 422, answer
        body = answer.json()
        assert body["code"] == "pairing_failed" and body["details"]["companion_error"] == {"code": "401", "text": expected}
        expect_nothing_pending(companion)  # no 515: still an unlinked companion
    assert sim.admin("GET", f"/accounts/{account['phone']}/devices").json() == []


def request_code(companion, account: dict, code: str, ephemeral_private: bytes, nonce=b"\x00") -> str:
    """whatsmeow pair-code.go PairPhone companion_hello; returns the pairing ref."""
    reply = query(companion, "md", "set", [node("link_code_companion_reg", {
        "jid": f"{account['phone']}@s.whatsapp.net", "stage": "companion_hello", "should_show_push_notification": "true",
    }, [
        node("link_code_pairing_wrapped_companion_ephemeral_pub", {},
             sc.wrap_public_key(sc.x25519_public(ephemeral_private), code)),
        node("companion_server_auth_key_pub", {}, companion.keys.noise_public),
        node("companion_platform_id", {}, "1"),
        node("companion_platform_display", {}, "Chrome (Linux)"),
        node("link_code_pairing_nonce", {}, nonce),
    ])], "hello")
    assert reply.attrs.get("type") == "result", reply
    [registration] = reply.content
    assert registration.tag == "link_code_companion_reg", reply
    [ref] = registration.content
    assert ref.tag == "link_code_pairing_ref" and ref.content, reply
    return ref.content.decode() if isinstance(ref.content, bytes) else ref.content


def answer_primary_hello(companion, account: dict, code: str, ephemeral_private: bytes, ref: str):
    """whatsmeow pair-code.go handleCodePairNotification: ack, unwrap, key bundle, companion_finish; returns (finish reply, new ADV
    secret, primary identity)."""
    notification, plaintext = companion.receive()
    assert notification.tag == "notification" and notification.attrs.get("type") == "link_code_companion_reg", notification
    assert sc.attribute_value_bytes(plaintext, "from", sc.SERVER_JID_PAIR)
    companion.send(node("ack", {"class": "notification", "id": notification.attrs["id"], "to": "s.whatsapp.net",
                                "type": "link_code_companion_reg"}), server_jid_attributes=("to",))
    [hello] = notification.content
    assert hello.attrs.get("stage") == "primary_hello", hello
    parts = {child.tag: child.content for child in hello.content}
    assert parts["link_code_pairing_ref"] == ref.encode(), parts
    wrapped, primary_identity = parts["link_code_pairing_wrapped_primary_ephemeral_pub"], parts["primary_identity_pub"]
    assert len(wrapped) == 80 and len(primary_identity) == 32
    bundle, adv_secret = sc.key_bundle(ephemeral_private, wrapped, code, companion.keys, primary_identity)
    reply = query(companion, "md", "set", [node("link_code_companion_reg", {
        "jid": f"{account['phone']}@s.whatsapp.net", "stage": "companion_finish",
    }, [
        node("link_code_pairing_wrapped_key_bundle", {}, bundle),
        node("companion_identity_public", {}, companion.keys.identity_public),
        node("link_code_pairing_ref", {}, ref.encode()),
    ])], "finish")
    return reply, adv_secret, primary_identity


@pytest.mark.parametrize("nonce", [b"\x00", "0"], ids=["whatsmeow nonce", "baileys nonce"])
def test_pairing_code_linking_then_login(sim, root, nonce):
    account = new_account(sim)
    keys = sc.CompanionKeys.generate()
    code = sc.linking_code(os.urandom(5))
    ephemeral = os.urandom(32)
    with sc.Companion(sim.ws_url, root, sc.registration_payload(keys), keys=keys) as companion:
        expect_pair_device(companion)
        ref = request_code(companion, account, code, ephemeral, nonce)
        entered = in_background(sim.admin, "POST", f"/accounts/{account['phone']}/enter-code",
                                {"code": f"{code[:4]}-{code[4:]}"})
        finish, adv_secret, primary_identity = answer_primary_hello(companion, account, code, ephemeral, ref)
        assert finish.attrs.get("type") == "result", finish
        pair = receive_pair_success(companion, account, adv_secret)  # the HMAC is keyed by the NEW secret
        assert pair.account_signature_key == primary_identity
        companion.send(sc.pair_device_sign(pair, keys, node), server_jid_attributes=("to",))
        answer = entered.result(timeout=DEADLINE)
        assert answer.status == 200, answer
        assert answer.json()["jid"] == pair.jid
        expect_restart_then_close(companion)
    device = int(pair.jid.split(":")[1].split("@")[0])
    with sc.Companion(sim.ws_url, root, sc.login_payload(int(account["phone"]), device), keys=keys) as companion:
        success, _ = companion.receive()
        assert success.tag == "success" and success.attrs.get("lid") == pair.lid, success


def wrong_code(code: str, wrapped: bytes, opens: bool) -> str:
    """Another code with which the phone would (not) get a prime-order key out of `wrapped`."""
    while True:
        candidate = sc.linking_code(os.urandom(5))
        if candidate != code and sc.is_prime_order_public_key(sc.unwrap_public_key(wrapped, candidate)) == opens:
            return candidate


def test_a_wrong_code_cannot_open_the_companion_key_and_nothing_reaches_the_companion(sim, root):
    account = new_account(sim)
    keys = sc.CompanionKeys.generate()
    code = sc.linking_code(os.urandom(5))
    ephemeral = os.urandom(32)
    with sc.Companion(sim.ws_url, root, sc.registration_payload(keys), keys=keys) as companion:
        expect_pair_device(companion)
        wrapped = sc.wrap_public_key(sc.x25519_public(ephemeral), code)
        reply = query(companion, "md", "set", [node("link_code_companion_reg", {
            "jid": f"{account['phone']}@s.whatsapp.net", "stage": "companion_hello", "should_show_push_notification": "false",
        }, [
            node("link_code_pairing_wrapped_companion_ephemeral_pub", {}, wrapped),
            node("companion_server_auth_key_pub", {}, keys.noise_public),
            node("companion_platform_id", {}, "1"),
            node("companion_platform_display", {}, "Chrome (Linux)"),
            node("link_code_pairing_nonce", {}, b"\x00"),
        ])], "hello")
        assert reply.attrs.get("type") == "result", reply
        answer = sim.admin("POST", f"/accounts/{account['phone']}/enter-code", {"code": wrong_code(code, wrapped, False)})
        assert answer.status == 422 and answer.json()["code"] == "pairing_failed", answer
        expect_nothing_pending(companion)  # no primary_hello
    assert sim.admin("GET", f"/accounts/{account['phone']}/devices").json() == []


def test_a_wrong_code_that_yields_a_valid_point_fails_at_the_key_bundle(sim, root):
    account = new_account(sim)
    keys = sc.CompanionKeys.generate()
    code = sc.linking_code(os.urandom(5))
    ephemeral = os.urandom(32)
    with sc.Companion(sim.ws_url, root, sc.registration_payload(keys), keys=keys) as companion:
        expect_pair_device(companion)
        wrapped = sc.wrap_public_key(sc.x25519_public(ephemeral), code)
        reply = query(companion, "md", "set", [node("link_code_companion_reg", {
            "jid": f"{account['phone']}@s.whatsapp.net", "stage": "companion_hello", "should_show_push_notification": "false",
        }, [
            node("link_code_pairing_wrapped_companion_ephemeral_pub", {}, wrapped),
            node("companion_server_auth_key_pub", {}, keys.noise_public),
            node("companion_platform_id", {}, "1"),
            node("companion_platform_display", {}, "Chrome (Linux)"),
            node("link_code_pairing_nonce", {}, "0"),
        ])], "hello")
        ref = reply.content[0].content[0].content.decode()
        entered = in_background(sim.admin, "POST", f"/accounts/{account['phone']}/enter-code",
                                {"code": wrong_code(code, wrapped, True)})
        finish, _, _ = answer_primary_hello(companion, account, code, ephemeral, ref)
        assert finish.attrs.get("type") == "error", finish
        answer = entered.result(timeout=DEADLINE)
        assert answer.status == 422, answer
        expect_nothing_pending(companion)  # no pair-success
    assert sim.admin("GET", f"/accounts/{account['phone']}/devices").json() == []


def test_scan_of_a_ref_with_another_companion_keys_is_refused_and_unseen(sim, root):
    account = new_account(sim)
    with register(sim, root) as companion:
        _, _, refs = expect_pair_device(companion)
        stranger = sc.CompanionKeys.generate()
        answer = sim.admin("POST", f"/accounts/{account['phone']}/scan", {"qr": sc.qr_string(refs[0], stranger, os.urandom(32))})
        assert answer.status == 422, answer
        assert sim.admin("POST", f"/accounts/{account['phone']}/scan",
                         {"qr": sc.qr_string("2@nope", stranger, os.urandom(32))}).status == 404
        expect_nothing_pending(companion)


# -- messaging (whatsmeow send.go, message.go, receipt.go) with python-axolotl sessions ----------


def collect(companion, wanted, what: str) -> list:
    """Stanzas until `wanted(seen)` holds; acks every receipt and answers every message with a
    delivery receipt as a client does (whatsmeow receipt.go sendMessageReceipt, sendAck)."""
    seen = []
    while not wanted(seen):
        stanza, _ = companion.receive()
        seen.append(stanza)
        if stanza.tag == "receipt":
            attrs = {"id": stanza.attrs["id"], "class": "receipt", "to": stanza.attrs["from"]}
            if stanza.attrs.get("type"):
                attrs["type"] = stanza.attrs["type"]
            companion.send(node("ack", attrs))
    return seen


def participant_list_hash_v2(device_jids: list[str]) -> str:
    """whatsmeow send.go `participantListHashV2`: "2:" + unpadded standard base64 of the first 6
    bytes of SHA-256 over the sorted AD strings `user.agent:device@server` joined without separator."""
    ad_strings = []
    for jid in device_jids:
        user_device, server = jid.split("@")
        user, _, device = user_device.partition(":")
        ad_strings.append(f"{user}.0:{device or '0'}@{server}")
    digest = hashlib.sha256("".join(sorted(ad_strings)).encode()).digest()[:6]
    return "2:" + base64.b64encode(digest).decode().rstrip("=")


def test_participant_list_hash_v2_matches_a_vector_worked_by_hand():
    # SHA-256("111.0:0@s.whatsapp.net222.0:0@s.whatsapp.net222.0:1@s.whatsapp.net")[:6], base64.
    expected = "2:" + base64.b64encode(hashlib.sha256(
        b"111.0:0@s.whatsapp.net222.0:0@s.whatsapp.net222.0:1@s.whatsapp.net").digest()[:6]).decode().rstrip("=")
    assert participant_list_hash_v2(["222:1@s.whatsapp.net", "111@s.whatsapp.net", "222@s.whatsapp.net"]) == expected
    assert len(expected) == 10  # "2:" + 8 characters: 6 bytes need no padding


def inbox(sim, phone: str) -> list:
    response = sim.admin("GET", f"/accounts/{phone}/inbox")
    assert response.status == 200, response
    return response.json()["messages"]


def test_independent_client_and_a_virtual_phone_exchange_messages(sim, root):
    """Our companion (python-axolotl sessions, hand-written protobuf, baileys-python binary XML)
    and the sim's virtual phone: the phone's pkmsg decrypts here; our reply (a msg on that session)
    and our own phone's deviceSentMessage copy (a pkmsg from its bundle) decrypt there."""
    account, other = new_account(sim), new_account(sim)
    me, them = account["phone"], other["phone"]
    keys, _, pair = link_by_qr(sim, root, account)
    store = sc.axolotl_store(keys)
    with sc.Companion(sim.ws_url, root, sc.login_payload(int(me), 1), keys=keys) as companion:
        success, _ = companion.receive()
        assert success.tag == "success", success
        expect_offline_done(companion, 0)
        uploaded = query(companion, "encrypt", "set", sc.axolotl_prekey_upload(store, keys, range(1, 6), node), "upload")
        assert uploaded.attrs.get("type") == "result", uploaded

        # The phone writes first: it fetched our bundle, so a pkmsg on one of our prekeys.
        posted = sim.admin("POST", f"/accounts/{them}/send", {"to": me, "text": "hello from the phone"})
        assert posted.status == 200, posted
        message_id = posted.json()["message_id"]
        seen = collect(companion, lambda seen: any(s.tag == "message" for s in seen), "the phone's message")
        message = next(s for s in seen if s.tag == "message")
        # whatsmeow prekeys.go uploadPreKeys: the phone took one of our five prekeys; below 5 the server asks for more.
        notice = next(s for s in seen if s.tag == "notification")
        assert notice.attrs.get("type") == "encrypt" and notice.content[0].attrs == {"value": "4"}, notice
        assert message.attrs["id"] == message_id and message.attrs["from"] == other["jid"], message.attrs
        assert message.attrs.get("type") == "text" and message.attrs.get("notify") == "Interop", message.attrs
        assert message.attrs.get("sender_lid") == other["lid"], message.attrs
        assert message.attrs.get("t", "").isdigit(), message.attrs
        [enc] = [child for child in message.content if child.tag == "enc"]
        assert enc.attrs.get("v") == "2" and enc.attrs.get("type") == "pkmsg", enc.attrs
        plaintext = sc.decrypt(store, message.attrs["from"], "pkmsg", enc.content)
        assert sc.conversation(plaintext) == "hello from the phone"
        assert not store.containsPreKey(1)  # the phone used our first key; axolotl removed it once it decrypted
        companion.send(node("receipt", {"id": message_id, "to": message.attrs["from"]}))
        ack = next(x for x in collect(companion, lambda s: any(x.tag == "ack" for x in s), "the receipt's ack") if x.tag == "ack")
        assert ack.attrs == {"class": "receipt", "id": message_id, "from": other["jid"]}, ack
        query_count = query(companion, "encrypt", "get", [node("count")], "count")
        assert query_count.content[0].attrs["value"] == "4", query_count  # one handed out to the phone

        # The devices to write to (whatsmeow user.go GetUserDevices): the other account's phone, and our own phone.
        answer = query(companion, "usync", "get", [node("usync", {"sid": "u1", "mode": "query", "last": "true", "index": "0",
                                                                  "context": "message"}, [
            node("query", {}, [node("devices", {"version": "2"}), node("lid")]),
            node("list", {}, [node("user", {"jid": other["jid"]}), node("user", {"jid": account["jid"]})]),
        ])], "usync")
        users = {u.attrs["jid"]: u for u in answer.content[0].content[0].content}
        assert set(users) == {other["jid"], account["jid"]}, users
        devices = {jid: [d.attrs["id"] for d in u.content[0].content[0].content] for jid, u in users.items()}
        assert devices == {other["jid"]: ["0"], account["jid"]: ["0", "1"]}, devices

        # A bundle for our own phone (no session yet), then the reply to them (a msg on the
        # session their pkmsg started) and the deviceSentMessage copy for our phone.
        bundles = query(companion, "encrypt", "get", [node("key", {}, [node("user", {"jid": account["jid"], "reason": "identity"})])],
                        "bundles")
        [own_phone] = bundles.content[0].content
        sc.process_bundle(store, own_phone)
        reply_id = "3EB0" + os.urandom(9).hex().upper()
        body = sc.text_message("hello from an independent client")
        kind_them, ct_them = sc.encrypt(store, other["jid"], body)
        kind_own, ct_own = sc.encrypt(store, account["jid"], sc.device_sent_message(other["jid"], body))
        assert (kind_them, kind_own) == ("msg", "pkmsg")
        companion.send(node("message", {"id": reply_id, "to": other["jid"], "type": "text"}, [
            node("participants", {}, [
                node("to", {"jid": other["jid"]}, [node("enc", {"v": "2", "type": kind_them}, ct_them)]),
                node("to", {"jid": account["jid"]}, [node("enc", {"v": "2", "type": kind_own}, ct_own)]),
            ]),
        ]))
        # whatsmeow send.go SendMessage: the server's ack (after it queued the message), then the phone's delivery receipt.
        seen = collect(companion, lambda s: any(x.tag == "ack" for x in s)
                       and any(x.tag == "receipt" and x.attrs.get("from") == other["jid"] for x in s), "ack and receipt")
        [ack] = [x for x in seen if x.tag == "ack"]
        assert ack.attrs.get("class") == "message" and ack.attrs.get("id") == reply_id, ack.attrs
        assert ack.attrs.get("from") == other["jid"] and ack.attrs.get("t", "").isdigit() and "error" not in ack.attrs, ack.attrs
        # The phash covers every device of both users, ours (the sender) included, as whatsmeow
        # `sendDM` hashes `allDevices`: computed here from the usync answer above.
        listed = [f"{user.split('@')[0]}:{device}@s.whatsapp.net" for user, ids in devices.items() for device in ids]
        assert ack.attrs.get("phash") == participant_list_hash_v2(listed), (ack.attrs, listed)
        receipt = next(x for x in seen if x.tag == "receipt" and x.attrs.get("from") == other["jid"])
        assert receipt.attrs.get("id") == reply_id and receipt.attrs.get("type") is None, receipt.attrs

        def filed(phone, message_id):
            return next((m for m in inbox(sim, phone) if m["id"] == message_id), None)

        got = poll(lambda: filed(them, reply_id), "the reply in the phone's inbox")
        assert got["text"] == "hello from an independent client" and got["from"] == pair.jid and got["from_me"] is False, got
        copy = poll(lambda: filed(me, reply_id), "the copy in our own phone's inbox")
        assert copy["from_me"] is True and copy["chat"] == other["jid"] and copy["text"] == got["text"], copy


def test_a_message_the_phone_cannot_decrypt_earns_a_retry_receipt_and_the_resend_is_read(sim, root):
    """Retry receipts (whatsmeow retry.go) through the sim: a `msg` with a broken MAC → the phone's retry receipt (count 1, its
    registration id, no keys yet) forwarded to our device; we encrypt again and send the resend
    to that one device (`device_fanout="false"`, `<enc count>`), which the phone then files."""
    account, other = new_account(sim), new_account(sim)
    me, them = account["phone"], other["phone"]
    keys, _, pair = link_by_qr(sim, root, account)
    store = sc.axolotl_store(keys)
    with sc.Companion(sim.ws_url, root, sc.login_payload(int(me), 1), keys=keys) as companion:
        assert companion.receive()[0].tag == "success"
        expect_offline_done(companion, 0)
        bundles = query(companion, "encrypt", "get", [node("key", {}, [node("user", {"jid": other["jid"], "reason": "identity"})])],
                        "bundles")
        [their_phone] = bundles.content[0].content
        sc.process_bundle(store, their_phone)
        body = sc.text_message("second time lucky")
        kind, ciphertext = sc.encrypt(store, other["jid"], body)
        assert kind == "pkmsg"
        # Flip a bit of the MAC: the last of the inner SignalMessage's 8 MAC bytes (go.mau.fi/libsignal protocol/SignalMessage.go).
        inner = sc.PreKeyWhisperMessage(serialized=ciphertext).getWhisperMessage().serialize()
        at = ciphertext.index(inner) + len(inner) - 1
        broken = bytearray(ciphertext)
        broken[at] ^= 0x01
        message_id = "3EB0" + os.urandom(9).hex().upper()
        companion.send(node("message", {"id": message_id, "to": other["jid"], "type": "text"}, [
            node("participants", {}, [node("to", {"jid": other["jid"]}, [node("enc", {"v": "2", "type": kind}, bytes(broken))])]),
        ]))
        seen = collect(companion, lambda s: any(x.tag == "receipt" and x.attrs.get("type") == "retry" for x in s), "a retry receipt")
        ack = next(x for x in seen if x.tag == "ack")
        assert ack.attrs.get("id") == message_id and "error" not in ack.attrs, ack.attrs
        retry = next(x for x in seen if x.tag == "receipt")
        assert retry.attrs.get("from") == other["jid"] and retry.attrs.get("id") == message_id, retry.attrs
        children = {child.tag: child for child in retry.content}
        assert children["retry"].attrs.get("count") == "1" and children["retry"].attrs.get("id") == message_id, children
        assert len(children["registration"].content) == 4 and "keys" not in children, children
        assert not any(m["id"] == message_id for m in inbox(sim, them))

        # The resend (whatsmeow retry.go handleRetryReceipt): the phone's session never started, so a new pkmsg from a new bundle.
        store.deleteSession(*sc.signal_name(other["jid"]))
        bundles = query(companion, "encrypt", "get", [node("key", {}, [node("user", {"jid": other["jid"], "reason": "identity"})])],
                        "bundles-2")
        sc.process_bundle(store, bundles.content[0].content[0])
        kind, ciphertext = sc.encrypt(store, other["jid"], body)
        companion.send(node("message", {"id": message_id, "to": other["jid"], "type": "text", "device_fanout": "false",
                                        "t": children["retry"].attrs["t"]},
                            [node("enc", {"v": "2", "type": kind, "count": "1"}, ciphertext)]))
        seen = collect(companion, lambda s: any(x.tag == "receipt" and x.attrs.get("type") is None for x in s), "the delivery receipt")
        ack = next(x for x in seen if x.tag == "ack")
        assert ack.attrs.get("id") == message_id and ack.attrs.get("from") == other["jid"], ack.attrs
        got = poll(lambda: next((m for m in inbox(sim, them) if m["id"] == message_id), None), "the resent message in the inbox")
        assert got["text"] == "second time lucky" and got["from"] == pair.jid, got
