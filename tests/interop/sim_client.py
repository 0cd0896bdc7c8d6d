"""An independent WhatsApp companion client, for talking to wause-sim (test_sim_independent_client.py).

Nothing here comes from wause, and nothing is generated from our .proto files:
  - WebSocket: the `websockets` library (pinned in tests/requirements-interop.txt), with
    `Origin: https://web.whatsapp.com` (whatsmeow socket/constants.go URL, Origin);
  - framing: `57 41 06 03` once, then 3-byte big-endian lengths (whatsmeow socket/constants.go WAConnHeader,
    socket/framesocket.go SendFrame), reassembled here;
  - Noise XX: dissononce 0.34.3 with WhatsApp's quirk, exactly as noise_whatsapp.py patches it;
  - protobuf: hand-encoded and hand-decoded on the wire format, field numbers from
    proto/WAWebProtobufsWa6.proto, proto/WACert.proto, proto/WACompanionReg.proto (whatsmeow proto/waWa6, handshake.go,
    store/clientpayload.go);
  - certificate chain: the checks of whatsmeow handshake.go verifyServerCert with python-axolotl-curve25519;
  - transport: AES-256-GCM with `cryptography`, IV = 8 zero bytes ‖ 4-byte big-endian counter,
    one counter per direction, empty AD (whatsmeow socket/noisesocket.go generateIV);
  - binary XML: baileys-python's `baileys/wabinary.py` (loaded as binary_baileys.py does), with
    the server JID written by hand as the JID pair `FA 00 03` (docs/interop-oracles.md caveat).
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import sys
import time
import zlib
from dataclasses import dataclass

import axolotl_curve25519 as curve
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from websockets.sync.client import connect

import noise_whatsapp as nw
from binary_baileys import load_wabinary

# tests/sim/sim_process.py starts and stops the simulator (stdlib only, shared with tests/sim).
_SIM_DIR = pathlib.Path(__file__).resolve().parent.parent / "sim"
if str(_SIM_DIR) not in sys.path:
    sys.path.insert(0, str(_SIM_DIR))
from sim_process import DEADLINE, SIM_BINARY, SimProcess  # noqa: E402,F401

ORIGIN = "https://web.whatsapp.com"
HEADER = bytes([0x57, 0x41, 0x06, 0x03])  # 'W' 'A' 6 DictVersion=3 (whatsmeow socket/constants.go WAConnHeader)
WEB_VERSION = (2, 3000, 1045649367)
SERVER_JID_PAIR = bytes([0xFA, 0x00, 0x03])  # JID_PAIR, empty user, token 3 = s.whatsapp.net (whatsmeow binary/encoder.go writeJID)


# --------------------------------------------------------------------------------------------
# Protobuf wire format, by hand


def varint(value: int) -> bytes:
    assert value >= 0
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pb_varint(number: int, value: int) -> bytes:
    return varint(number << 3 | 0) + varint(value)


def pb_bytes(number: int, value: bytes | str) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    return varint(number << 3 | 2) + varint(len(value)) + value


def pb_decode(data: bytes) -> dict[int, list]:
    """Field number → values (ints for varints, bytes for length-delimited). Rejects what a
    proto2 message of ours cannot contain (groups, truncation)."""
    fields: dict[int, list] = {}
    index = 0

    def read_varint() -> int:
        nonlocal index
        shift = result = 0
        while True:
            assert index < len(data), "truncated varint"
            byte = data[index]
            index += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            assert shift < 70, "varint too long"

    while index < len(data):
        key = read_varint()
        number, wire_type = key >> 3, key & 7
        assert number > 0, "field number 0"
        if wire_type == 0:
            value = read_varint()
        elif wire_type == 2:
            length = read_varint()
            assert index + length <= len(data), "truncated bytes field"
            value = bytes(data[index:index + length])
            index += length
        elif wire_type == 1:
            value = bytes(data[index:index + 8])
            index += 8
        elif wire_type == 5:
            value = bytes(data[index:index + 4])
            index += 4
        else:
            raise AssertionError(f"unexpected wire type {wire_type} for field {number}")
        fields.setdefault(number, []).append(value)
    assert index == len(data)
    return fields


def pb_one(fields: dict[int, list], number: int, default=None):
    values = fields.get(number)
    if not values:
        return default
    return values[-1]  # proto2: the last occurrence of a singular field wins


# --------------------------------------------------------------------------------------------
# Handshake messages (WAWebProtobufsWa6.HandshakeMessage, whatsmeow proto/waWa6/WAWebProtobufsWa6.proto HandshakeMessage)


def client_hello(ephemeral: bytes) -> bytes:
    return pb_bytes(2, pb_bytes(1, ephemeral))  # clientHello = 2 { ephemeral = 1 }


def client_finish(static: bytes, payload: bytes) -> bytes:
    return pb_bytes(4, pb_bytes(1, static) + pb_bytes(2, payload))  # clientFinish = 4 { static = 1, payload = 2 }


def parse_server_hello(handshake: bytes) -> tuple[bytes, bytes, bytes]:
    message = pb_decode(handshake)
    assert set(message) == {3}, f"expected only serverHello (3), got fields {sorted(message)}"
    hello = pb_decode(pb_one(message, 3))
    ephemeral, static, payload = (pb_one(hello, n) for n in (1, 2, 3))
    assert ephemeral is not None and len(ephemeral) == 32, "serverHello.ephemeral must be 32 bytes"
    assert static is not None and len(static) == 48, "serverHello.static must be 32 bytes + 16 tag"
    assert payload is not None, "serverHello.payload (the certificate chain) is missing"
    return ephemeral, static, payload


# --------------------------------------------------------------------------------------------
# Certificate chain (WACert.CertChain, whatsmeow handshake.go verifyServerCert)


@dataclass
class CertDetails:
    serial: int
    issuer_serial: int
    key: bytes
    not_before: int
    not_after: int

    @classmethod
    def parse(cls, data: bytes) -> "CertDetails":
        f = pb_decode(data)
        return cls(serial=pb_one(f, 1, 0), issuer_serial=pb_one(f, 2, 0), key=pb_one(f, 3, b""),
                   not_before=pb_one(f, 4, 0), not_after=pb_one(f, 5, 0))


def parse_cert_chain(data: bytes) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
    """((leaf details, leaf signature), (intermediate details, intermediate signature))."""
    chain = pb_decode(data)
    certificates = []
    for number in (1, 2):  # leaf = 1, intermediate = 2
        raw = pb_one(chain, number)
        assert raw is not None, f"CertChain field {number} missing"
        cert = pb_decode(raw)
        details, signature = pb_one(cert, 1), pb_one(cert, 2)  # details = 1, signature = 2
        assert details is not None and signature is not None, f"certificate {number}: details/signature missing"
        certificates.append((details, signature))
    return certificates[0], certificates[1]


def verify_signature(public: bytes, message: bytes, signature: bytes) -> bool:
    return curve.verifySignature(public, message, signature) == 0


def verify_cert_chain(data: bytes, root_public: bytes, server_static: bytes, now: int) -> tuple[CertDetails, CertDetails]:
    """whatsmeow handshake.go verifyServerCert, step by step; raises AssertionError naming the step."""
    (leaf_details, leaf_signature), (intermediate_details, intermediate_signature) = parse_cert_chain(data)
    assert len(intermediate_signature) == 64 and len(leaf_signature) == 64, "1: signatures must be 64 bytes"
    assert verify_signature(root_public, intermediate_details, intermediate_signature), \
        "2: intermediate not signed by the root"
    intermediate = CertDetails.parse(intermediate_details)
    assert intermediate.issuer_serial == 0, f"3: intermediate issuerSerial {intermediate.issuer_serial} != 0"
    assert len(intermediate.key) == 32, "3: intermediate key must be 32 bytes"
    assert verify_signature(intermediate.key, leaf_details, leaf_signature), "4: leaf not signed by the intermediate"
    assert intermediate.not_before <= now <= intermediate.not_after, f"5: intermediate not valid now: {intermediate}"
    leaf = CertDetails.parse(leaf_details)
    assert leaf.issuer_serial == intermediate.serial, \
        f"6: leaf issuerSerial {leaf.issuer_serial} != intermediate serial {intermediate.serial}"
    assert leaf.key == server_static, "7: leaf key is not the server's static Noise key"
    assert leaf.not_before <= now <= leaf.not_after, f"8: leaf not valid now: {leaf}"
    return intermediate, leaf


# --------------------------------------------------------------------------------------------
# ClientPayload (whatsmeow store/clientpayload.go: BaseClientPayload + getRegistrationPayload / getLoginPayload)


def _user_agent() -> bytes:
    app_version = pb_varint(1, WEB_VERSION[0]) + pb_varint(2, WEB_VERSION[1]) + pb_varint(3, WEB_VERSION[2])
    return (pb_varint(1, 14)  # platform = WEB
            + pb_bytes(2, app_version)
            + pb_bytes(3, "000") + pb_bytes(4, "000")  # mcc, mnc
            + pb_bytes(5, "0.1")  # osVersion
            + pb_bytes(7, "Desktop")  # device
            + pb_bytes(8, "0.1")  # osBuildNumber
            + pb_varint(10, 0)  # releaseChannel = RELEASE
            + pb_bytes(11, "en") + pb_bytes(12, "US"))


def _base_payload() -> bytes:
    return (pb_bytes(5, _user_agent())
            + pb_bytes(6, pb_varint(4, 0))  # webInfo { webSubPlatform = WEB_BROWSER }
            + pb_varint(12, 1)  # connectType = WIFI_UNKNOWN
            + pb_varint(13, 1))  # connectReason = USER_ACTIVATED


@dataclass
class CompanionKeys:
    noise_private: bytes
    identity_private: bytes
    signed_prekey_private: bytes
    registration_id: int

    @classmethod
    def generate(cls) -> "CompanionKeys":
        return cls(nw.clamp(os.urandom(32)), nw.clamp(os.urandom(32)), nw.clamp(os.urandom(32)),
                   int.from_bytes(os.urandom(4), "big"))

    @property
    def noise_public(self) -> bytes:
        return nw.public_key(self.noise_private)

    @property
    def identity_public(self) -> bytes:
        return nw.public_key(self.identity_private)


def registration_payload(keys: CompanionKeys) -> bytes:
    """A new device's ClientPayload: base fields + devicePairingData (whatsmeow store/clientpayload.go getRegistrationPayload)."""
    signed_prekey_public = nw.public_key(keys.signed_prekey_private)
    signature = nw.sign(keys.identity_private, b"\x05" + signed_prekey_public, os.urandom(64))
    assert nw.verify(keys.identity_public, b"\x05" + signed_prekey_public, signature)
    device_props = (pb_bytes(1, "wause-interop")  # os
                    + pb_bytes(2, pb_varint(1, 0) + pb_varint(2, 1) + pb_varint(3, 0))  # version 0.1.0
                    + pb_varint(3, 1)  # platformType = CHROME
                    + pb_varint(4, 0))  # requireFullSync = false
    pairing = (pb_bytes(1, keys.registration_id.to_bytes(4, "big"))  # eRegid
               + pb_bytes(2, b"\x05")  # eKeytype = DjbType
               + pb_bytes(3, keys.identity_public)  # eIdent
               + pb_bytes(4, (1).to_bytes(3, "big"))  # eSkeyID: signed prekey 1, 3 bytes
               + pb_bytes(5, signed_prekey_public)  # eSkeyVal
               + pb_bytes(6, signature)  # eSkeySig
               + pb_bytes(7, hashlib.md5(".".join(map(str, WEB_VERSION)).encode()).digest())  # buildHash
               + pb_bytes(8, device_props))
    return (_base_payload()
            + pb_varint(3, 0)  # passive = false, explicitly
            + pb_bytes(19, pairing)  # devicePairingData
            + pb_varint(33, 0))  # pull = false, explicitly


