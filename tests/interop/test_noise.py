"""wause's Noise handshake (WauseTransport, through `wause-wire noise-vector`) against independent
Noise implementations: dissononce 0.34.3 and noiseprotocol 0.3.1, each patched with WhatsApp's
quirk (docs/interop-oracles.md), certificates from python-axolotl-curve25519.

    python3 -m venv .venv-interop
    .venv-interop/bin/pip install -r tests/requirements-interop.txt
    swift build --product wause-wire
    .venv-interop/bin/python -m pytest tests/interop/test_noise.py

WAUSE_WIRE names the binary (default: .build/debug/wause-wire of this checkout).
"""

import os

import pytest

import noise_whatsapp as nw

# noiseprotocol warns every time a test sets an ephemeral key, which is exactly what we must do.
pytestmark = pytest.mark.filterwarnings("ignore:One of ephemeral keypairs is already set")

LIBRARIES = sorted(nw.LIBRARIES)
SEEDS = [1, 2, 3, 4, 5]


@pytest.fixture(scope="session", autouse=True)
def wause_wire_present():
    if not os.access(nw.WAUSE_WIRE, os.X_OK):
        pytest.fail(f"{nw.WAUSE_WIRE} is missing: run `swift build --product wause-wire` or set WAUSE_WIRE")


def test_oracles_agree_with_each_other_and_the_reference_vectors():
    """Before trusting them: the two libraries agree, and match the known protocol name and
    prologue hash (whatsmeow socket/noisehandshake.go Start, Authenticate)."""
    v = nw.VectorInputs.from_seed(0)
    a, b = nw.oracle_transcript("dissononce", v), nw.oracle_transcript("noiseprotocol", v)
    assert a == b
    assert a["protocol_name"] == "4e6f6973655f58585f32353531395f41455347434d5f53484132353600000000"
    assert a["hash_after_prologue"] == "ffff0c9267310966f1311170c04b38c79504285bf5edf763e5c946492a50a755"
    assert a["first_websocket_message"].startswith("5741060300002412220a20")


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("seed", SEEDS)
def test_whole_transcript_byte_for_byte(library, seed):
    """Both roles ours vs both roles theirs: every message, hash and key identical."""
    v = nw.VectorInputs.from_seed(seed)
    _, ours = nw.wause_wire(*v.cli_arguments())
    theirs = nw.oracle_transcript(library, v)
    assert ours.pop("mode") == "both"
    for name, value in theirs.items():
        assert ours.get(name) == value, name
    assert set(ours) == set(theirs)


def test_certificate_chain_signed_by_libsignal_code_is_identical():
    """Our XEdDSA certificate signatures equal python-axolotl-curve25519's for the same randomness,
    and the chain passes whatsmeow's checks as reimplemented in Python."""
    v = nw.VectorInputs.from_seed(11)
    random64 = bytes(range(64))
    _, ours = nw.wause_wire(*v.cli_arguments(), "--signature-random", random64.hex(), "--intermediate-serial", "77",
                            "--leaf-serial", "78", "--not-before", "1650000000", "--not-after", "1750000000")
    theirs = nw.certificate_chain(v.root, v.intermediate, nw.public_key(v.server_static), intermediate_serial=77,
                                  leaf_serial=78, not_before=1_650_000_000, not_after=1_750_000_000, random64=random64)
    assert ours["certificate_chain"] == theirs.hex()
    intermediate, leaf = nw.check_certificate_chain(theirs, nw.public_key(v.root), nw.public_key(v.server_static), v.now)
    assert (intermediate.serial, leaf.issuerSerial, leaf.serial) == (77, 77, 78)


@pytest.mark.parametrize("library", LIBRARIES)
def test_our_initiator_with_their_responder(library):
    """Their server (with a chain they signed) answers our ClientHello; they decrypt our ClientFinish
    and our first transport frame, and we decrypt theirs."""
    v = nw.VectorInputs.from_seed(21)
    server = nw.LIBRARIES[library](False, v.server_static, v.server_ephemeral)
    chain = nw.certificate_chain(v.root, v.intermediate, nw.public_key(v.server_static), intermediate_serial=5, leaf_serial=9,
                                 random64=os.urandom(64))
    # Our ClientHello depends only on our ephemeral key, so a first run gives it.
    _, first = nw.wause_wire(*v.cli_arguments())
    assert server.read(nw.noise_message(bytes.fromhex(first["client_hello"]))) == b""
    hello = nw.server_hello(server.write(chain))

    _, ours = nw.wause_wire(*v.cli_arguments(), "--mode", "initiator", "--server-hello", hello.hex())
    assert ours["mode"] == "initiator"
    assert ours["decrypted_certificate_chain"] == chain.hex()
    assert ours["decrypted_server_static"] == nw.public_key(v.server_static).hex()
    assert server.read(nw.noise_message(bytes.fromhex(ours["client_finish"]))) == v.payload
    assert server.remote_static == nw.public_key(v.client_static)
    assert ours["handshake_hash"] == server.hash.hex()
    assert (ours["client_to_server_key"], ours["server_to_client_key"]) == tuple(k.hex() for k in server.keys)
    assert server.decrypt(bytes.fromhex(ours["client_frame_ciphertext"])) == v.client_frame


