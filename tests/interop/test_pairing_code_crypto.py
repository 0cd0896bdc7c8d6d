"""wause's pairing-code and ADV crypto (WauseCore LinkCodeCrypto and ADVIdentity, driven through
`wause-wire`) against values derived here independently: Python `cryptography` (PBKDF2HMAC, AES-CTR,
HKDF, AES-GCM, X25519), the standard library's base32 and HMAC, python-axolotl-curve25519 for the
ADV signatures, and a few lines of field arithmetic for the prime-order check.
Formulas of whatsmeow pair.go handlePair and pair-code.go; vectors worked out independently in Python.

    swift build --product wause-wire --product wause-signal
    WAUSE_WIRE=.build/debug/wause-wire WAUSE_SIGNAL=.build/debug/wause-signal \
        .venv-interop/bin/python -m pytest -q tests/interop/test_pairing_code_crypto.py
"""

import base64
import hashlib
import hmac
import json
import os
import random
import subprocess

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crypto_wause_signal import WAUSE_SIGNAL, clamp, flip_bit, our_sign, our_verify, their_public_key, their_sign, their_verify

# The debug build of the checkout this file is in (tests/<suite>/ → repository root), unless
# $WAUSE_WIRE names another binary.
WAUSE_WIRE = os.environ.get(
    "WAUSE_WIRE", os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "debug", "wause-wire"))
)

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
KEY_BUNDLE_INFO = b"link_code_pairing_key_bundle_encryption_key"

# Known answers, worked out with Python `cryptography`: PBKDF2 of code 15217216 over salt 00..1F, and
# HKDF(00×96, no salt, "adv_secret").
PBKDF2_VECTOR = "7f2656233a180dcc21e87d14cd18df52fc471e64616cb9a6e1cb32454f384f48"
ADV_SECRET_VECTOR = "2af0c9fc3c4bfcd67244f287732da9b917d4214c6d8b7961b756faa64e113551"


@pytest.fixture(scope="session", autouse=True)
def binaries_present():
    for path, product in ((WAUSE_WIRE, "wause-wire"), (WAUSE_SIGNAL, "wause-signal")):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: run `swift build --product {product}` or set {product.upper().replace('-', '_')}")


def wire(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([WAUSE_WIRE, *args], capture_output=True, text=True, timeout=60)


def wire_out(*args: str) -> str:
    """stdout of a command that must succeed."""
    result = wire(*args)
    assert result.returncode == 0, f"{args[0]} exited {result.returncode}: {result.stderr}"
    assert result.stderr == ""
    return result.stdout.strip()


def wire_bytes(*args: str) -> bytes:
    return bytes.fromhex(wire_out(*args))


# --- The independent side -----------------------------------------------------------------------

def py_code(five: bytes) -> str:
    """base32 (RFC 4648) with the alphabet swapped, as whatsmeow builds it (base32.NewEncoding)."""
    standard = base64.b32encode(five).decode()
    return standard.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET))


def py_code_key(code: str, salt: bytes) -> bytes:
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=131072).derive(code.encode())


def py_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    return Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update(data)


def py_wrap(code: str, salt: bytes, iv: bytes, public_key: bytes) -> bytes:
    return salt + iv + py_ctr(py_code_key(code, salt), iv, public_key)


def py_unwrap(code: str, wrapped: bytes) -> bytes:
    return py_ctr(py_code_key(code, wrapped[:32]), wrapped[32:48], wrapped[48:80])


def py_bundle_key(shared: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=KEY_BUNDLE_INFO).derive(shared)


def py_seal(shared, companion, primary, adv_random, salt, nonce) -> bytes:
    return salt + nonce + AESGCM(py_bundle_key(shared, salt)).encrypt(nonce, companion + primary + adv_random, None)


def py_open(shared: bytes, bundle: bytes) -> bytes:
    salt, nonce, sealed = bundle[:32], bundle[32:44], bundle[44:]
    return AESGCM(py_bundle_key(shared, salt)).decrypt(nonce, sealed, None)


def py_adv_secret(eph_shared: bytes, id_shared: bytes, adv_random: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"adv_secret").derive(eph_shared + id_shared + adv_random)