def login_payload(phone: int, device: int) -> bytes:
    """A returning device's ClientPayload (whatsmeow store/clientpayload.go getLoginPayload)."""
    return (pb_varint(1, phone) + _base_payload() + pb_varint(3, 1) + pb_varint(18, device)
            + pb_varint(33, 1) + pb_varint(41, 1))


# --------------------------------------------------------------------------------------------
# Binary XML through baileys-python


def wabinary():
    return load_wabinary()


def decode_node(plaintext: bytes):
    """Frame plaintext (flag byte + node) → BinaryNode; the whole buffer must be one node (whatsmeow binary/unpack.go Unpack)."""
    module = wabinary()
    flag, body = plaintext[0], plaintext[1:]
    if flag & 0x02:
        body = zlib.decompress(body)
    decoder = module._Decoder(body)
    node = decoder.read_node()
    assert decoder.index == len(body), f"{len(body) - decoder.index} bytes after the node"
    return node


def token(text: str) -> int:
    index = wabinary().load_tokens().single_byte_tokens.index(text)
    assert index > 0
    return index


def encode_node(node, server_jid_attributes: tuple[str, ...] = ()) -> bytes:
    """BinaryNode → frame plaintext (flag 0x00 + node). Attributes named in
    `server_jid_attributes` must hold "s.whatsapp.net"; baileys-python writes that as the bare
    token 03, which is rewritten here to the JID pair FA 00 03 that a jid-typed attribute is."""
    module = wabinary()
    encoded = module.encode_binary_node(node)
    # The attributes come right after the list header and the tag, before any content; a node
    # without content has the same bytes there (its list size byte aside), so the pair is
    # located in that shell: random content (keys, ciphertext) may hold the same two bytes.
    shell = module.encode_binary_node(module.BinaryNode(node.tag, dict(node.attrs), None))
    for name in server_jid_attributes:
        assert node.attrs.get(name) == "s.whatsapp.net", node
        bare = bytes([token(name), 0x03])
        assert shell.count(bare) == 1, f"cannot locate {name}=s.whatsapp.net in {shell.hex()}"
        at = shell.index(bare)
        assert encoded[at:at + 2] == bare and encoded[:2] == shell[:2], f"{name}: the node's header differs from its shell's"
        encoded = encoded[:at + 1] + SERVER_JID_PAIR + encoded[at + 2:]
        shell = shell[:at + 1] + SERVER_JID_PAIR + shell[at + 2:]
    return encoded


