"""Independent oracles for WhatsApp's Noise handshake, used by test_noise.py.

Nothing here comes from wause. The Noise state machines are dissononce 0.34.3 and noiseprotocol
0.3.1, patched with WhatsApp's one deviation from the Noise spec (docs/interop-oracles.md):
EncryptAndHash/DecryptAndHash do not MixHash while the cipher has no key yet, so after `-> e` the
hash is just SHA256(h || e) instead of also hashing the empty payload. The protobuf messages are
built by the protobuf runtime from descriptors written here (field numbers from whatsmeow, see
whatsmeow proto/waWa6/WAWebProtobufsWa6.proto, handshake.go verifyServerCert), and certificates are signed and verified with
python-axolotl-curve25519, libsignal's own "curve25519 signature" code.
"""

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass

import axolotl_curve25519 as curve
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

import dissononce.processing.impl.symmetricstate as dissononce_symmetric
from dissononce.cipher.aesgcm import AESGCMCipher
from dissononce.dh.private import PrivateKey
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.extras.dh.dangerous.dh_nogen import NoGenDH
from dissononce.hash.sha256 import SHA256Hash
from dissononce.processing.handshakepatterns.interactive.XX import XXHandshakePattern
from dissononce.processing.impl.cipherstate import CipherState as DissononceCipherState
from dissononce.processing.impl.handshakestate import HandshakeState as DissononceHandshakeState
import noise.state as noiseprotocol_state
from noise.connection import Keypair, NoiseConnection

PROLOGUE = bytes([0x57, 0x41, 0x06, 0x03])  # whatsmeow socket/constants.go WAConnHeader; socket/noisehandshake.go Authenticate
PROTOCOL_NAME = b"Noise_XX_25519_AESGCM_SHA256"
# The debug build of the checkout this file is in (tests/<suite>/ → repository root), unless
# $WAUSE_WIRE names another binary.
WAUSE_WIRE = os.environ.get(
    "WAUSE_WIRE", os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "debug", "wause-wire"))
)


# --- WhatsApp's quirk, applied to both libraries ----------------------------------------------

class WhatsAppSymmetricState(dissononce_symmetric.SymmetricState):
    """dissononce's SymmetricState without MixHash of payloads handled before the first MixKey."""

    def encrypt_and_hash(self, plaintext):
        if not self.cipherstate_has_key():
            assert plaintext == b"", "WhatsApp sends no payload before the first key"
            return b""
        return super().encrypt_and_hash(plaintext)

    def decrypt_and_hash(self, ciphertext):
        if not self.cipherstate_has_key():
            assert ciphertext == b"", "WhatsApp sends no payload before the first key"
            return b""
        return super().decrypt_and_hash(ciphertext)


def _patch_noiseprotocol():
    """noiseprotocol builds its SymmetricState internally, so its class is patched in place."""
    cls = noiseprotocol_state.SymmetricState
    if getattr(cls, "_whatsapp_quirk", False):
        return
    original_encrypt, original_decrypt = cls.encrypt_and_hash, cls.decrypt_and_hash

    def encrypt_and_hash(self, plaintext):
        if not self.cipher_state.has_key():
            assert plaintext == b""
            return b""
        return original_encrypt(self, plaintext)

    def decrypt_and_hash(self, ciphertext):
        if not self.cipher_state.has_key():
            assert ciphertext == b""
            return b""
        return original_decrypt(self, ciphertext)

    cls.encrypt_and_hash, cls.decrypt_and_hash = encrypt_and_hash, decrypt_and_hash
    cls._whatsapp_quirk = True


_patch_noiseprotocol()


# --- protobuf, from descriptors ---------------------------------------------------------------

