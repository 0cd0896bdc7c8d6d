"""wause's Signal sender keys (groups: SKDM, v3 `skmsg`, signatures, skipped keys) against
python-axolotl 0.2.3's GroupSessionBuilder/GroupCipher, an independent port of libsignal
(docs/interop-oracles.md), in both directions: several messages, out of order, duplicates, a
member who joins late, tampering, and the stored record format (libsignal's
SenderKeyRecordStructure) read by the other side. wause runs as the `wause-signal` CLI
(`sk-create`, `sk-process`, `sk-encrypt`, `sk-decrypt`) with its state in a file.

Run: WAUSE_SIGNAL=.build/debug/wause-signal pytest tests/interop/test_sender_keys_axolotl.py
"""

import json
import random

import pytest
from axolotl.axolotladdress import AxolotlAddress
from axolotl.duplicatemessagexception import DuplicateMessageException
from axolotl.groups.groupcipher import GroupCipher
from axolotl.groups.groupsessionbuilder import GroupSessionBuilder
from axolotl.groups.senderkeyname import SenderKeyName
from axolotl.groups.state.senderkeyrecord import SenderKeyRecord
from axolotl.invalidmessageexception import InvalidMessageException
from axolotl.protocol.senderkeydistributionmessage import SenderKeyDistributionMessage
from axolotl.tests.groups.inmemorysenderkeystore import InMemorySenderKeyStore

from signal_axolotl import Ours, SignalFailure

GROUP = "120363000000000042@g.us"
# The sending devices: wause's and python-axolotl's, as name:device and as axolotl addresses.
US, US_DEVICE = "wause", 1
THEM, THEM_DEVICE = "axolotl", 7
US_SENDER, THEM_SENDER = f"{US}:{US_DEVICE}", f"{THEM}:{THEM_DEVICE}"


def plaintext(rng: random.Random, label: str) -> bytes:
    """Text plus 0..40 random bytes, so lengths cross AES block boundaries. python-axolotl adds
    and removes only PKCS#7 padding, so the bytes come back exactly as sent."""
    return label.encode() + rng.randbytes(rng.randrange(0, 41))


class OurGroup:
    """wause's sender keys for GROUP through the CLI."""

    def __init__(self, ours: Ours):
        self.ours = ours

    def create(self) -> dict:
        return json.loads(self.ours._run("sk-create", "--group", GROUP, "--sender", US_SENDER))

    def process(self, sender: str, skdm: bytes) -> None:
        self.ours._run("sk-process", "--group", GROUP, "--sender", sender, "--skdm", skdm.hex())

    def encrypt(self, text: bytes) -> bytes:
        result = json.loads(self.ours._run("sk-encrypt", "--group", GROUP, "--sender", US_SENDER, "--pt", text.hex()))
        assert result["type"] == "skmsg"
        return bytes.fromhex(result["ciphertext"])

    def decrypt(self, sender: str, message: bytes) -> bytes:
        return bytes.fromhex(self.ours._run("sk-decrypt", "--group", GROUP, "--sender", sender, "--ct", message.hex()))

    def record_hex(self, sender: str) -> str:
        with open(self.ours.state) as file:
            return json.load(file)["sender_keys"][f"{GROUP}::{sender.replace(':', '::')}"]


class TheirGroup:
    """One python-axolotl member device with its in-memory sender-key store."""

    def __init__(self):
        self.store = InMemorySenderKeyStore()

    @staticmethod
    def name(sender: str, device: int) -> SenderKeyName:
        return SenderKeyName(GROUP, AxolotlAddress(sender, device))

    def create(self) -> bytes:
        return GroupSessionBuilder(self.store).create(self.name(THEM, THEM_DEVICE)).serialize()

    def process(self, sender: str, device: int, skdm: bytes) -> None:
        GroupSessionBuilder(self.store).process(self.name(sender, device), SenderKeyDistributionMessage(serialized=skdm))

    def encrypt(self, text: bytes) -> bytes:
        return GroupCipher(self.store, self.name(THEM, THEM_DEVICE)).encrypt(text)

    def decrypt(self, sender: str, device: int, message: bytes) -> bytes:
        return GroupCipher(self.store, self.name(sender, device)).decrypt(message)


@pytest.fixture
def ours(tmp_path):
    return OurGroup(Ours(tmp_path / "wause.json", US))


def test_we_decrypt_their_group_messages_out_of_order(ours):
    rng = random.Random(1201)
    theirs = TheirGroup()
    ours.process(THEM_SENDER, theirs.create())
    texts = [plaintext(rng, f"from axolotl #{index} ") for index in range(10)]
    messages = [theirs.encrypt(text) for text in texts]
    order = list(range(10))
    rng.shuffle(order)
    for index in order:
        assert ours.decrypt(THEM_SENDER, messages[index]) == texts[index]
    for index in (0, order[0], 9):
        with pytest.raises(SignalFailure) as failure:
            ours.decrypt(THEM_SENDER, messages[index])
        assert failure.value.code == "duplicate_message"
    # A jump forward: five messages skipped, then delivered late.
    later = [plaintext(rng, f"later #{index} ") for index in range(6)]
    late = [theirs.encrypt(text) for text in later]
    assert ours.decrypt(THEM_SENDER, late[5]) == later[5]
    for index in (2, 0, 4, 1, 3):
        assert ours.decrypt(THEM_SENDER, late[index]) == later[index]