def attribute_value_bytes(plaintext: bytes, name: str, value: bytes) -> bool:
    """Whether the raw node carries attribute `name` (a single-byte token) with exactly the
    encoded `value`."""
    return bytes([token(name)]) + value in plaintext


# --------------------------------------------------------------------------------------------
# The connection


class TransportCipher:
    """AES-256-GCM with one counter per direction (whatsmeow socket/noisehandshake.go Finish; socket/noisesocket.go generateIV)."""

    def __init__(self, key: bytes):
        assert len(key) == 32
        self.aead = AESGCM(key)
        self.counter = 0

    def _iv(self) -> bytes:
        iv = bytes(8) + self.counter.to_bytes(4, "big")
        self.counter += 1
        return iv

    def encrypt(self, plaintext: bytes) -> bytes:
        return self.aead.encrypt(self._iv(), plaintext, b"")

    def decrypt(self, ciphertext: bytes) -> bytes:
        return self.aead.decrypt(self._iv(), ciphertext, b"")


class FrameSocket:
    """A WebSocket carrying 3-byte-length frames; the WA header goes before the first frame."""

    def __init__(self, url: str, origin: str = ORIGIN):
        self._context = connect(url, origin=origin, open_timeout=DEADLINE, close_timeout=DEADLINE,
                                ping_interval=None, max_size=1 << 24)
        self.ws = self._context.__enter__()
        self.header_sent = False
        self.buffer = b""

    def close(self) -> None:
        self._context.__exit__(None, None, None)

    def __enter__(self) -> "FrameSocket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send_raw(self, data: bytes) -> None:
        self.ws.send(data)

    def send_frame(self, payload: bytes) -> None:
        assert len(payload) < 1 << 24
        data = len(payload).to_bytes(3, "big") + payload
        if not self.header_sent:
            data = HEADER + data
            self.header_sent = True
        self.ws.send(data)

    def recv_frame(self, timeout: float = DEADLINE) -> bytes:
        """The next whole frame (reassembled across WebSocket messages)."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buffer) >= 3:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) >= 3 + length:
                    frame, self.buffer = self.buffer[3:3 + length], self.buffer[3 + length:]
                    return frame
            message = self.ws.recv(timeout=max(0.0, deadline - time.monotonic()))
            assert isinstance(message, bytes), f"a text WebSocket message: {message!r}"
            self.buffer += message


class Companion:
    """One companion connection through the handshake: `cert_chain`, `server_static` and the
    transport ciphers are available afterwards."""

    def __init__(self, url: str, root_public: bytes, payload: bytes, keys: CompanionKeys | None = None):
        self.keys = keys or CompanionKeys.generate()
        self.socket = FrameSocket(url)
        try:
            self._handshake(root_public, payload)
        except BaseException:
            self.socket.close()
            raise

    def _handshake(self, root_public: bytes, payload: bytes) -> None:
        noise = nw.DissononceParty(True, self.keys.noise_private, nw.clamp(os.urandom(32)))
        hello = noise.write()
        assert len(hello) == 32
        self.socket.send_frame(client_hello(hello))
        ephemeral, static, encrypted_chain = parse_server_hello(self.socket.recv_frame())
        self.cert_chain = noise.read(ephemeral + static + encrypted_chain)
        self.server_static = bytes(noise.remote_static)
        self.intermediate, self.leaf = verify_cert_chain(self.cert_chain, root_public, self.server_static, int(time.time()))
        finish = noise.write(payload)
        self.socket.send_frame(client_finish(finish[:48], finish[48:]))
        client_to_server, server_to_client = noise.keys  # split: first key is the initiator's (whatsmeow socket/noisehandshake.go Finish)
        self.writer, self.reader = TransportCipher(client_to_server), TransportCipher(server_to_client)

    def send_plaintext(self, plaintext: bytes) -> None:
        self.socket.send_frame(self.writer.encrypt(plaintext))

    def send(self, node, server_jid_attributes: tuple[str, ...] = ()) -> bytes:
        plaintext = encode_node(node, server_jid_attributes)
        self.send_plaintext(plaintext)
        return plaintext

    def receive_plaintext(self, timeout: float = DEADLINE) -> bytes:
        return self.reader.decrypt(self.socket.recv_frame(timeout))

    def receive(self, timeout: float = DEADLINE):
        """(node, plaintext) of the next stanza."""
        plaintext = self.receive_plaintext(timeout)
        return decode_node(plaintext), plaintext

    def close(self) -> None:
        self.socket.close()

    def __enter__(self) -> "Companion":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# Linking as a companion (pair-success: whatsmeow pair.go handlePair; pairing code: pair-code.go;
# prekeys: prekeys.go), from those sources alone: ADV protobufs by hand (field numbers from proto/WAAdv.proto), HMAC from `hmac`,
# signatures with python-axolotl-curve25519, and the pairing-code crypto with `cryptography`.

import base64 as _base64
import hmac as _hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

QR_PREFIX = "https://wa.me/settings/linked_devices#"
ADV_ACCOUNT_PREFIX = b"\x06\x00"
ADV_DEVICE_PREFIX = b"\x06\x01"
ADV_HOSTED_PREFIX = b"\x06\x05"
HOSTED = 1  # ADVEncryptionType.HOSTED


def qr_string(ref: str, keys: CompanionKeys, adv_secret: bytes, client_type: str = "1") -> str:
    """whatsmeow pair.go makeQRData: standard padded base64, fields joined by commas."""
    b64 = lambda data: _base64.b64encode(data).decode()  # noqa: E731
    return f"{QR_PREFIX}{ref},{b64(keys.noise_public)},{b64(keys.identity_public)},{b64(adv_secret)},{client_type}"


@dataclass
class PairSuccess:
    """`<iq type=set id t><pair-success>…` taken apart down to ADVDeviceIdentity (whatsmeow pair.go handlePair)."""
    id: str
    t: str | None
    jid: str | None
    lid: str | None
    platform: str | None
    container_details: bytes  # ADVSignedDeviceIdentity bytes
    hmac: bytes
    container_account_type: int
    details: bytes  # ADVDeviceIdentity bytes
    account_signature_key: bytes
    account_signature: bytes
    raw_id: int
    timestamp: int
    key_index: int
    account_type: int
    device_type: int


def parse_pair_success(stanza) -> PairSuccess:
    assert stanza.tag == "iq" and stanza.attrs.get("type") == "set", stanza
    children = {child.tag: child for child in stanza.content}
    assert list(children) == ["pair-success"], stanza
    success = {child.tag: child for child in children["pair-success"].content}
    container = pb_decode(success["device-identity"].content)
    signed_bytes = pb_one(container, 1, b"")
    signed = pb_decode(signed_bytes)
    details = pb_one(signed, 1, b"")
    identity = pb_decode(details)
    device = success.get("device")
    return PairSuccess(
        id=stanza.attrs["id"], t=stanza.attrs.get("t"),
        jid=device.attrs.get("jid") if device else None, lid=device.attrs.get("lid") if device else None,
        platform=success["platform"].attrs.get("name") if "platform" in success else None,
        container_details=signed_bytes, hmac=pb_one(container, 2, b""), container_account_type=pb_one(container, 3, 0),
        details=details, account_signature_key=pb_one(signed, 2, b""), account_signature=pb_one(signed, 3, b""),
        raw_id=pb_one(identity, 1, 0), timestamp=pb_one(identity, 2, 0), key_index=pb_one(identity, 3, 0),
        account_type=pb_one(identity, 4, 0), device_type=pb_one(identity, 5, 0))


def check_pair_success(pair: PairSuccess, adv_secret: bytes, identity_public: bytes) -> str | None:
    """The checks of whatsmeow pair.go handlePair: None if it verifies, else the error text the
    companion answers with (`hmac-mismatch`, `signature-mismatch`)."""
    prefix = ADV_HOSTED_PREFIX if pair.container_account_type == HOSTED else b""
    expected = _hmac.new(adv_secret, prefix + pair.container_details, hashlib.sha256).digest()
    if not _hmac.compare_digest(expected, pair.hmac):
        return "hmac-mismatch"
    if len(pair.account_signature_key) != 32 or len(pair.account_signature) != 64:
        return "signature-mismatch"
    prefix = ADV_HOSTED_PREFIX if pair.device_type == HOSTED else ADV_ACCOUNT_PREFIX
    if not verify_signature(pair.account_signature_key, prefix + pair.details + identity_public, pair.account_signature):
        return "signature-mismatch"
    return None


def pair_device_sign(pair: PairSuccess, keys: CompanionKeys, binary_node):
    """whatsmeow pair.go handlePair: the device signature, and the ADVSignedDeviceIdentity re-encoded with
    it and without accountSignatureKey, in `<pair-device-sign><device-identity key-index>`."""
    message = ADV_DEVICE_PREFIX + pair.details + keys.identity_public + pair.account_signature_key
    signature = nw.sign(keys.identity_private, message, os.urandom(64))
    assert verify_signature(keys.identity_public, message, signature)
    signed = pb_bytes(1, pair.details) + pb_bytes(3, pair.account_signature) + pb_bytes(4, signature)
    return binary_node("iq", {"to": "s.whatsapp.net", "type": "result", "id": pair.id}, [
        binary_node("pair-device-sign", {}, [binary_node("device-identity", {"key-index": str(pair.key_index)}, signed)]),
    ])


def pair_error(pair: PairSuccess, code: int, text: str, binary_node):
    """whatsmeow's sendPairError (whatsmeow pair.go sendPairError)."""
    return binary_node("iq", {"to": "s.whatsapp.net", "type": "error", "id": pair.id},
                       [binary_node("error", {"code": str(code), "text": text})])


