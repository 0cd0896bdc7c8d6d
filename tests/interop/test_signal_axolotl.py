"""wause's Signal sessions (X3DH, double ratchet, v3 `pkmsg`/`msg`) against python-axolotl 0.2.3,
an independent port of libsignal (docs/interop-oracles.md), in both directions:
sessions started from either side's bundle, long conversations across many DH ratchet steps,
out-of-order and duplicate delivery. wause runs as the `wause-signal` CLI with its state in a file.

Run: WAUSE_SIGNAL=.build/debug/wause-signal pytest tests/interop/test_signal_axolotl.py
"""

import os
import random
import subprocess

import pytest
from axolotl.duplicatemessagexception import DuplicateMessageException

from signal_axolotl import WAUSE_SIGNAL, Ours, SignalFailure, Theirs

# How each side addresses the other (name:device for wause, (name, device) for python-axolotl).
THEM, THEM_DEVICE = "axolotl", 7
US, US_DEVICE = "wause", 1
THEM_FOR_US = f"{THEM}:{THEM_DEVICE}"


def plaintext(rng: random.Random, label: str) -> bytes:
    """Text plus 0..40 random bytes, so lengths cross AES block boundaries (exact multiples of 16
    gain a whole padding block) and the bytes are not all printable."""
    return label.encode() + rng.randbytes(rng.randrange(0, 41))


def they_start(tmp_path, with_prekey: bool = True):
    """python-axolotl processes our bundle; returns (ours, theirs, bundle)."""
    ours, theirs = Ours(tmp_path / "wause.json", US), Theirs(THEM)
    bundle = ours.bundle()
    if not with_prekey:
        del bundle["prekey_id"], bundle["prekey_public"]
    theirs.process_bundle(US, US_DEVICE, bundle)
    return ours, theirs, bundle


def we_start(tmp_path, prekey_index: int | None = 0):
    """wause processes python-axolotl's bundle."""
    ours, theirs = Ours(tmp_path / "wause.json", US), Theirs(THEM)
    ours.bundle()  # creates our state
    ours.process_bundle(THEM_FOR_US, theirs.bundle(prekey_index))
    return ours, theirs


def send_to_us(ours, theirs, text: bytes):
    message = theirs.encrypt(US, US_DEVICE, text)
    assert ours.decrypt(THEM_FOR_US, message) == text
    return message


def send_to_them(ours, theirs, text: bytes):
    message = ours.encrypt(THEM_FOR_US, text)
    assert theirs.decrypt(US, US_DEVICE, message) == text
    return message


@pytest.mark.parametrize("with_prekey", [True, False])
def test_session_from_our_bundle(tmp_path, with_prekey):
    ours, theirs, bundle = they_start(tmp_path, with_prekey)
    assert os.stat(ours.state).st_mode & 0o777 == 0o600  # it holds private keys
    assert set(bundle) >= {"registration_id", "identity_key", "signed_prekey_id", "signed_prekey_public",
                           "signed_prekey_signature"}
    assert len(bytes.fromhex(bundle["identity_key"])) == 33 and bundle["identity_key"].startswith("05")
    first = send_to_us(ours, theirs, b"hello from python-axolotl")
    assert first[0] == "pkmsg"
    assert send_to_us(ours, theirs, b"second, still a pkmsg")[0] == "pkmsg"
    assert send_to_them(ours, theirs, b"hello from wause")[0] == "msg"
    assert send_to_us(ours, theirs, b"now a msg")[0] == "msg"
    # The one-time prekey was consumed exactly once: init replaces it with a new one ...
    again = ours.bundle()
    assert again["identity_key"] == bundle["identity_key"]
    if with_prekey:
        assert again["prekey_id"] != bundle["prekey_id"]
    # ... and the first pkmsg, delivered again, is a clean duplicate, not a second session.
    with pytest.raises(SignalFailure) as failure:
        ours.decrypt(THEM_FOR_US, first)
    assert failure.value.code == "duplicate_message"
    assert send_to_them(ours, theirs, b"the session is intact")[0] == "msg"