def test_they_decrypt_our_group_messages_out_of_order(ours):
    rng = random.Random(1202)
    distribution = ours.create()
    assert distribution["iteration"] == 0 and 0 <= distribution["key_id"] < 2**31
    theirs = TheirGroup()
    theirs.process(US, US_DEVICE, bytes.fromhex(distribution["skdm"]))
    texts = [plaintext(rng, f"from wause #{index} ") for index in range(10)]
    messages = [ours.encrypt(text) for text in texts]
    order = list(range(10))
    rng.shuffle(order)
    for index in order:
        assert theirs.decrypt(US, US_DEVICE, messages[index]) == texts[index]
    with pytest.raises(DuplicateMessageException):
        theirs.decrypt(US, US_DEVICE, messages[order[-1]])
    # Both directions in one group: each side holds the other's key.
    ours.process(THEM_SENDER, theirs.create())
    reply = plaintext(rng, "reply ")
    assert ours.decrypt(THEM_SENDER, theirs.encrypt(reply)) == reply
    text = plaintext(rng, "again ")
    assert theirs.decrypt(US, US_DEVICE, ours.encrypt(text)) == text


def test_a_late_member_gets_the_chain_where_it_stands(ours):
    rng = random.Random(1203)
    ours.create()
    early = [ours.encrypt(plaintext(rng, f"before #{index} ")) for index in range(3)]
    distribution = ours.create()  # the same key, printed again for a new member
    assert distribution["iteration"] == 3
    late_member = TheirGroup()
    late_member.process(US, US_DEVICE, bytes.fromhex(distribution["skdm"]))
    text = plaintext(rng, "after joining ")
    assert late_member.decrypt(US, US_DEVICE, ours.encrypt(text)) == text
    with pytest.raises(DuplicateMessageException):  # earlier iterations were never theirs
        late_member.decrypt(US, US_DEVICE, early[0])


def test_tampered_and_unknown_messages_fail_cleanly(ours):
    rng = random.Random(1204)
    ours.create()  # our state file exists; it holds no key of theirs yet
    theirs = TheirGroup()
    skdm = theirs.create()
    text = plaintext(rng, "genuine ")
    message = theirs.encrypt(text)
    with pytest.raises(SignalFailure) as failure:  # no SKDM processed yet
        ours.decrypt(THEM_SENDER, message)
    assert failure.value.code == "no_sender_key"
    ours.process(THEM_SENDER, skdm)
    for position in (len(message) - 1, len(message) - 40, len(message) - 70):
        tampered = bytearray(message)
        tampered[position] ^= 0x01
        with pytest.raises(SignalFailure) as failure:
            ours.decrypt(THEM_SENDER, bytes(tampered))
        assert failure.value.code == "invalid_sender_key_signature"
    assert ours.decrypt(THEM_SENDER, message) == text  # nothing was consumed by the failures
    # And the other way: python-axolotl refuses our message with a flipped signature bit.
    distribution = ours.create()
    theirs.process(US, US_DEVICE, bytes.fromhex(distribution["skdm"]))
    ours_message = bytearray(ours.encrypt(b"signed"))
    ours_message[-5] ^= 0x01
    with pytest.raises(InvalidMessageException):
        theirs.decrypt(US, US_DEVICE, bytes(ours_message))


def test_stored_records_are_libsignal_sender_key_records(ours, tmp_path):
    rng = random.Random(1205)
    # Our own record, read by python-axolotl: it continues our chain with our signing key.
    receiver = OurGroup(Ours(tmp_path / "receiver.json", "receiver"))
    receiver.process(US_SENDER, bytes.fromhex(ours.create()["skdm"]))
    first = plaintext(rng, "first ")
    first_message = ours.encrypt(first)
    store = InMemorySenderKeyStore()
    name = TheirGroup.name(US, US_DEVICE)
    store.storeSenderKey(name, SenderKeyRecord(serialized=bytes.fromhex(ours.record_hex(US_SENDER))))
    continued = plaintext(rng, "continued by axolotl from our record ")
    continued_message = GroupCipher(store, name).encrypt(continued)
    assert receiver.decrypt(US_SENDER, continued_message) == continued  # iteration 1, skipping 0
    assert receiver.decrypt(US_SENDER, first_message) == first

    # python-axolotl's record of someone's key, put into our state file: we decrypt with it.
    theirs = TheirGroup()
    holder = TheirGroup()
    holder.process(THEM, THEM_DEVICE, theirs.create())
    texts = [plaintext(rng, f"#{index} ") for index in range(3)]
    messages = [theirs.encrypt(text) for text in texts]
    assert holder.decrypt(THEM, THEM_DEVICE, messages[2]) == texts[2]  # keys 0 and 1 kept as skipped
    record = holder.store.loadSenderKey(TheirGroup.name(THEM, THEM_DEVICE)).serialize()
    with open(ours.ours.state) as file:
        state = json.load(file)
    state["sender_keys"][f"{GROUP}::{THEM}::{THEM_DEVICE}"] = record.hex()
    with open(ours.ours.state, "w") as file:
        json.dump(state, file)
    assert ours.decrypt(THEM_SENDER, messages[0]) == texts[0]
    assert ours.decrypt(THEM_SENDER, messages[1]) == texts[1]
    later = plaintext(rng, "later ")
    assert ours.decrypt(THEM_SENDER, theirs.encrypt(later)) == later