# -- pairing code (whatsmeow pair-code.go), with `cryptography` ----------------------------------

LINK_CODE_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
_RFC4648 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def linking_code(raw: bytes) -> str:
    """whatsmeow pair-code.go PairPhone: 5 bytes in RFC 4648 base32 bit order, written with the custom alphabet."""
    assert len(raw) == 5
    return _base64.b32encode(raw).decode().translate(str.maketrans(_RFC4648, LINK_CODE_ALPHABET))


def code_key(code: str, salt: bytes) -> bytes:
    """whatsmeow pair-code.go generateCompanionEphemeralKey: PBKDF2-HMAC-SHA256, 2 << 16 rounds."""
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=2 << 16).derive(code.encode())


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    return Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update(data)


def wrap_public_key(public: bytes, code: str) -> bytes:
    salt, iv = os.urandom(32), os.urandom(16)
    return salt + iv + _ctr(code_key(code, salt), iv, public)


def unwrap_public_key(wrapped: bytes, code: str) -> bytes:
    assert len(wrapped) >= 80, len(wrapped)
    return _ctr(code_key(code, wrapped[:32]), wrapped[32:48], wrapped[48:80])


def x25519(private: bytes, public: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private).exchange(X25519PublicKey.from_public_bytes(public))


def x25519_public(private: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_bundle(companion_ephemeral_private: bytes, wrapped_primary: bytes, code: str, keys: CompanionKeys,
               primary_identity: bytes) -> tuple[bytes, bytes]:
    """whatsmeow pair-code.go handleCodePairNotification: (the 156-byte wrapped key bundle, the new ADV secret)."""
    primary_ephemeral = unwrap_public_key(wrapped_primary, code)
    ephemeral_shared = x25519(companion_ephemeral_private, primary_ephemeral)
    adv_random, salt, nonce = os.urandom(32), os.urandom(32), os.urandom(12)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
               info=b"link_code_pairing_key_bundle_encryption_key").derive(ephemeral_shared)
    sealed = AESGCM(key).encrypt(nonce, keys.identity_public + primary_identity + adv_random, b"")
    bundle = salt + nonce + sealed
    assert len(bundle) == 156
    identity_shared = x25519(keys.identity_private, primary_identity)
    adv_secret = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                      info=b"adv_secret").derive(ephemeral_shared + identity_shared + adv_random)
    return bundle, adv_secret