@pytest.mark.parametrize("prekey_index", [0, 3])
def test_session_from_their_bundle(tmp_path, prekey_index):
    ours, theirs = we_start(tmp_path, prekey_index)
    assert send_to_them(ours, theirs, b"hello from wause")[0] == "pkmsg"
    assert send_to_them(ours, theirs, b"second pkmsg")[0] == "pkmsg"
    assert not theirs.store.containsPreKey(theirs.prekeys[prekey_index].getId())
    assert theirs.store.containsPreKey(theirs.prekeys[prekey_index + 1].getId())
    assert send_to_us(ours, theirs, b"reply from python-axolotl")[0] == "msg"
    assert send_to_them(ours, theirs, b"acknowledged: msg from now on")[0] == "msg"


def test_pkmsg_without_one_time_prekey_leaves_the_field_out(tmp_path):
    """From a bundle without a one-time prekey our pkmsg omits preKeyId (field 1) as libsignal
    does. python-axolotl 0.2.3 cannot take such a pkmsg from anyone, itself included: it reads
    the absent field as prekey 0 (no HasField check in PreKeyWhisperMessage) and looks that
    prekey up, so this direction is checked on the wire format only."""
    from axolotl.protocol import whisperprotos_pb2

    ours, _ = we_start(tmp_path, prekey_index=None)
    kind, message = ours.encrypt(THEM_FOR_US, b"no one-time prekey")
    assert kind == "pkmsg" and message[0] == 0x33
    parsed = whisperprotos_pb2.PreKeyWhisperMessage()
    parsed.ParseFromString(message[1:])
    assert not parsed.HasField("preKeyId")
    assert parsed.signedPreKeyId == 1 and len(parsed.baseKey) == 33 and parsed.message[0] == 0x33


@pytest.mark.parametrize("who_starts", ["they", "we"])
def test_long_ping_pong_across_ratchet_steps(tmp_path, who_starts):
    rng = random.Random(f"ping-pong-{who_starts}")
    if who_starts == "they":
        ours, theirs, _ = they_start(tmp_path)
        send_to_us(ours, theirs, b"start")
    else:
        ours, theirs = we_start(tmp_path)
        send_to_them(ours, theirs, b"start")
    # Strict alternation: a DH ratchet step on every message.
    for turn in range(30):
        send_to_them(ours, theirs, plaintext(rng, f"wause {turn}"))
        send_to_us(ours, theirs, plaintext(rng, f"axolotl {turn}"))
    # Runs of several messages each way: steps interleaved with same-chain messages.
    for turn in range(12):
        for index in range(rng.randrange(1, 6)):
            assert send_to_them(ours, theirs, plaintext(rng, f"wause run {turn}.{index}"))[0] == "msg"
        for index in range(rng.randrange(1, 6)):
            assert send_to_us(ours, theirs, plaintext(rng, f"axolotl run {turn}.{index}"))[0] == "msg"
    # Empty and block-aligned plaintexts.
    for text in (b"", bytes(16), bytes(range(32)), bytes(255 for _ in range(48))):
        send_to_them(ours, theirs, text)
        send_to_us(ours, theirs, text)


def test_out_of_order_and_duplicates_to_us(tmp_path):
    rng = random.Random("to-us")
    ours, theirs, _ = they_start(tmp_path)
    send_to_us(ours, theirs, b"start")
    send_to_them(ours, theirs, b"ack")
    for round_ in range(3):
        batch = [(text, theirs.encrypt(US, US_DEVICE, text))
                 for text in (plaintext(rng, f"round {round_} #{i}") for i in range(8))]
        # A message from the previous chain arrives after the ratchet moved on.
        late_text, late = batch.pop(rng.randrange(len(batch)))
        order = batch[:]
        rng.shuffle(order)
        for text, message in order:
            assert ours.decrypt(THEM_FOR_US, message) == text
        send_to_them(ours, theirs, f"round {round_} reply".encode())
        send_to_us(ours, theirs, f"round {round_} next chain".encode())
        assert ours.decrypt(THEM_FOR_US, late) == late_text
        for _, message in rng.sample(batch, 3) + [(late_text, late)]:
            with pytest.raises(SignalFailure) as failure:
                ours.decrypt(THEM_FOR_US, message)
            assert failure.value.code == "duplicate_message"