def py_adv_hmac(secret: bytes, details: bytes, hosted: bool) -> bytes:
    return hmac.new(secret, (b"\x06\x05" if hosted else b"") + details, hashlib.sha256).digest()


def x25519_pair(rng: random.Random):
    private = X25519PrivateKey.from_private_bytes(rng.randbytes(32))
    return private, private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def x25519_private_bytes(private: X25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat
    return private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


# Curve25519 field arithmetic for the prime-order check: on the curve (not the twist) and [L]P = O.
P = 2**255 - 19
A24 = 121665
L = 2**252 + 27742317777372353535851937790883648493


def montgomery_ladder_x(k: int, u: int):
    """RFC 7748 §5 ladder without clamping: (x, z) of [k](u, ·); z == 0 is the point at infinity."""
    x1, x2, z2, x3, z3, swap = u, 1, 0, u, 1, 0
    for t in reversed(range(k.bit_length())):
        bit = (k >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % P, (x2 - z2) % P
        aa, bb = a * a % P, b * b % P
        e = (aa - bb) % P
        c, d = (x3 + z3) % P, (x3 - z3) % P
        da, cb = d * a % P, c * b % P
        x3, z3 = (da + cb) ** 2 % P, x1 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, e * (aa + A24 * e) % P
    if swap:
        x2, z2 = x3, z3
    return x2, z2


def py_is_prime_order(key: bytes) -> bool:
    if len(key) != 32 or key[31] & 0x80:
        return False
    u = int.from_bytes(key, "little") % P
    if u == 0:
        return False  # the point of order 2 (the x-only ladder cannot tell it from infinity)
    rhs = (u**3 + 486662 * u * u + u) % P
    if pow(rhs, (P - 1) // 2, P) != 1:
        return False  # on the twist
    _, z = montgomery_ladder_x(L, u)
    return z == 0


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def adv_device_identity(raw_id: int, timestamp: int, key_index: int, hosted: bool) -> bytes:
    """WAAdv.ADVDeviceIdentity by hand: rawID=1, timestamp=2, keyIndex=3, accountType=4, deviceType=5."""
    out = b"\x08" + varint(raw_id) + b"\x10" + varint(timestamp) + b"\x18" + varint(key_index)
    if hosted:
        out += b"\x20\x01\x28\x01"
    return out


def length_delimited(field: int, data: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(data)) + data


# --- Oracle sanity ------------------------------------------------------------------------------

def test_the_oracle_reproduces_the_reference_vectors():
    assert py_code(bytes(5)) == "11111111"
    assert py_code(b"\xff" * 5) == "ZZZZZZZZ"
    assert py_code(bytes.fromhex("0102030405")) == "15217216"
    assert py_code_key("15217216", bytes(range(32))).hex() == PBKDF2_VECTOR
    assert py_adv_secret(bytes(32), bytes(32), bytes(32)).hex() == ADV_SECRET_VECTOR
    # The prime-order oracle: the base point yes, low-order and twist points no.
    assert py_is_prime_order(bytes([9]) + bytes(31))
    assert not py_is_prime_order(bytes(32)) and not py_is_prime_order(bytes([1]) + bytes(31))
    assert not py_is_prime_order(bytes([2]) + bytes(31))


# --- code (whatsmeow pair-code.go PairPhone) ----------------------------------------------------

def test_code_vectors():
    assert wire_out("link-code-encode", "--bytes", "0000000000") == "11111111"
    assert wire_out("link-code-encode", "--bytes", "ffffffffff") == "ZZZZZZZZ"
    assert wire_out("link-code-encode", "--bytes", "0102030405") == "15217216"
    assert wire_out("link-code-encode", "--bytes", "0102030405", "--display") == "1521-7216"


def test_codes_match_base32_for_random_bytes():
    rng = random.Random(101)
    for index in range(150):
        five = rng.randbytes(5)
        assert wire_out("link-code-encode", "--bytes", five.hex()) == py_code(five), f"case {index}: {five.hex()}"


# --- wrapping (whatsmeow pair-code.go generateCompanionEphemeralKey) ----------------------------

def wrap_cases(seed: int, count: int):
    rng = random.Random(seed)
    cases = [("15217216", bytes(range(32)), bytes(16), rng.randbytes(32)),
             # Counter carry: the 16-byte IV is one big-endian counter (the second block carries
             # out of the low 64 bits), and the all-ones IV wraps around.
             (py_code(rng.randbytes(5)), rng.randbytes(32), bytes(8) + b"\xff" * 8, rng.randbytes(32)),
             (py_code(rng.randbytes(5)), rng.randbytes(32), b"\xff" * 16, rng.randbytes(32))]
    for _ in range(count):
        cases.append((py_code(rng.randbytes(5)), rng.randbytes(32), rng.randbytes(16), rng.randbytes(32)))
    return cases


def test_our_wrap_matches_and_python_unwraps_it():
    for index, (code, salt, iv, key) in enumerate(wrap_cases(102, 25)):
        ours = wire_bytes("link-code-wrap", "--code", code, "--salt", salt.hex(), "--iv", iv.hex(), "--key", key.hex())
        assert len(ours) == 80
        assert ours == py_wrap(code, salt, iv, key), f"case {index}"
        assert py_unwrap(code, ours) == key


def test_the_reference_pbkdf2_key_is_the_one_our_wrap_uses():
    key = bytes(range(100, 132))
    ours = wire_bytes("link-code-wrap", "--code", "15217216", "--salt", bytes(range(32)).hex(), "--iv", bytes(16).hex(),
                      "--key", key.hex())
    assert ours[48:] == py_ctr(bytes.fromhex(PBKDF2_VECTOR), bytes(16), key)


def test_python_wraps_and_we_unwrap():
    for index, (code, salt, iv, key) in enumerate(wrap_cases(103, 25)):
        wrapped = py_wrap(code, salt, iv, key)
        assert wire_bytes("link-code-unwrap", "--code", code, "--wrapped", wrapped.hex()) == key, f"case {index}"


def test_a_wrong_code_unwraps_to_a_key_the_phone_rejects():
    """No tag in CTR: a wrong code yields other bytes. The phone tells by the prime-order check,
    which rejects ~31/32 of them; here both sides agree on each one."""
    rng = random.Random(104)
    rejected = 0
    for index in range(20):
        _, public = x25519_pair(rng)
        code, other = py_code(rng.randbytes(5)), py_code(rng.randbytes(5))
        wrapped = py_wrap(code, rng.randbytes(32), rng.randbytes(16), public)
        assert wire_bytes("link-code-unwrap", "--code", code, "--wrapped", wrapped.hex()) == public
        garbage = wire_bytes("link-code-unwrap", "--code", other, "--wrapped", wrapped.hex())
        assert garbage == py_unwrap(other, wrapped) and garbage != public, f"case {index}"
        check = wire("prime-order-check", "--public", garbage.hex())
        assert (check.returncode == 0) == py_is_prime_order(garbage), f"case {index}: {garbage.hex()}"
        rejected += check.returncode == 1
    assert rejected >= 15


# --- prime-order subgroup -----------------------------------------------------------------------

LOW_ORDER = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
]


def prime_order(key: bytes) -> bool:
    result = wire("prime-order-check", "--public", key.hex())
    assert result.returncode in (0, 1), result.stderr
    assert result.stdout.strip() == ("prime-order" if result.returncode == 0 else "not-prime-order")
    return result.returncode == 0


def with_order_two_component(key: bytes) -> bytes:
    u = int.from_bytes(key, "little")
    return (pow(u, P - 2, P)).to_bytes(32, "little")


def test_prime_order_check_agrees_with_field_arithmetic():
    rng = random.Random(105)
    keys = [bytes.fromhex(h) for h in LOW_ORDER]
    real = [x25519_pair(rng)[1] for _ in range(60)]
    keys += real
    # Real keys plus the point of order 2, (0, 0) + (u, v) = (1/u, ·): on the curve, but not in
    # the subgroup, so only the [L]P check can refuse them.
    keys += [with_order_two_component(key) for key in real[:20]]
    for _ in range(240):
        raw = bytearray(rng.randbytes(32))
        raw[31] &= 0x7F
        keys.append(bytes(raw))
    accepted = 0
    for index, key in enumerate(keys):
        expected = py_is_prime_order(key)
        assert prime_order(key) == expected, f"case {index}: {key.hex()}"
        accepted += expected
    assert 60 < accepted < 120  # the 60 real keys and ~1/16 of the random strings
    assert not any(py_is_prime_order(with_order_two_component(key)) for key in real)


# --- key bundle and ADV secret (whatsmeow pair-code.go handleCodePairNotification) --------------

def bundle_case(rng: random.Random):
    return [rng.randbytes(n) for n in (32, 32, 32, 32, 32, 12)]  # shared, companion, primary, adv random, salt, nonce


def seal_args(shared, companion, primary, adv_random, salt, nonce):
    return ("key-bundle-seal", "--shared", shared.hex(), "--companion", companion.hex(), "--primary", primary.hex(),
            "--adv-random", adv_random.hex(), "--salt", salt.hex(), "--nonce", nonce.hex())


def test_our_key_bundle_matches_and_python_opens_it():
    rng = random.Random(106)
    for index in range(25):
        shared, companion, primary, adv_random, salt, nonce = bundle_case(rng)
        ours = wire_bytes(*seal_args(shared, companion, primary, adv_random, salt, nonce))
        assert len(ours) == 156
        assert ours == py_seal(shared, companion, primary, adv_random, salt, nonce), f"case {index}"
        assert py_open(shared, ours) == companion + primary + adv_random
        with pytest.raises(InvalidTag):
            py_open(flip_bit(shared, index), ours)


def test_python_seals_and_we_open():
    rng = random.Random(107)
    for index in range(25):
        shared, companion, primary, adv_random, salt, nonce = bundle_case(rng)
        bundle = py_seal(shared, companion, primary, adv_random, salt, nonce)
        opened = json.loads(wire_out("key-bundle-open", "--shared", shared.hex(), "--bundle", bundle.hex()))
        assert opened == {"companion": companion.hex(), "primary": primary.hex(), "adv_random": adv_random.hex()}, f"case {index}"
        # Another shared secret, or any flipped bit of the bundle, does not open: exit 1.
        wrong = wire("key-bundle-open", "--shared", flip_bit(shared, rng.randrange(256)).hex(), "--bundle", bundle.hex())
        assert wrong.returncode == 1 and wrong.stdout == "" and wrong.stderr
        tampered = wire("key-bundle-open", "--shared", shared.hex(), "--bundle", flip_bit(bundle, rng.randrange(156 * 8)).hex())
        assert tampered.returncode == 1 and tampered.stdout == ""


def test_adv_secret_matches():
    assert wire_out("adv-secret", "--eph-shared", bytes(32).hex(), "--id-shared", bytes(32).hex(),
                    "--adv-random", bytes(32).hex()) == ADV_SECRET_VECTOR
    rng = random.Random(108)
    for index in range(25):
        eph, ident, adv_random = rng.randbytes(32), rng.randbytes(32), rng.randbytes(32)
        ours = wire_out("adv-secret", "--eph-shared", eph.hex(), "--id-shared", ident.hex(), "--adv-random", adv_random.hex())
        assert ours == py_adv_secret(eph, ident, adv_random).hex(), f"case {index}"


def test_x25519_matches():
    rng = random.Random(109)
    for index in range(25):
        private, _ = x25519_pair(rng)
        _, peer = x25519_pair(rng)
        expected = private.exchange(X25519PublicKey.from_public_bytes(peer))
        ours = wire_out("x25519", "--private", x25519_private_bytes(private).hex(), "--public", peer.hex())
        assert ours == expected.hex(), f"case {index}"
    low = wire("x25519", "--private", rng.randbytes(32).hex(), "--public", bytes(32).hex())
    assert low.returncode == 1 and low.stderr


def test_a_whole_code_exchange_with_python_as_the_phone():
    """whatsmeow pair-code.go end to end: Python (cryptography X25519) plays the phone, our commands the companion;
    both must hold the same ADV secret, and the phone must open our bundle."""
    rng = random.Random(110)
    for index in range(8):
        code = py_code(rng.randbytes(5))
        companion_eph, companion_eph_pub = x25519_pair(rng)
        companion_id, companion_id_pub = x25519_pair(rng)
        primary_eph, primary_eph_pub = x25519_pair(rng)
        primary_id, primary_id_pub = x25519_pair(rng)

        # Stage 1: our wrap of the companion's key; the phone unwraps it and checks it.
        wrapped_companion = wire_bytes("link-code-wrap", "--code", code, "--salt", rng.randbytes(32).hex(),
                                       "--iv", rng.randbytes(16).hex(), "--key", companion_eph_pub.hex())
        seen_by_phone = py_unwrap(code, wrapped_companion)
        assert seen_by_phone == companion_eph_pub and py_is_prime_order(seen_by_phone)

        # Stage 2: the phone's wrapped key; we unwrap and derive the shared secrets.
        wrapped_primary = py_wrap(code, rng.randbytes(32), rng.randbytes(16), primary_eph_pub)
        seen_by_us = wire_bytes("link-code-unwrap", "--code", code, "--wrapped", wrapped_primary.hex())
        eph_shared = wire_bytes("x25519", "--private", x25519_private_bytes(companion_eph).hex(), "--public", seen_by_us.hex())
        id_shared = wire_bytes("x25519", "--private", x25519_private_bytes(companion_id).hex(), "--public", primary_id_pub.hex())
        adv_random = rng.randbytes(32)
        bundle = wire_bytes(*seal_args(eph_shared, companion_id_pub, primary_id_pub, adv_random, rng.randbytes(32), rng.randbytes(12)))
        our_secret = wire_bytes("adv-secret", "--eph-shared", eph_shared.hex(), "--id-shared", id_shared.hex(),
                                "--adv-random", adv_random.hex())

        # The phone's side, all in Python.
        phone_eph_shared = primary_eph.exchange(X25519PublicKey.from_public_bytes(seen_by_phone))
        plain = py_open(phone_eph_shared, bundle)
        assert plain[32:64] == primary_id_pub, f"case {index}"
        phone_id_shared = primary_id.exchange(X25519PublicKey.from_public_bytes(plain[:32]))
        assert py_adv_secret(phone_eph_shared, phone_id_shared, plain[64:]) == our_secret, f"case {index}"

        # The secret then authenticates pair-success: our HMAC equals the phone's.
        details = rng.randbytes(rng.randrange(60, 200))
        for hosted in (False, True):
            args = ["adv-hmac", "--secret", our_secret.hex(), "--details", details.hex()] + (["--hosted"] if hosted else [])
            assert wire_bytes(*args) == py_adv_hmac(our_secret, details, hosted)


def test_adv_hmac_matches():
    rng = random.Random(111)
    for index in range(30):
        secret, details, hosted = rng.randbytes(32), rng.randbytes(rng.randrange(0, 300)), index % 2 == 1
        args = ["adv-hmac", "--secret", secret.hex(), "--details", details.hex()] + (["--hosted"] if hosted else [])
        assert wire_bytes(*args) == py_adv_hmac(secret, details, hosted), f"case {index}"
    # The prefix is 06 05, not some other byte pair, and it changes the MAC.
    secret, details = rng.randbytes(32), rng.randbytes(50)
    hosted = wire_bytes("adv-hmac", "--secret", secret.hex(), "--details", details.hex(), "--hosted")
    assert hosted == py_adv_hmac(secret, b"\x06\x05" + details, False)
    assert hosted != wire_bytes("adv-hmac", "--secret", secret.hex(), "--details", details.hex())


# --- ADV signatures (whatsmeow pair.go handlePair) against libsignal's curve25519 ---------------

def adv_case(rng: random.Random, hosted: bool):
    account_private = clamp(rng.randbytes(32))
    companion_private = clamp(rng.randbytes(32))
    details = adv_device_identity(rng.randrange(1, 2**32), rng.randrange(1_600_000_000, 1_900_000_000), rng.randrange(0, 50), hosted)
    return account_private, companion_private, details


def test_the_phone_signs_the_account_message_and_we_verify():
    rng = random.Random(112)
    for index in range(30):
        hosted = index % 3 == 2
        account_private, companion_private, details = adv_case(rng, hosted)
        account_public, companion_public = their_public_key(account_private), their_public_key(companion_private)
        message = (b"\x06\x05" if hosted else b"\x06\x00") + details + companion_public
        args = ["adv-message", "--details", details.hex(), "--companion", companion_public.hex()] + (["--hosted"] if hosted else [])
        assert wire_bytes(*args) == message, f"case {index}"
        signature = their_sign(account_private, message, rng.randbytes(64))
        assert our_verify(account_public, message, signature), f"case {index}"
        # The other prefix, another companion key, a flipped signature bit: all refused.
        other_prefix = (b"\x06\x00" if hosted else b"\x06\x05") + message[2:]
        assert not our_verify(account_public, other_prefix, signature)
        assert not our_verify(account_public, message[:-32] + their_public_key(clamp(rng.randbytes(32))), signature)
        assert not our_verify(account_public, message, flip_bit(signature, rng.randrange(0, 511)))


def test_we_countersign_the_device_message_and_libsignal_verifies():
    rng = random.Random(113)
    for index in range(30):
        account_private, companion_private, details = adv_case(rng, index % 2 == 1)
        account_public, companion_public = their_public_key(account_private), their_public_key(companion_private)
        message = b"\x06\x01" + details + companion_public + account_public
        ours = wire_bytes("adv-message", "--details", details.hex(), "--companion", companion_public.hex(),
                          "--account", account_public.hex())
        assert ours == message, f"case {index}"
        signature = our_sign(companion_private, message, rng.randbytes(64))
        assert their_verify(companion_public, message, signature), f"case {index}"
        assert not their_verify(account_public, message, signature)
        assert not their_verify(companion_public, b"\x06\x00" + message[2:], signature)


def test_the_hmac_container_covers_the_signed_identity_bytes():
    """A whole ADVSignedDeviceIdentity as the phone would send it (protobuf by hand), signed with
    libsignal, MACed by both sides with the same result."""
    rng = random.Random(114)
    for index in range(10):
        hosted = index % 2 == 1
        account_private, companion_private, details = adv_case(rng, hosted)
        account_public, companion_public = their_public_key(account_private), their_public_key(companion_private)
        prefix = b"\x06\x05" if hosted else b"\x06\x00"
        signature = their_sign(account_private, prefix + details + companion_public, rng.randbytes(64))
        signed = length_delimited(1, details) + length_delimited(2, account_public) + length_delimited(3, signature)
        secret = rng.randbytes(32)
        args = ["adv-hmac", "--secret", secret.hex(), "--details", signed.hex()] + (["--hosted"] if hosted else [])
        assert wire_bytes(*args) == py_adv_hmac(secret, signed, hosted), f"case {index}"
        assert our_verify(account_public, prefix + details + companion_public, signature)


# --- Errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["link-code-encode", "--bytes", "01020304"],                       # 4 bytes
    ["link-code-encode", "--bytes", "zz02030405"],                     # not hex
    ["link-code-encode"],                                              # missing
    ["link-code-wrap", "--code", "15217216", "--salt", "00" * 31, "--iv", "00" * 16, "--key", "00" * 32],
    ["link-code-wrap", "--code", "15217216", "--salt", "00" * 32, "--iv", "00" * 16],
    ["link-code-unwrap", "--code", "15217216", "--wrapped", "00" * 79],
    ["key-bundle-seal", "--shared", "00" * 32, "--companion", "00" * 32, "--primary", "00" * 32,
     "--adv-random", "00" * 32, "--salt", "00" * 32, "--nonce", "00" * 16],
    ["key-bundle-open", "--shared", "00" * 32, "--bundle", "00" * 155],
    ["adv-message", "--details", "00", "--companion", "00" * 32, "--account", "00" * 32, "--hosted"],
    ["x25519", "--private", "00" * 32, "--public", "00" * 33],
    ["prime-order-check", "--public", "xyz"],
    ["adv-hmac", "--secret", "00", "--details", "00", "--unknown"],
])
def test_bad_input_exits_2_with_a_message(args):
    result = wire(*args)
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr.startswith(f"wause-wire {args[0]}:")


def test_every_command_has_help():
    for name in ["link-code-encode", "link-code-wrap", "link-code-unwrap", "key-bundle-seal", "key-bundle-open",
                 "adv-secret", "adv-hmac", "adv-message", "x25519", "prime-order-check"]:
        result = wire(name, "--help")
        assert result.returncode == 0 and result.stdout.startswith(f"usage: wause-wire {name}")
        assert name in wire("--help").stdout
