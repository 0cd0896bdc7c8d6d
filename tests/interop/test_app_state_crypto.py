"""App-state (syncd) crypto (WauseProtocol/AppStateKeys.swift, LTHash.swift, AppStateMAC.swift,
AppStateMutation.swift) against an independent computation with Python's `cryptography`, following
whatsmeow appstate/keys.go expandAppStateKeys, appstate/hash.go generateContentMAC,
generateSnapshotMAC, generatePatchMAC and appstate/lthash/lthash.go:

- keys = HKDF-SHA256(keyData, no salt, "WhatsApp Mutation Keys", 160) split in five 32-byte keys;
- value = IV ‖ AES-256-CBC(PKCS#7) of SyncActionData; valueMAC = HMAC-SHA512(valueMacKey,
  [op+1] ‖ keyID ‖ value ‖ uint64BE(len(keyID)+1))[:32]; indexMAC = HMAC-SHA256(indexKey, index JSON);
- LTHash: 64 little-endian uint16 words, += / -= HKDF(valueMAC, "WhatsApp Patch Integrity", 128);
- snapshotMAC = HMAC-SHA256(snapshotMacKey, ltHash ‖ uint64BE(version) ‖ name);
  patchMAC = HMAC-SHA256(patchMacKey, snapshotMAC ‖ valueMACs ‖ uint64BE(version) ‖ name).

fixtures/app_state_vector.json holds what this computes; the Swift tests
(Tests/WauseProtocolTests/AppStateTests.swift) seal, hash and MAC the same vector.
"""
import hashlib
import hmac
import json
import pathlib
import struct

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VECTOR = json.loads((pathlib.Path(__file__).parent / "fixtures" / "app_state_vector.json").read_text())


def hkdf(ikm, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(ikm)


def expand(key_data):
    out = hkdf(key_data, b"WhatsApp Mutation Keys", 160)
    return {name: out[i * 32:(i + 1) * 32]
            for i, name in enumerate(["index", "value_encryption", "value_mac", "snapshot_mac", "patch_mac"])}


def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def field(number, wire_type, payload):
    key = varint(number << 3 | wire_type)
    return key + (varint(len(payload)) + payload if wire_type == 2 else payload)


def sync_action_data(index_json, timestamp_ms, version):
    # SyncActionData{index=1, value=2 SyncActionValue{timestamp=1, muteAction=4{muted=1, muteEndTimestamp=2}}, padding=3, version=4}
    mute = field(1, 0, varint(1)) + field(2, 0, varint(-1))
    value = field(1, 0, varint(timestamp_ms)) + field(4, 2, mute)
    return field(1, 2, index_json) + field(2, 2, value) + field(3, 2, b"") + field(4, 0, varint(version))


def aes_cbc(key, iv, plaintext):
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def value_mac(op, key_id, encrypted, key):
    message = bytes([op + 1]) + key_id + encrypted + struct.pack(">Q", len(key_id) + 1)
    return hmac.new(key, message, hashlib.sha512).digest()[:32]


def lthash(state, item, subtract=False):
    expanded = hkdf(item, b"WhatsApp Patch Integrity", 128)
    words = []
    for i in range(0, 128, 2):
        a = int.from_bytes(state[i:i + 2], "little")
        b = int.from_bytes(expanded[i:i + 2], "little")
        words.append(((a - b) if subtract else (a + b)) & 0xFFFF)
    return b"".join(w.to_bytes(2, "little") for w in words)


def test_key_expansion():
    keys = expand(bytes.fromhex(VECTOR["key_data"]))
    for name, hex_value in VECTOR["expanded"].items():
        assert keys[name].hex() == hex_value, name


def test_mutation_value_and_index_macs():
    keys = expand(bytes.fromhex(VECTOR["key_data"]))
    index_json = json.dumps(VECTOR["index"], separators=(",", ":")).encode()
    assert index_json == b'["mute","123@s.whatsapp.net"]'
    assert hmac.new(keys["index"], index_json, hashlib.sha256).hexdigest() == VECTOR["index_mac"]
    plaintext = sync_action_data(index_json, VECTOR["timestamp_ms"], 2)
    assert plaintext.hex() == VECTOR["sync_action_data"]
    iv = bytes.fromhex(VECTOR["iv"])
    encrypted = iv + aes_cbc(keys["value_encryption"], iv, plaintext)
    assert encrypted.hex() == VECTOR["encrypted"]
    key_id = bytes.fromhex(VECTOR["key_id"])
    assert value_mac(0, key_id, encrypted, keys["value_mac"]).hex() == VECTOR["value_mac"]
    assert value_mac(1, key_id, encrypted, keys["value_mac"]).hex() != VECTOR["value_mac"]


def test_lthash_and_patch_macs():
    keys = expand(bytes.fromhex(VECTOR["key_data"]))
    mac = bytes.fromhex(VECTOR["value_mac"])
    state = lthash(bytes(128), mac)
    assert state.hex() == VECTOR["lt_hash"]
    assert lthash(state, mac, subtract=True) == bytes(128)
    name = VECTOR["collection"].encode()
    version = struct.pack(">Q", VECTOR["version"])
    snapshot_mac = hmac.new(keys["snapshot_mac"], state + version + name, hashlib.sha256).digest()
    assert snapshot_mac.hex() == VECTOR["snapshot_mac"]
    patch_mac = hmac.new(keys["patch_mac"], snapshot_mac + mac + version + name, hashlib.sha256).digest()
    assert patch_mac.hex() == VECTOR["patch_mac"]