def test_out_of_order_and_duplicates_to_them(tmp_path):
    rng = random.Random("to-them")
    ours, theirs = we_start(tmp_path)
    send_to_them(ours, theirs, b"start")
    send_to_us(ours, theirs, b"ack")
    for round_ in range(3):
        batch = [(text, ours.encrypt(THEM_FOR_US, text))
                 for text in (plaintext(rng, f"round {round_} #{i}") for i in range(8))]
        late_text, late = batch.pop(rng.randrange(len(batch)))
        order = batch[:]
        rng.shuffle(order)
        for text, message in order:
            assert theirs.decrypt(US, US_DEVICE, message) == text
        send_to_us(ours, theirs, f"round {round_} reply".encode())
        send_to_them(ours, theirs, f"round {round_} next chain".encode())
        assert theirs.decrypt(US, US_DEVICE, late) == late_text
        for _, message in rng.sample(batch, 3) + [(late_text, late)]:
            with pytest.raises(DuplicateMessageException):
                theirs.decrypt(US, US_DEVICE, message)


def test_tampered_message_is_rejected_and_changes_nothing(tmp_path):
    ours, theirs, _ = they_start(tmp_path)
    send_to_us(ours, theirs, b"start")
    send_to_them(ours, theirs, b"ack")
    kind, message = theirs.encrypt(US, US_DEVICE, b"tamper with me")
    for position in (len(message) - 1, len(message) - 12, 5):
        forged = bytearray(message)
        forged[position] ^= 0x40
        with pytest.raises(SignalFailure) as failure:
            ours.decrypt(THEM_FOR_US, (kind, bytes(forged)))
        assert failure.value.code in ("bad_mac", "invalid_message")
    assert ours.decrypt(THEM_FOR_US, (kind, message)) == b"tamper with me"


def test_cli_errors_are_clear_and_leave_the_state_alone(tmp_path):
    ours, theirs, _ = they_start(tmp_path)
    send_to_us(ours, theirs, b"start")
    before = open(ours.state).read()

    def run(*args):
        return subprocess.run([WAUSE_SIGNAL, *args], capture_output=True, text=True, timeout=60)

    bad_type = run("decrypt", "--state", ours.state, "--peer", THEM_FOR_US, "--type", "skmsg", "--ct", "33")
    assert bad_type.returncode == 2 and "--type must be pkmsg or msg" in bad_type.stderr
    bad_hex = run("encrypt", "--state", ours.state, "--peer", THEM_FOR_US, "--pt", "xyz")
    assert bad_hex.returncode == 2 and "hex" in bad_hex.stderr
    garbage = run("decrypt", "--state", ours.state, "--peer", THEM_FOR_US, "--type", "msg", "--ct", "33" + "00" * 20)
    assert garbage.returncode == 3 and "invalid_message" in garbage.stderr
    legacy = run("decrypt", "--state", ours.state, "--peer", THEM_FOR_US, "--type", "msg", "--ct", "22" + "00" * 20)
    assert legacy.returncode == 3 and "legacy_version" in legacy.stderr
    unknown_peer = run("encrypt", "--state", ours.state, "--peer", "nobody:1", "--pt", "00")
    assert unknown_peer.returncode == 3 and "no_session" in unknown_peer.stderr
    missing = run("encrypt", "--state", str(tmp_path / "absent.json"), "--peer", THEM_FOR_US, "--pt", "00")
    assert missing.returncode == 2 and "cannot read state file" in missing.stderr
    assert open(ours.state).read() == before