@pytest.mark.parametrize("library", LIBRARIES)
def test_their_initiator_with_our_responder(library):
    """Their client reads our ServerHello (and checks our certificate chain in Python), then sends a
    ClientFinish our server decrypts; they decrypt our first server frame."""
    v = nw.VectorInputs.from_seed(31)
    client = nw.LIBRARIES[library](True, v.client_static, v.client_ephemeral)
    hello = nw.client_hello(client.write(b""))

    _, ours = nw.wause_wire(*v.cli_arguments(), "--mode", "responder", "--client-hello", hello.hex())
    assert "client_finish" not in ours and "handshake_hash" not in ours
    chain = client.read(nw.noise_message(bytes.fromhex(ours["server_hello"])))
    assert client.remote_static == nw.public_key(v.server_static)
    nw.check_certificate_chain(chain, nw.public_key(v.root), client.remote_static, v.now)
    assert ours["hash_after_server_hello"] == client.hash.hex()

    finish = nw.client_finish(client.write(v.payload))
    _, ours = nw.wause_wire(*v.cli_arguments(), "--mode", "responder", "--client-hello", hello.hex(),
                            "--client-finish", finish.hex())
    assert ours["decrypted_client_payload"] == v.payload.hex()
    assert ours["decrypted_client_static"] == nw.public_key(v.client_static).hex()
    assert ours["handshake_hash"] == client.hash.hex()
    assert client.decrypt(bytes.fromhex(ours["server_frame_ciphertext"])) == v.server_frame
    assert ours["client_to_server_key"] == client.keys[0].hex()


def test_we_reject_a_server_hello_whose_chain_is_from_another_root():
    v = nw.VectorInputs.from_seed(41)
    server = nw.DissononceParty(False, v.server_static, v.server_ephemeral)
    _, first = nw.wause_wire(*v.cli_arguments())
    server.read(nw.noise_message(bytes.fromhex(first["client_hello"])))
    foreign_root = bytes([7]) * 32
    hello = nw.server_hello(server.write(nw.certificate_chain(foreign_root, v.intermediate, nw.public_key(v.server_static))))
    status, ours = nw.wause_wire(*v.cli_arguments(), "--mode", "initiator", "--server-hello", hello.hex(), expect_success=False)
    assert status == 1
    assert "intermediate certificate is not signed by the root key" in ours["error"]


def test_we_reject_a_chain_for_another_server_key():
    v = nw.VectorInputs.from_seed(42)
    server = nw.DissononceParty(False, v.server_static, v.server_ephemeral)
    _, first = nw.wause_wire(*v.cli_arguments())
    server.read(nw.noise_message(bytes.fromhex(first["client_hello"])))
    hello = nw.server_hello(server.write(nw.certificate_chain(v.root, v.intermediate, nw.public_key(v.client_static))))
    status, ours = nw.wause_wire(*v.cli_arguments(), "--mode", "initiator", "--server-hello", hello.hex(), expect_success=False)
    assert status == 1 and "leaf certificate key does not match" in ours["error"]


def test_we_reject_an_expired_chain():
    v = nw.VectorInputs.from_seed(43)
    server = nw.NoiseProtocolParty(False, v.server_static, v.server_ephemeral)
    _, first = nw.wause_wire(*v.cli_arguments())
    server.read(nw.noise_message(bytes.fromhex(first["client_hello"])))
    hello = nw.server_hello(server.write(nw.certificate_chain(v.root, v.intermediate, nw.public_key(v.server_static),
                                                              not_after=v.now - 1)))
    status, ours = nw.wause_wire(*v.cli_arguments(), "--mode", "initiator", "--server-hello", hello.hex(), expect_success=False)
    assert status == 1 and "expired" in ours["error"]


def test_we_reject_a_tampered_server_hello():
    v = nw.VectorInputs.from_seed(44)
    _, ours = nw.wause_wire(*v.cli_arguments())
    message = nw.HandshakeMessage.FromString(bytes.fromhex(ours["server_hello"]))
    message.serverHello.payload = message.serverHello.payload[:-1] + bytes([message.serverHello.payload[-1] ^ 1])
    status, ours = nw.wause_wire(*v.cli_arguments(), "--mode", "initiator", "--server-hello",
                                 message.SerializeToString().hex(), expect_success=False)
    assert status == 1 and "cannot decrypt certificate payload" in ours["error"]


def test_spec_noise_without_the_quirk_does_not_interoperate():
    """The quirk matters: an unpatched (spec) dissononce client hashes the empty payload of message 1,
    so its ClientFinish does not decrypt on our server."""
    v = nw.VectorInputs.from_seed(51)
    from dissononce.exceptions.decrypt import DecryptFailedException
    from dissononce.processing.impl.symmetricstate import SymmetricState
    client = nw.DissononceParty(True, v.client_static, v.client_ephemeral)
    client.state._symmetricstate.__class__ = SymmetricState  # back to the spec behaviour
    hello = nw.client_hello(client.write(b""))
    _, ours = nw.wause_wire(*v.cli_arguments(), "--mode", "responder", "--client-hello", hello.hex())
    with pytest.raises(DecryptFailedException):
        client.read(nw.noise_message(bytes.fromhex(ours["server_hello"])))


def test_bad_arguments_exit_2():
    import subprocess
    result = subprocess.run([nw.WAUSE_WIRE, "noise-vector", "--client-static", "zz"], capture_output=True, text=True)
    assert result.returncode == 2 and "not hex" in result.stderr
    result = subprocess.run([nw.WAUSE_WIRE, "noise-vector", "--mode", "initiator"], capture_output=True, text=True)
    assert result.returncode == 1 and "initiator mode needs a server hello" in result.stdout