# The prime-order check a phone can make on the key a code opened (whether it is a real public
# key), in plain integers: Montgomery u → Edwards y = (u−1)/(u+1), recover x, then [L]P = O.
_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_L = 2**252 + 27742317777372353535851937790883648493
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _edwards_add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa, bb = (y1 - x1) * (y2 - x2) % _P, (y1 + x1) * (y2 + x2) % _P
    cc, dd = t1 * 2 * _D * t2 % _P, z1 * 2 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def is_prime_order_public_key(public: bytes) -> bool:
    if len(public) != 32 or public[31] & 0x80:
        return False
    u = int.from_bytes(public, "little")
    if u >= _P or (u + 1) % _P == 0:
        return False
    y = (u - 1) * pow(u + 1, _P - 2, _P) % _P
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if x * x % _P != x2:
        x = x * _SQRT_M1 % _P
    if x * x % _P != x2:
        return False  # not on the curve (on its twist)
    if x & 1:
        x = _P - x
    point, result = (x, y, 1, x * y % _P), (0, 1, 1, 0)
    scalar = _L
    while scalar:
        if scalar & 1:
            result = _edwards_add(result, point)
        point = _edwards_add(point, point)
        scalar >>= 1
    identity = result[0] % _P == 0 and (result[1] - result[2]) % _P == 0
    small = x == 0 or (y * y - 1) % _P == 0  # the order-1/2/4 points with x or y = 0, ±1
    return identity and not small