def _build_messages():
    F = descriptor_pb2.FieldDescriptorProto
    files = []

    def message(container, name, fields):
        m = container.add(name=name)
        for field_name, number, kind, type_name in fields:
            f = m.field.add(name=field_name, number=number, label=F.LABEL_OPTIONAL, type=kind)
            if type_name:
                f.type_name = type_name
        return m

    wa6 = descriptor_pb2.FileDescriptorProto(name="interop_wa6.proto", package="WAWebProtobufsWa6", syntax="proto2")
    hs = message(wa6.message_type, "HandshakeMessage", [
        ("clientHello", 2, F.TYPE_MESSAGE, ".WAWebProtobufsWa6.HandshakeMessage.ClientHello"),
        ("serverHello", 3, F.TYPE_MESSAGE, ".WAWebProtobufsWa6.HandshakeMessage.ServerHello"),
        ("clientFinish", 4, F.TYPE_MESSAGE, ".WAWebProtobufsWa6.HandshakeMessage.ClientFinish"),
    ])
    message(hs.nested_type, "ClientHello", [("ephemeral", 1, F.TYPE_BYTES, None), ("static", 2, F.TYPE_BYTES, None),
                                            ("payload", 3, F.TYPE_BYTES, None)])
    message(hs.nested_type, "ServerHello", [("ephemeral", 1, F.TYPE_BYTES, None), ("static", 2, F.TYPE_BYTES, None),
                                            ("payload", 3, F.TYPE_BYTES, None)])
    message(hs.nested_type, "ClientFinish", [("static", 1, F.TYPE_BYTES, None), ("payload", 2, F.TYPE_BYTES, None)])
    cp = message(wa6.message_type, "ClientPayload", [
        ("username", 1, F.TYPE_UINT64, None), ("passive", 3, F.TYPE_BOOL, None),
        ("userAgent", 5, F.TYPE_MESSAGE, ".WAWebProtobufsWa6.ClientPayload.UserAgent"),
        ("pushName", 7, F.TYPE_STRING, None),
        ("connectType", 12, F.TYPE_INT32, None), ("connectReason", 13, F.TYPE_INT32, None),
        ("device", 18, F.TYPE_UINT32, None), ("pull", 33, F.TYPE_BOOL, None),
    ])
    ua = message(cp.nested_type, "UserAgent", [
        ("platform", 1, F.TYPE_INT32, None),
        ("appVersion", 2, F.TYPE_MESSAGE, ".WAWebProtobufsWa6.ClientPayload.UserAgent.AppVersion"),
        ("releaseChannel", 10, F.TYPE_INT32, None),
    ])
    message(ua.nested_type, "AppVersion", [("primary", 1, F.TYPE_UINT32, None), ("secondary", 2, F.TYPE_UINT32, None),
                                           ("tertiary", 3, F.TYPE_UINT32, None)])
    files.append(wa6)

    cert = descriptor_pb2.FileDescriptorProto(name="interop_cert.proto", package="WACert", syntax="proto2")
    chain = message(cert.message_type, "CertChain", [
        ("leaf", 1, F.TYPE_MESSAGE, ".WACert.CertChain.NoiseCertificate"),
        ("intermediate", 2, F.TYPE_MESSAGE, ".WACert.CertChain.NoiseCertificate"),
    ])
    noise_cert = message(chain.nested_type, "NoiseCertificate", [("details", 1, F.TYPE_BYTES, None),
                                                                 ("signature", 2, F.TYPE_BYTES, None)])
    message(noise_cert.nested_type, "Details", [
        ("serial", 1, F.TYPE_UINT32, None), ("issuerSerial", 2, F.TYPE_UINT32, None), ("key", 3, F.TYPE_BYTES, None),
        ("notBefore", 4, F.TYPE_UINT64, None), ("notAfter", 5, F.TYPE_UINT64, None),
    ])
    files.append(cert)

    pool = descriptor_pool.DescriptorPool()
    for f in files:
        pool.AddSerializedFile(f.SerializeToString())
    factory = message_factory.MessageFactory(pool)
    get = lambda name: factory.GetPrototype(pool.FindMessageTypeByName(name))
    return (get("WAWebProtobufsWa6.HandshakeMessage"), get("WAWebProtobufsWa6.ClientPayload"),
            get("WACert.CertChain"), get("WACert.CertChain.NoiseCertificate.Details"))


