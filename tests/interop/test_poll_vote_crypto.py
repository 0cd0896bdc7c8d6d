"""The poll-vote encryption (WauseProtocol/PollVoteCrypto.swift) against an independent
computation with Python's `cryptography`, following whatsmeow msgsecret.go: HKDF-SHA256 over the
poll's message secret with info = poll id ‖ creator ‖ voter ‖ "Poll Vote", AES-256-GCM with
additional data poll id ‖ 0x00 ‖ voter, the plaintext a PollVoteMessage (field 1: SHA-256 of each
chosen option's name). The vector in fixtures/poll_vote_vector.json is what this computes; the
Swift test (Tests/WauseProtocolTests/PollVoteCryptoTests.swift) seals and opens the same vector.
"""
import hashlib
import json
import pathlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VECTOR = pathlib.Path(__file__).parent / "fixtures" / "poll_vote_vector.json"


def vote_plaintext(options):
    # PollVoteMessage { repeated bytes selectedOptions = 1; }: tag 0x0A, length 32, the hash.
    out = b""
    for name in options:
        digest = hashlib.sha256(name.encode()).digest()
        out += bytes([0x0A, len(digest)]) + digest
    return out


def seal(secret, poll_id, creator, voter, plaintext, iv):
    info = poll_id.encode() + creator.encode() + voter.encode() + b"Poll Vote"
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
    aad = poll_id.encode() + b"\x00" + voter.encode()
    return key, AESGCM(key).encrypt(iv, plaintext, aad)


def test_vector_matches_an_independent_computation():
    vector = json.loads(VECTOR.read_text())
    plaintext = vote_plaintext(vector["chosen"])
    key, payload = seal(bytes.fromhex(vector["secret"]), vector["poll_id"], vector["creator"], vector["voter"],
                        plaintext, bytes.fromhex(vector["iv"]))
    assert plaintext.hex() == vector["plaintext"]
    assert key.hex() == vector["key"]
    assert payload.hex() == vector["enc_payload"]


def test_another_voter_name_does_not_open_it():
    vector = json.loads(VECTOR.read_text())
    _, payload = seal(bytes.fromhex(vector["secret"]), vector["poll_id"], vector["creator"], vector["voter"],
                      vote_plaintext(vector["chosen"]), bytes.fromhex(vector["iv"]))
    _, other = seal(bytes.fromhex(vector["secret"]), vector["poll_id"], vector["creator"], "999@lid",
                    vote_plaintext(vector["chosen"]), bytes.fromhex(vector["iv"]))
    assert payload != other