# -- prekeys (whatsmeow prekeys.go uploadPreKeys) ------------------------------------------------


def prekey_upload(keys: CompanionKeys, prekey_ids: range, signed_id: int, binary_node):
    """`<iq xmlns=encrypt type=set>` content: registration, type, identity, list of keys, skey
    signed over `05 ‖ pub` by the identity key."""
    signed_private = nw.clamp(os.urandom(32))
    signed_public = nw.public_key(signed_private)
    signature = nw.sign(keys.identity_private, b"\x05" + signed_public, os.urandom(64))
    return [
        binary_node("registration", {}, keys.registration_id.to_bytes(4, "big")),
        binary_node("type", {}, b"\x05"),
        binary_node("identity", {}, keys.identity_public),
        binary_node("list", {}, [
            binary_node("key", {}, [binary_node("id", {}, i.to_bytes(3, "big")),
                                    binary_node("value", {}, nw.public_key(nw.clamp(os.urandom(32))))])
            for i in prekey_ids
        ]),
        binary_node("skey", {}, [binary_node("id", {}, signed_id.to_bytes(3, "big")),
                                 binary_node("value", {}, signed_public),
                                 binary_node("signature", {}, signature)]),
    ]


# -- messaging (whatsmeow prekeys.go, message.go, send.go, receipt.go): Signal by python-axolotl 0.2.3 --

from axolotl.ecc.djbec import DjbECPrivateKey, DjbECPublicKey
from axolotl.ecc.eckeypair import ECKeyPair
from axolotl.identitykey import IdentityKey
from axolotl.identitykeypair import IdentityKeyPair
from axolotl.protocol.ciphertextmessage import CiphertextMessage
from axolotl.protocol.prekeywhispermessage import PreKeyWhisperMessage
from axolotl.protocol.whispermessage import WhisperMessage
from axolotl.sessionbuilder import SessionBuilder
from axolotl.sessioncipher import SessionCipher
from axolotl.state.prekeybundle import PreKeyBundle
from axolotl.state.prekeyrecord import PreKeyRecord
from axolotl.state.signedprekeyrecord import SignedPreKeyRecord
from axolotl.tests.inmemoryaxolotlstore import InMemoryAxolotlStore


def axolotl_store(keys: CompanionKeys) -> InMemoryAxolotlStore:
    """The companion's Signal state in python-axolotl: the identity and registration id it sent
    at registration, and signed prekey 1 (the one in devicePairingData)."""
    store = InMemoryAxolotlStore()
    identity = IdentityKeyPair(IdentityKey(DjbECPublicKey(keys.identity_public)), DjbECPrivateKey(keys.identity_private))
    store.identityKeyStore.identityKeyPair = identity
    store.identityKeyStore.localRegistrationId = keys.registration_id
    signed_public = nw.public_key(keys.signed_prekey_private)
    signature = nw.sign(keys.identity_private, b"\x05" + signed_public, os.urandom(64))
    store.storeSignedPreKey(1, SignedPreKeyRecord(1, int(time.time() * 1000),
                                                  ECKeyPair(DjbECPublicKey(signed_public), DjbECPrivateKey(keys.signed_prekey_private)),
                                                  signature))
    return store