HandshakeMessage, ClientPayload, CertChain, CertDetails = _build_messages()


def sample_client_payload(username=15551234567, device=3):
    """A login-style ClientPayload (whatsmeow store/clientpayload.go BaseClientPayload, getLoginPayload), as bytes."""
    p = ClientPayload(username=username, passive=True, pull=True, device=device, connectType=1, connectReason=1)
    p.userAgent.platform = 14
    p.userAgent.releaseChannel = 0
    p.userAgent.appVersion.primary, p.userAgent.appVersion.secondary, p.userAgent.appVersion.tertiary = 2, 3000, 1045649367
    return p.SerializeToString()


# --- keys and certificates --------------------------------------------------------------------

def clamp(private):
    b = bytearray(private)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return bytes(b)


def public_key(private):
    return curve.generatePublicKey(clamp(private))


def sign(private, message, random64):
    # calculateSignature uses the private bytes as given, so clamp first (docs/interop-oracles.md).
    return curve.calculateSignature(random64, clamp(private), message)


def verify(public, message, signature):
    return curve.verifySignature(public, message, signature) == 0


def certificate_chain(root_private, intermediate_private, server_static_public, *, intermediate_serial=1, leaf_serial=2,
                      not_before=1_600_000_000, not_after=2_000_000_000, random64=bytes(64),
                      intermediate_issuer_serial=0, leaf_issuer_serial=None):
    """A serialized CertChain: root signs the intermediate, the intermediate signs the leaf (whatsmeow handshake.go verifyServerCert)."""
    intermediate = CertDetails(serial=intermediate_serial, issuerSerial=intermediate_issuer_serial,
                               key=public_key(intermediate_private), notBefore=not_before, notAfter=not_after)
    leaf = CertDetails(serial=leaf_serial, issuerSerial=intermediate_serial if leaf_issuer_serial is None else leaf_issuer_serial,
                       key=server_static_public, notBefore=not_before, notAfter=not_after)
    chain = CertChain()
    chain.intermediate.details = intermediate.SerializeToString()
    chain.intermediate.signature = sign(root_private, chain.intermediate.details, random64)
    chain.leaf.details = leaf.SerializeToString()
    chain.leaf.signature = sign(intermediate_private, chain.leaf.details, random64)
    return chain.SerializeToString()


def check_certificate_chain(chain_bytes, root_public, server_static_public, now):
    """whatsmeow handshake.go verifyServerCert, in Python; raises AssertionError on the first failure."""
    chain = CertChain.FromString(chain_bytes)
    assert chain.HasField("leaf") and chain.HasField("intermediate")
    assert len(chain.intermediate.signature) == 64 and len(chain.leaf.signature) == 64
    assert verify(root_public, chain.intermediate.details, chain.intermediate.signature), "intermediate signature"
    intermediate = CertDetails.FromString(chain.intermediate.details)
    assert intermediate.issuerSerial == 0 and len(intermediate.key) == 32
    assert verify(intermediate.key, chain.leaf.details, chain.leaf.signature), "leaf signature"
    assert intermediate.notBefore <= now <= intermediate.notAfter
    leaf = CertDetails.FromString(chain.leaf.details)
    assert leaf.issuerSerial == intermediate.serial
    assert leaf.key == server_static_public
    assert leaf.notBefore <= now <= leaf.notAfter
    return intermediate, leaf


def sha256(data):
    return hashlib.sha256(data).digest()


def hash_after_prologue():
    return sha256(PROTOCOL_NAME.ljust(32, b"\0") + PROLOGUE)


# --- handshake message <-> Noise message buffers ----------------------------------------------

def client_hello(noise_message):
    return HandshakeMessage(clientHello={"ephemeral": bytes(noise_message)}).SerializeToString()


def server_hello(noise_message):
    m = bytes(noise_message)  # e (32) || enc(s) (48) || enc(payload)
    return HandshakeMessage(serverHello={"ephemeral": m[:32], "static": m[32:80], "payload": m[80:]}).SerializeToString()


