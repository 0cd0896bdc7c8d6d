"""Two Signal parties for tests/interop/test_signal_axolotl.py: ours, driven through the
`wause-signal` CLI with its state in a file, and theirs, python-axolotl 0.2.3 (a port of
libsignal-protocol-java, v3 wire format) with its in-memory stores. Both speak the same bundle
JSON (the shape `wause-signal init` prints) and the same (type, bytes) messages."""

import json
import os
import subprocess

from axolotl.ecc.curve import Curve
from axolotl.identitykey import IdentityKey
from axolotl.protocol.ciphertextmessage import CiphertextMessage
from axolotl.protocol.prekeywhispermessage import PreKeyWhisperMessage
from axolotl.protocol.whispermessage import WhisperMessage
from axolotl.sessionbuilder import SessionBuilder
from axolotl.sessioncipher import SessionCipher
from axolotl.state.prekeybundle import PreKeyBundle
from axolotl.tests.inmemoryaxolotlstore import InMemoryAxolotlStore
from axolotl.util.keyhelper import KeyHelper

# The debug build of the checkout this file is in (tests/<suite>/ → repository root), unless
# $WAUSE_SIGNAL names another binary.
WAUSE_SIGNAL = os.environ.get(
    "WAUSE_SIGNAL", os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "debug", "wause-signal"))
)


class SignalFailure(Exception):
    """wause-signal exited 3: a Signal protocol error whose code (bad_mac, duplicate_message, ...)
    starts its message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class Ours:
    """One wause party: `wause-signal --state FILE`."""

    def __init__(self, state_path, name: str):
        self.state = str(state_path)
        self.name = name

    def _run(self, *args: str) -> str:
        if not os.access(WAUSE_SIGNAL, os.X_OK):
            raise RuntimeError(f"wause-signal not found at {WAUSE_SIGNAL}: build it or set WAUSE_SIGNAL")
        done = subprocess.run([WAUSE_SIGNAL, args[0], "--state", self.state, *args[1:]],
                              capture_output=True, text=True, timeout=60)
        if done.returncode == 3:
            message = done.stderr.strip().split(": ", 1)[1]
            raise SignalFailure(message.split(":", 1)[0], message)
        assert done.returncode == 0, f"wause-signal {args[0]} exited {done.returncode}: {done.stderr}"
        return done.stdout.strip()

    def bundle(self) -> dict:
        return json.loads(self._run("init"))

    def process_bundle(self, peer: str, bundle: dict) -> None:
        self._run("process-bundle", "--peer", peer, "--bundle", json.dumps(bundle))

    def encrypt(self, peer: str, plaintext: bytes) -> tuple[str, bytes]:
        result = json.loads(self._run("encrypt", "--peer", peer, "--pt", plaintext.hex()))
        return result["type"], bytes.fromhex(result["ciphertext"])

    def decrypt(self, peer: str, message: tuple[str, bytes]) -> bytes:
        kind, ciphertext = message
        return bytes.fromhex(self._run("decrypt", "--peer", peer, "--type", kind, "--ct", ciphertext.hex()))


class Theirs:
    """One python-axolotl party with an identity, signed prekey 1 and one-time prekeys 1..n."""

    def __init__(self, name: str, prekeys: int = 5):
        self.name = name
        self.store = InMemoryAxolotlStore()
        identity = self.store.getIdentityKeyPair()
        self.signed_prekey = KeyHelper.generateSignedPreKey(identity, 1)
        self.store.storeSignedPreKey(1, self.signed_prekey)
        self.prekeys = KeyHelper.generatePreKeys(1, prekeys)
        for prekey in self.prekeys:
            self.store.storePreKey(prekey.getId(), prekey)

    def bundle(self, prekey_index: int | None = 0) -> dict:
        bundle = {
            "registration_id": self.store.getLocalRegistrationId(),
            "identity_key": self.store.getIdentityKeyPair().getPublicKey().serialize().hex(),
            "signed_prekey_id": self.signed_prekey.getId(),
            "signed_prekey_public": self.signed_prekey.getKeyPair().getPublicKey().serialize().hex(),
            "signed_prekey_signature": self.signed_prekey.getSignature().hex(),
        }
        if prekey_index is not None:
            prekey = self.prekeys[prekey_index]
            bundle["prekey_id"] = prekey.getId()
            bundle["prekey_public"] = prekey.getKeyPair().getPublicKey().serialize().hex()
        return bundle

    def _builder_and_cipher(self, peer: str, device: int):
        args = (self.store, self.store, self.store, self.store, peer, device)
        return SessionBuilder(*args), SessionCipher(*args)

    def process_bundle(self, peer: str, device: int, bundle: dict) -> None:
        prekey_id = bundle.get("prekey_id")
        axolotl_bundle = PreKeyBundle(
            bundle["registration_id"], device,
            prekey_id, Curve.decodePoint(bytes.fromhex(bundle["prekey_public"]), 0) if prekey_id is not None else None,
            bundle["signed_prekey_id"], Curve.decodePoint(bytes.fromhex(bundle["signed_prekey_public"]), 0),
            bytes.fromhex(bundle["signed_prekey_signature"]), IdentityKey(bytes.fromhex(bundle["identity_key"]), 0))
        self._builder_and_cipher(peer, device)[0].processPreKeyBundle(axolotl_bundle)

    def encrypt(self, peer: str, device: int, plaintext: bytes) -> tuple[str, bytes]:
        message = self._builder_and_cipher(peer, device)[1].encrypt(plaintext)
        kind = "pkmsg" if message.getType() == CiphertextMessage.PREKEY_TYPE else "msg"
        return kind, message.serialize()

    def decrypt(self, peer: str, device: int, message: tuple[str, bytes]) -> bytes:
        kind, ciphertext = message
        cipher = self._builder_and_cipher(peer, device)[1]
        # python-axolotl removes only the PKCS#7 padding: the plaintext comes back exactly as sent.
        if kind == "pkmsg":
            return cipher.decryptPkmsg(PreKeyWhisperMessage(serialized=ciphertext), False)
        return cipher.decryptMsg(WhisperMessage(serialized=ciphertext), False)