def axolotl_prekey_upload(store: InMemoryAxolotlStore, keys: CompanionKeys, prekey_ids: range, binary_node):
    """The upload (whatsmeow prekeys.go uploadPreKeys) of one-time prekeys whose private halves the store keeps (so a pkmsg that
    names one decrypts), with signed prekey 1."""
    signed = store.loadSignedPreKey(1)
    listed = []
    for i in prekey_ids:
        private = nw.clamp(os.urandom(32))
        public = nw.public_key(private)
        store.storePreKey(i, PreKeyRecord(i, ECKeyPair(DjbECPublicKey(public), DjbECPrivateKey(private))))
        listed.append(binary_node("key", {}, [binary_node("id", {}, i.to_bytes(3, "big")), binary_node("value", {}, public)]))
    return [
        binary_node("registration", {}, keys.registration_id.to_bytes(4, "big")),
        binary_node("type", {}, b"\x05"),
        binary_node("identity", {}, keys.identity_public),
        binary_node("list", {}, listed),
        binary_node("skey", {}, [binary_node("id", {}, (1).to_bytes(3, "big")),
                                 binary_node("value", {}, signed.getKeyPair().getPublicKey().getPublicKey()),
                                 binary_node("signature", {}, signed.getSignature())]),
    ]


def signal_name(jid: str) -> tuple[str, int]:
    """whatsmeow types/jid.go SignalAddressUser: a device JID as a Signal address (name, device): `user[_domain]`, device number."""
    user, server = jid.split("@")
    device = 0
    if ":" in user:
        user, number = user.split(":")
        device = int(number)
    domain = {"s.whatsapp.net": 0, "lid": 1}[server]
    return (user if domain == 0 else f"{user}_{domain}"), device


def cipher(store: InMemoryAxolotlStore, jid: str) -> SessionCipher:
    name, device = signal_name(jid)
    return SessionCipher(store, store, store, store, name, device)


def decrypt_padded(store: InMemoryAxolotlStore, jid: str, kind: str, ciphertext: bytes) -> bytes:
    """python-axolotl's plaintext: PKCS#7 of AES-CBC stripped, WhatsApp's own padding still on."""
    if kind == "pkmsg":
        return cipher(store, jid).decryptPkmsg(PreKeyWhisperMessage(serialized=ciphertext), False)
    return cipher(store, jid).decryptMsg(WhisperMessage(serialized=ciphertext), False)


def decrypt(store: InMemoryAxolotlStore, jid: str, kind: str, ciphertext: bytes) -> bytes:
    """python-axolotl strips only the PKCS#7 of AES-CBC; the WhatsApp padding is removed here."""
    return unpad(decrypt_padded(store, jid, kind, ciphertext))


def encrypt(store: InMemoryAxolotlStore, jid: str, plaintext: bytes) -> tuple[str, bytes]:
    message = cipher(store, jid).encrypt(pad(plaintext))
    return ("pkmsg" if message.getType() == CiphertextMessage.PREKEY_TYPE else "msg"), message.serialize()


def process_bundle(store: InMemoryAxolotlStore, user) -> None:
    """whatsmeow prekeys.go fetchPreKeys: a `<user jid>` of the bundle answer → an axolotl session (X3DH as initiator)."""
    jid = user.attrs["jid"]
    children = {child.tag: child for child in user.content}
    name, device = signal_name(jid)
    skey = {child.tag: child.content for child in children["skey"].content}
    key = {child.tag: child.content for child in children["key"].content} if "key" in children else None
    bundle = PreKeyBundle(
        int.from_bytes(children["registration"].content, "big"), device,
        int.from_bytes(key["id"], "big") if key else None, DjbECPublicKey(key["value"]) if key else None,
        int.from_bytes(skey["id"], "big"), DjbECPublicKey(skey["value"]), skey["signature"],
        IdentityKey(DjbECPublicKey(children["identity"].content)))
    SessionBuilder(store, store, store, store, name, device).processPreKeyBundle(bundle)


def pad(plaintext: bytes) -> bytes:
    """Padding as Baileys writes it (src/Utils/generics.ts writeRandomPadMax16; whatsmeow message.go padMessage): 1–16 bytes of the count."""
    count = (os.urandom(1)[0] & 0x0F) + 1
    return plaintext + bytes([count]) * count


def unpad(padded: bytes) -> bytes:
    count = padded[-1]
    assert 0 < count <= len(padded) and padded[-count:] == bytes([count]) * count, padded.hex()
    return padded[:-count]


def text_message(text: str) -> bytes:
    """waE2E.Message{conversation = 1}."""
    return pb_bytes(1, text)


def device_sent_message(destination: str, message: bytes) -> bytes:
    """waE2E.Message{deviceSentMessage = 31 {destinationJID = 1, message = 2}} (whatsmeow send.go marshalMessage)."""
    return pb_bytes(31, pb_bytes(1, destination) + pb_bytes(2, message))