def client_finish(noise_message):
    m = bytes(noise_message)  # enc(s) (48) || enc(payload)
    return HandshakeMessage(clientFinish={"static": m[:48], "payload": m[48:]}).SerializeToString()


def noise_message(handshake_bytes):
    """The Noise message buffer a HandshakeMessage carries, whichever of the three it is."""
    h = HandshakeMessage.FromString(handshake_bytes)
    if h.HasField("clientHello"):
        return h.clientHello.ephemeral
    if h.HasField("serverHello"):
        return h.serverHello.ephemeral + h.serverHello.static + h.serverHello.payload
    return h.clientFinish.static + h.clientFinish.payload


# --- the two libraries behind one small interface ---------------------------------------------

class DissononceParty:
    """One end of the handshake on dissononce."""
    name = "dissononce"

    def __init__(self, initiator, static_private, ephemeral_private):
        dh = NoGenDH(X25519DH(), PrivateKey(ephemeral_private))
        symmetric = WhatsAppSymmetricState(DissononceCipherState(AESGCMCipher()), SHA256Hash())
        self.state = DissononceHandshakeState(symmetric, dh)
        static = X25519DH().generate_keypair(PrivateKey(static_private))
        self.state.initialize(XXHandshakePattern(), initiator, PROLOGUE, s=static)
        assert self.state.protocol_name == PROTOCOL_NAME.decode()
        self.initiator = initiator
        self.send = self.receive = None

    @property
    def hash(self):
        return self.state.symmetricstate.get_handshake_hash()

    def write(self, payload=b""):
        buffer = bytearray()
        result = self.state.write_message(payload, buffer)
        self._maybe_split(result)
        return bytes(buffer)

    def read(self, message):
        payload = bytearray()
        result = self.state.read_message(bytes(message), payload)
        self._maybe_split(result)
        return bytes(payload)

    def _maybe_split(self, result):
        if result:
            first, second = result  # first: initiator -> responder
            self.send, self.receive = (first, second) if self.initiator else (second, first)
            self.keys = (first._key, second._key)

    @property
    def remote_static(self):
        return self.state.rs.data

    def encrypt(self, data):
        return self.send.encrypt_with_ad(b"", data)

    def decrypt(self, data):
        return self.receive.decrypt_with_ad(b"", data)


class NoiseProtocolParty:
    """One end of the handshake on noiseprotocol. It drops its handshake state once finished, so
    the remote static key is captured as soon as it is known."""
    name = "noiseprotocol"

    def __init__(self, initiator, static_private, ephemeral_private):
        c = NoiseConnection.from_name(PROTOCOL_NAME)
        c.set_as_initiator() if initiator else c.set_as_responder()
        c.set_prologue(PROLOGUE)
        c.set_keypair_from_private_bytes(Keypair.STATIC, static_private)
        c.set_keypair_from_private_bytes(Keypair.EPHEMERAL, ephemeral_private)
        c.start_handshake()
        self.connection = c
        self.initiator = initiator
        self.remote_static = None

    @property
    def hash(self):
        p = self.connection.noise_protocol
        return p.handshake_hash if self.connection.handshake_finished else p.symmetric_state.h

    def write(self, payload=b""):
        return bytes(self.connection.write_message(payload))

    def read(self, message):
        p = self.connection.noise_protocol
        # The initiator learns rs from message 2; the responder from message 3, which finishes the
        # handshake, so peek through the symmetric state of the handshake object first.
        handshake = p.handshake_state
        payload = bytes(self.connection.read_message(bytes(message)))
        if not isinstance(handshake.rs, noiseprotocol_state.Empty) and handshake.rs is not None:
            self.remote_static = handshake.rs.public_bytes
        return payload

    @property
    def keys(self):
        p = self.connection.noise_protocol
        first, second = (p.cipher_state_encrypt, p.cipher_state_decrypt) if self.initiator else \
            (p.cipher_state_decrypt, p.cipher_state_encrypt)
        return first.k, second.k

    def encrypt(self, data):
        return self.connection.encrypt(data)

    def decrypt(self, data):
        return self.connection.decrypt(data)


