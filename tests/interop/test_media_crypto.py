"""wause's media encryption (WauseProtocol MediaEncryptor/MediaDecryptor, driven through
`wause-wire media-encrypt`/`media-decrypt`) against a few lines of Python `cryptography` that
follow the reference clients' formulas: HKDF-SHA256(mediaKey, no salt, "WhatsApp <Type> Keys", 112)
→ iv, cipherKey, macKey; body = AES-256-CBC(PKCS#7(plaintext)) ‖ HMAC-SHA256(macKey, iv ‖
ciphertext)[0:10]; fileSha256 = SHA-256(plaintext), fileEncSha256 = SHA-256(body)
(whatsmeow download.go getMediaKeys, upload.go Upload, util/cbcutil; Baileys messages-media.ts
getMediaKeys, encryptedStream).

    swift build --product wause-wire
    WAUSE_WIRE=.build/debug/wause-wire .venv-interop/bin/python -m pytest -q tests/interop/test_media_crypto.py
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

WAUSE_WIRE = os.environ.get(
    "WAUSE_WIRE", os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "debug", "wause-wire"))
)

# wause's --type names → the HKDF info of the reference clients.
INFO = {
    "image": b"WhatsApp Image Keys",
    "sticker": b"WhatsApp Image Keys",
    "video": b"WhatsApp Video Keys",
    "ptt": b"WhatsApp Audio Keys",
    "document": b"WhatsApp Document Keys",
    "history": b"WhatsApp History Keys",
    "app_state": b"WhatsApp App State Keys",
    "link_thumbnail": b"WhatsApp Link Thumbnail Keys",
}
# Sizes around the block boundaries and across wause-wire's 64 KB reads.
SIZES = [0, 1, 15, 16, 17, 65536, 65536 * 3 + 5]


@pytest.fixture(scope="session", autouse=True)
def wire_present():
    if not os.access(WAUSE_WIRE, os.X_OK):
        pytest.fail(f"{WAUSE_WIRE} is missing: run `swift build --product wause-wire` or set WAUSE_WIRE")


def media_keys(media_key: bytes, media_type: str):
    expanded = HKDF(algorithm=hashes.SHA256(), length=112, salt=None, info=INFO[media_type]).derive(media_key)
    return expanded[:16], expanded[16:48], expanded[48:80]


def their_encrypt(plaintext: bytes, media_key: bytes, media_type: str) -> bytes:
    iv, cipher_key, mac_key = media_keys(media_key, media_type)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(cipher_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize()
    return ciphertext + hmac.new(mac_key, iv + ciphertext, hashlib.sha256).digest()[:10]


def their_decrypt(body: bytes, media_key: bytes, media_type: str, enc_sha256: bytes, sha256: bytes) -> bytes:
    """whatsmeow download.go downloadAndDecrypt's checks, in its order."""
    iv, cipher_key, mac_key = media_keys(media_key, media_type)
    assert hashlib.sha256(body).digest() == enc_sha256, "fileEncSha256"
    ciphertext, mac = body[:-10], body[-10:]
    assert hmac.compare_digest(hmac.new(mac_key, iv + ciphertext, hashlib.sha256).digest()[:10], mac), "MAC"
    decryptor = Cipher(algorithms.AES(cipher_key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plaintext = unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()
    assert hashlib.sha256(plaintext).digest() == sha256, "fileSha256"
    return plaintext


def wire(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([WAUSE_WIRE, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("media_type", sorted(INFO))
@pytest.mark.parametrize("size", SIZES)
def test_wause_encrypts_what_cryptography_decrypts(tmp_path, media_type, size):
    plaintext, media_key = os.urandom(size), os.urandom(32)
    (tmp_path / "plain").write_bytes(plaintext)
    result = wire("media-encrypt", "--type", media_type, "--media-key", media_key.hex(),
                  "--in", str(tmp_path / "plain"), "--out", str(tmp_path / "body"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    body = (tmp_path / "body").read_bytes()

    # Byte for byte what the reference formula gives (CBC with a fixed IV is deterministic).
    assert body == their_encrypt(plaintext, media_key, media_type)
    assert their_decrypt(body, media_key, media_type, bytes.fromhex(summary["file_enc_sha256"]),
                         bytes.fromhex(summary["file_sha256"])) == plaintext
    assert summary["file_length"] == size
    assert summary["mac"] == body[-10:].hex()
    # whatsmeow's upload token: base64url of fileEncSha256 with padding.
    assert summary["upload_token"] == base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()


@pytest.mark.parametrize("media_type", ["image", "video", "ptt", "document"])
@pytest.mark.parametrize("size", SIZES)
def test_wause_verifies_and_decrypts_what_cryptography_encrypted(tmp_path, media_type, size):
    plaintext, media_key = os.urandom(size), os.urandom(32)
    body = their_encrypt(plaintext, media_key, media_type)
    (tmp_path / "body").write_bytes(body)
    result = wire("media-decrypt", "--type", media_type, "--media-key", media_key.hex(),
                  "--enc-sha256", hashlib.sha256(body).hexdigest(), "--sha256", hashlib.sha256(plaintext).hexdigest(),
                  "--in", str(tmp_path / "body"), "--out", str(tmp_path / "plain"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "plain").read_bytes() == plaintext
    assert json.loads(result.stdout) == {"file_sha256": hashlib.sha256(plaintext).hexdigest(), "file_length": size}


def tampered(body: bytes, index: int) -> bytes:
    return body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1:]


@pytest.mark.parametrize("case", ["enc_sha256", "ciphertext", "mac", "padding", "plaintext_hash", "length", "key_type"])
def test_wause_refuses_each_kind_of_bad_download_and_leaves_no_file(tmp_path, case):
    plaintext, media_key, media_type = os.urandom(70_000), os.urandom(32), "document"
    body = their_encrypt(plaintext, media_key, media_type)
    sha256 = hashlib.sha256(plaintext).digest()
    enc_sha256 = None  # the hash of the body as tampered, unless the case says otherwise
    decrypt_type = media_type
    if case == "enc_sha256":
        enc_sha256, body = hashlib.sha256(body).digest(), tampered(body, 100)
        expected = "enc_sha256_mismatch"
    elif case == "ciphertext":
        body, expected = tampered(body, 100), "mac_mismatch"
    elif case == "mac":
        body, expected = tampered(body, len(body) - 1), "mac_mismatch"
    elif case == "padding":
        # A correctly MACed body whose last block is not PKCS#7: enciphered here without padding.
        iv, cipher_key, mac_key = media_keys(media_key, media_type)
        raw = plaintext[:64 * 1024] + b"\x00" * 16
        encryptor = Cipher(algorithms.AES(cipher_key), modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(raw) + encryptor.finalize()
        body = ciphertext + hmac.new(mac_key, iv + ciphertext, hashlib.sha256).digest()[:10]
        expected = "invalid_padding"
    elif case == "plaintext_hash":
        sha256, expected = hashlib.sha256(b"another file").digest(), "sha256_mismatch"
    elif case == "length":
        body, expected = body[:-1], "invalid_length"
    else:
        decrypt_type, expected = "image", "mac_mismatch"
    (tmp_path / "body").write_bytes(body)
    out = tmp_path / "plain"
    result = wire("media-decrypt", "--type", decrypt_type, "--media-key", media_key.hex(),
                  "--enc-sha256", (enc_sha256 or hashlib.sha256(body).digest()).hex(), "--sha256", sha256.hex(),
                  "--in", str(tmp_path / "body"), "--out", str(out))
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f": {expected}:" in result.stderr
    # Neither the final file nor the partial one is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["body"]


def test_bad_arguments_exit_2(tmp_path):
    (tmp_path / "plain").write_bytes(b"x")
    common = ["--in", str(tmp_path / "plain"), "--out", str(tmp_path / "body")]
    assert wire("media-encrypt", "--type", "image", "--media-key", "00" * 31, *common).returncode == 2
    assert wire("media-encrypt", "--type", "picture", "--media-key", "00" * 32, *common).returncode == 2
    assert wire("media-decrypt", "--type", "image", "--media-key", "00" * 32, "--enc-sha256", "zz", *common).returncode == 2
    assert wire("media-encrypt", "--type", "image", "--media-key", "00" * 32, "--in", str(tmp_path / "missing"),
                "--out", str(tmp_path / "body")).returncode == 2