def conversation(message: bytes) -> str | None:
    """The text of a waE2E.Message: conversation (1), extendedTextMessage.text (6.1), or inside
    deviceSentMessage.message (31.2)."""
    fields = pb_decode(message)
    if 31 in fields:
        return conversation(pb_decode(pb_one(fields, 31)).get(2, [b""])[0])
    if 1 in fields:
        return pb_one(fields, 1).decode()
    if 6 in fields:
        return pb_one(pb_decode(pb_one(fields, 6)), 1).decode()
    return None


# -- device identity, broken MACs, retry-receipt keys (whatsmeow send.go, retry.go) --------------


def signed_device_identity(pair: PairSuccess, keys: CompanionKeys) -> bytes:
    """The `<device-identity>` content (whatsmeow send.go makeDeviceIdentityNode): ADVSignedDeviceIdentity as whatsmeow stores it after
    pairing — details = 1, accountSignatureKey = 2 (kept), accountSignature = 3, deviceSignature
    = 4 (ours, over 06 01 ‖ details ‖ our identity ‖ account key)."""
    message = ADV_DEVICE_PREFIX + pair.details + keys.identity_public + pair.account_signature_key
    signature = nw.sign(keys.identity_private, message, os.urandom(64))
    return (pb_bytes(1, pair.details) + pb_bytes(2, pair.account_signature_key) + pb_bytes(3, pair.account_signature)
            + pb_bytes(4, signature))


@dataclass
class DeviceIdentity:
    details: bytes
    account_signature_key: bytes
    account_signature: bytes
    device_signature: bytes
    raw_id: int
    key_index: int


def parse_signed_device_identity(data: bytes) -> DeviceIdentity:
    signed = pb_decode(data)
    details = pb_one(signed, 1, b"")
    identity = pb_decode(details)
    return DeviceIdentity(details, pb_one(signed, 2, b""), pb_one(signed, 3, b""), pb_one(signed, 4, b""),
                          pb_one(identity, 1, 0), pb_one(identity, 3, 0))


def check_device_identity(identity: DeviceIdentity, device_identity_public: bytes) -> None:
    """whatsmeow's checks of a peer's device-identity: the account key signed 06 00 ‖ details ‖
    device identity, and the device signed 06 01 ‖ details ‖ device identity ‖ account key."""
    assert len(identity.account_signature_key) == 32, identity
    assert verify_signature(identity.account_signature_key,
                            ADV_ACCOUNT_PREFIX + identity.details + device_identity_public, identity.account_signature), \
        "account signature does not verify"
    assert verify_signature(device_identity_public,
                            ADV_DEVICE_PREFIX + identity.details + device_identity_public + identity.account_signature_key,
                            identity.device_signature), "device signature does not verify"


def inner_signal_message(kind: str, ciphertext: bytes) -> bytes:
    """The SignalMessage (0x33 ‖ protobuf ‖ 8-byte MAC) of a msg, or the one inside a pkmsg."""
    if kind == "pkmsg":
        inner = pb_one(pb_decode(ciphertext[1:]), 4)  # PreKeySignalMessage.message = 4
        assert inner is not None, ciphertext.hex()
        return inner
    return ciphertext


def break_mac(kind: str, ciphertext: bytes, byte: int = 7) -> bytes:
    """Flips one bit of byte `byte` (0–7) of the SignalMessage's 8-byte MAC (go.mau.fi/libsignal protocol/SignalMessage.go)."""
    inner = inner_signal_message(kind, ciphertext)
    assert inner[0] == 0x33 and len(inner) > 9 and ciphertext.count(inner) == 1, inner.hex()
    at = ciphertext.index(inner) + len(inner) - 8 + byte
    broken = bytearray(ciphertext)
    broken[at] ^= 0x01
    return bytes(broken)


def retry_keys_bundle(receipt, device: int) -> PreKeyBundle:
    """A retry receipt's `<registration>` and `<keys>` (whatsmeow retry.go sendRetryReceipt) as a python-axolotl PreKeyBundle."""
    children = {child.tag: child for child in receipt.content}
    keys = {child.tag: child for child in children["keys"].content}
    skey = {child.tag: child.content for child in keys["skey"].content}
    key = {child.tag: child.content for child in keys["key"].content} if "key" in keys else None
    return PreKeyBundle(
        int.from_bytes(children["registration"].content, "big"), device,
        int.from_bytes(key["id"], "big") if key else None, DjbECPublicKey(key["value"]) if key else None,
        int.from_bytes(skey["id"], "big"), DjbECPublicKey(skey["value"]), skey["signature"],
        IdentityKey(DjbECPublicKey(keys["identity"].content)))


def process_retry_keys(store: InMemoryAxolotlStore, jid: str, receipt) -> None:
    """A new session (X3DH as initiator) from the keys of a retry receipt, replacing the old one."""
    name, device = signal_name(jid)
    store.deleteSession(name, device)
    SessionBuilder(store, store, store, store, name, device).processPreKeyBundle(retry_keys_bundle(receipt, device))