LIBRARIES = {"dissononce": DissononceParty, "noiseprotocol": NoiseProtocolParty}


# --- a whole transcript, computed by one library playing both roles ---------------------------

@dataclass
class VectorInputs:
    client_static: bytes
    client_ephemeral: bytes
    server_static: bytes
    server_ephemeral: bytes
    root: bytes
    intermediate: bytes
    payload: bytes
    client_frame: bytes = b"client frame"
    server_frame: bytes = b"server frame"
    now: int = 1_700_000_000

    def cli_arguments(self):
        h = lambda b: b.hex()
        return ["--client-static", h(self.client_static), "--client-ephemeral", h(self.client_ephemeral),
                "--server-static", h(self.server_static), "--server-ephemeral", h(self.server_ephemeral),
                "--root", h(self.root), "--intermediate", h(self.intermediate), "--payload", h(self.payload),
                "--client-frame", h(self.client_frame), "--server-frame", h(self.server_frame), "--now", str(self.now)]

    @classmethod
    def from_seed(cls, seed):
        derive = lambda label: hashlib.sha256(f"{seed}/{label}".encode()).digest()
        return cls(derive("client static"), derive("client ephemeral"), derive("server static"),
                   derive("server ephemeral"), derive("root"), derive("intermediate"),
                   sample_client_payload(username=10**10 + seed, device=seed % 100))


def oracle_transcript(library, v):
    """The transcript wause-wire prints, computed by `library` alone (hex strings, same keys)."""
    Party = LIBRARIES[library]
    client = Party(True, v.client_static, v.client_ephemeral)
    server = Party(False, v.server_static, v.server_ephemeral)
    chain = certificate_chain(v.root, v.intermediate, public_key(v.server_static))
    t = {"protocol_name": PROTOCOL_NAME.ljust(32, b"\0"), "prologue": PROLOGUE,
         "client_static_public": public_key(v.client_static), "client_ephemeral_public": public_key(v.client_ephemeral),
         "server_static_public": public_key(v.server_static), "server_ephemeral_public": public_key(v.server_ephemeral),
         "root_public": public_key(v.root), "certificate_chain": chain, "hash_after_prologue": hash_after_prologue()}

    m1 = client.write(b"")
    t["hash_after_client_hello"] = client.hash
    t["client_hello"] = client_hello(m1)
    t["first_websocket_message"] = PROLOGUE + len(t["client_hello"]).to_bytes(3, "big") + t["client_hello"]
    assert server.read(m1) == b""
    m2 = server.write(chain)
    t["server_hello"] = server_hello(m2)
    t["decrypted_certificate_chain"] = client.read(m2)
    t["decrypted_server_static"] = client.remote_static
    t["hash_after_server_hello"] = client.hash
    m3 = client.write(v.payload)
    t["client_finish"] = client_finish(m3)
    t["decrypted_client_payload"] = server.read(m3)
    t["decrypted_client_static"] = server.remote_static
    assert client.hash == server.hash and client.keys == server.keys
    t["handshake_hash"] = client.hash
    t["client_to_server_key"], t["server_to_client_key"] = client.keys
    t["client_frame_ciphertext"] = client.encrypt(v.client_frame)
    t["server_frame_ciphertext"] = server.encrypt(v.server_frame)
    return {k: bytes(b).hex() for k, b in t.items()}


# --- running wause-wire -----------------------------------------------------------------------

def wause_wire(*arguments, expect_success=True):
    """Runs `wause-wire noise-vector ARGS` and returns (exit status, parsed JSON)."""
    result = subprocess.run([WAUSE_WIRE, "noise-vector", *arguments], capture_output=True, text=True, timeout=60)
    if expect_success and result.returncode != 0:
        raise AssertionError(f"wause-wire noise-vector exited {result.returncode}: {result.stdout}{result.stderr}")
    try:
        output = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"wause-wire noise-vector printed no JSON: {result.stdout!r} {result.stderr!r}")
    return result.returncode, output
