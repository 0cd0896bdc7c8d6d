"""wause's curve25519 signatures (libsignal's XEdDSA convention) against python-axolotl-curve25519,
which wraps libsignal's own C implementation. wause is driven through the `wause-signal` CLI.

Run: WAUSE_SIGNAL=.build/debug/wause-signal pytest tests/interop/test_xeddsa.py
"""

import json
import random

import pytest

from crypto_wause_signal import (
    clamp, flip_bit, our_sign, our_verify, run_wause_signal, their_public_key, their_sign, their_verify,
)

CASES = 300  # per direction; enough that both values of the sign bit in sig[63] occur many times


def random_case(rng: random.Random):
    """A clamped private key, a message of 0..200 bytes and 64 nonce bytes, all from `rng`."""
    private_key = clamp(rng.randbytes(32))
    message = rng.randbytes(rng.randrange(0, 201))
    return private_key, message, rng.randbytes(64)


def test_keypair_public_key_matches_libsignal():
    rng = random.Random(1)
    for index in range(50):
        raw = rng.randbytes(32)
        result = run_wause_signal("keypair", "--private", raw.hex())
        assert result.returncode == 0, result.stderr
        pair = json.loads(result.stdout)
        assert bytes.fromhex(pair["private"]) == clamp(raw), f"case {index}"
        assert bytes.fromhex(pair["public"]) == their_public_key(clamp(raw)), f"case {index}"
        assert pair["public_djb"] == "05" + pair["public"]


def test_keypair_without_private_generates_fresh_keys():
    first = json.loads(run_wause_signal("keypair").stdout)
    second = json.loads(run_wause_signal("keypair").stdout)
    assert first["private"] != second["private"]
    assert bytes.fromhex(first["public"]) == their_public_key(bytes.fromhex(first["private"]))


def test_they_sign_we_verify():
    rng = random.Random(2)
    sign_bits = set()
    for index in range(CASES):
        private_key, message, nonce = random_case(rng)
        public_key = their_public_key(private_key)
        signature = their_sign(private_key, message, nonce)
        sign_bits.add(signature[63] >> 7)
        assert our_verify(public_key, message, signature), f"case {index}"
        assert our_verify(b"\x05" + public_key, message, signature), f"case {index} (33-byte key)"
    assert sign_bits == {0, 1}


def test_we_sign_they_verify():
    rng = random.Random(3)
    sign_bits = set()
    for index in range(CASES):
        private_key, message, _ = random_case(rng)
        signature = our_sign(private_key, message)  # nonce from wause's CSPRNG
        sign_bits.add(signature[63] >> 7)
        assert their_verify(their_public_key(private_key), message, signature), f"case {index}"
    assert sign_bits == {0, 1}


def test_same_nonce_gives_identical_signatures():
    rng = random.Random(4)
    for index in range(100):
        private_key, message, nonce = random_case(rng)
        assert our_sign(private_key, message, nonce) == their_sign(private_key, message, nonce), f"case {index}"


def test_unclamped_private_key_signs_as_its_clamped_form():
    rng = random.Random(5)
    for index in range(20):
        raw = bytes([rng.randrange(256) | 0x07]) + rng.randbytes(30) + bytes([rng.randrange(256) | 0x80])
        message, nonce = rng.randbytes(32), rng.randbytes(64)
        signature = our_sign(raw, message, nonce)
        assert signature == their_sign(clamp(raw), message, nonce), f"case {index}"
        assert their_verify(their_public_key(clamp(raw)), message, signature), f"case {index}"


def test_tampered_signatures_are_rejected_on_both_sides():
    rng = random.Random(6)
    for index in range(60):
        private_key, message, nonce = random_case(rng)
        message = message or b"\x00"
        public_key = their_public_key(private_key)
        signature = their_sign(private_key, message, nonce)
        # Any bit of R or S, and specifically the sign bit (bit 511 = top of sig[63]).
        for bit in (rng.randrange(512), 511):
            bad = flip_bit(signature, bit)
            assert not their_verify(public_key, message, bad), f"case {index} bit {bit}"
            assert not our_verify(public_key, message, bad), f"case {index} bit {bit}"
        bad_message = flip_bit(message, rng.randrange(len(message) * 8))
        assert not their_verify(public_key, bad_message, signature), f"case {index}"
        assert not our_verify(public_key, bad_message, signature), f"case {index}"
        # Bit 255 of the Montgomery key is ignored by both (libsignal clears it), so flip a lower one.
        bad_key = flip_bit(public_key, rng.randrange(255))
        assert not their_verify(bad_key, message, signature), f"case {index}"
        assert not our_verify(bad_key, message, signature), f"case {index}"


def test_top_bit_of_public_key_is_ignored_by_both():
    rng = random.Random(7)
    private_key, message, nonce = random_case(rng)
    public_key = bytearray(their_public_key(private_key))
    public_key[31] |= 0x80
    signature = their_sign(private_key, message, nonce)
    assert their_verify(bytes(public_key), message, signature)
    assert our_verify(bytes(public_key), message, signature)


def test_libsignal_published_vector():
    # libsignal-protocol-c tests/test_curve25519.c test_curve25519_signature
    public_key = bytes.fromhex("05ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64")
    message = bytes.fromhex("05edce9d9c415ca78cb7252e72c2c4a554d3eb29485a0e1d503118d1a82d99fb4a")
    signature = bytes.fromhex(
        "5de88ca9a89b4a115da79109c67c9c7464a3e4180274f1cb8c63c2984e286dfb"
        "ede82deb9dcd9fae0bfbb821569b3d9001bd8130cd11d486cef047bd60b86e88")
    assert their_verify(public_key[1:], message, signature)
    assert our_verify(public_key, message, signature)
    assert our_verify(public_key[1:], message, signature)


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["sign", "--message", "00"],
    ["sign", "--private", "zz", "--message", "00"],
    ["sign", "--private", "00" * 31, "--message", "00"],
    ["sign", "--private", "00" * 32, "--message", "00", "--random", "00" * 63],
    ["sign", "--private", "00" * 32, "--message", "0"],
    ["sign", "--private", "00" * 32, "--message", "00", "--message", "00"],
    ["keypair", "--private"],
    ["keypair", "--bogus", "1"],
    ["verify", "--public", "06" + "00" * 32, "--message", "00", "--signature", "00" * 64],
    ["verify", "--public", "00" * 31, "--message", "00", "--signature", "00" * 64],
    ["verify", "--public", "00" * 32, "--message", "00", "--signature", "00" * 63],
])
def test_bad_input_exits_2_with_a_message(args):
    result = run_wause_signal(*args)
    assert result.returncode == 2
    assert result.stderr
    assert "Fatal error" not in result.stderr


def test_help():
    result = run_wause_signal("--help")
    assert result.returncode == 0
    for command in ("keypair", "sign", "verify"):
        assert command in result.stdout
