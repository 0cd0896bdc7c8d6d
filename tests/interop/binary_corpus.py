"""Shared corpus for the binary XML cross-check, in our JSON form of a node (`wause-wire encode
--help`). Realistic stanzas shaped after whatsmeow/Baileys traffic
(whatsmeow pair.go, pair-code.go, connectionevents.go, prekeys.go), plus seeded random nodes.

Entries are (name, node, differences) where `differences` names the documented ways in which
baileys-python's *encoding* of the same node differs from ours (see test_binary_xml.py):
  "server-jid"  a server-only JID attribute: we write the JID pair FA 00 03, baileys-python the
                bare token 03 (docs/interop-oracles.md caveat; whatsmeow ignores such stanzas)
  "fb-jid"      msgr / interop JIDs: baileys-python's encoder writes them as AD_JID / JID_PAIR,
                we (as whatsmeow) as FB_JID / INTEROP_JID
"""

from __future__ import annotations

import random

SERVER = {"jid": "s.whatsapp.net"}
PEER = {"jid": "14155550123@s.whatsapp.net"}
PEER_DEVICE = {"jid": "14155550123:3@s.whatsapp.net"}
GROUP = {"jid": "120363012345678901@g.us"}


def _bytes(rng: random.Random, count: int) -> dict:
    return {"bytes_hex": rng.randbytes(count).hex()}


def node(tag: str, attrs: dict | None = None, content=None) -> dict:
    result: dict = {"tag": tag}
    if attrs:
        result["attrs"] = attrs
    if content is not None:
        result["content"] = content
    return result


def message_stanza(rng: random.Random) -> dict:
    """A one-to-one message to three devices plus the sender's device identity (the benchmark's
    "message" corpus shape: three <to><enc> of 180 bytes and a 120-byte <device-identity>)."""
    devices = ["14155550123@s.whatsapp.net", "14155550123:3@s.whatsapp.net", "491701234567:5@s.whatsapp.net"]
    return node("message", {"id": "3EB0B7C9D2E4F60718293A", "to": PEER, "type": "text"}, [
        node("participants", None, [
            node("to", {"jid": {"jid": device}}, [node("enc", {"v": "2", "type": "pkmsg"}, _bytes(rng, 180))])
            for device in devices
        ]),
        node("device-identity", None, _bytes(rng, 120)),
    ])


def stanzas() -> list[tuple[str, dict, set[str]]]:
    rng = random.Random(0xC0DEC)
    return [
        ("bare iq", node("iq"), set()),
        ("ack", node("ack", {"id": "1.2"}), set()),
        ("keepalive", node("iq", {"id": "1.2-3", "xmlns": "w:p", "type": "get", "to": SERVER}), {"server-jid"}),
        ("count prekeys", node("iq", {"id": "abc", "xmlns": "encrypt", "type": "get", "to": SERVER}, [node("count")]), {"server-jid"}),
        ("message", message_stanza(rng), set()),
        ("group message", node("message", {"id": "3EB0C0FFEE1234567890", "to": GROUP, "type": "text"}, [
            node("participants", None, [node("to", {"jid": PEER_DEVICE}, [node("enc", {"v": "2", "type": "pkmsg"}, _bytes(rng, 200))])]),
            node("enc", {"v": "2", "type": "skmsg"}, _bytes(rng, 90)),
        ]), set()),
        ("incoming message", node("message", {
            "from": PEER, "type": "text", "id": "3EB05D1A9E7C", "t": "1718000000", "notify": "Ana María 🌻",
            "sender_lid": {"jid": "201234567890123@lid"},
        }, [node("enc", {"v": "2", "type": "msg"}, _bytes(rng, 64))]), set()),
        ("receipt", node("receipt", {"id": "3EB05D1A9E7C", "to": PEER}), set()),
        ("read receipt", node("receipt", {"id": "3EB05D1A9E7C", "to": GROUP, "participant": PEER_DEVICE, "type": "read", "t": "1718000001"}, [
            node("list", None, [node("item", {"id": "3EB05D1A9E7D"}), node("item", {"id": "3EB05D1A9E7E"})]),
        ]), set()),
        ("retry receipt", node("receipt", {"id": "3EB0AA", "to": PEER_DEVICE, "type": "retry"}, [
            node("retry", {"count": "1", "id": "3EB0AA", "t": "1718000002", "v": "1"}),
            node("registration", None, {"bytes_hex": "00003039"}),
        ]), set()),
        ("message ack", node("ack", {"id": "3EB05D1A9E7C", "class": "message", "from": PEER, "t": "1718000003"}), set()),
        ("encrypt notification", node("notification", {"from": SERVER, "type": "encrypt", "id": "1234567890", "t": "1718000004"}, [
            node("count", {"value": "4"}),
        ]), {"server-jid"}),
        ("devices notification", node("notification", {
            "from": PEER, "type": "devices", "id": "987654321", "t": "1718000005", "lid": {"jid": "201234567890123@lid"},
        }, [node("add", {"device_hash": "2:abc"}, [
            node("device", {"jid": {"jid": "14155550123:7@s.whatsapp.net"}, "key-index": "5"}),
            node("key-index-list", {"ts": "1718000005"}, _bytes(rng, 40)),
        ])]), set()),
        ("pair-device with 6 refs", node("iq", {"from": SERVER, "type": "set", "id": "1234-5678", "xmlns": "md"}, [
            node("pair-device", None, [
                node("ref", None, {"bytes_hex": f"2@{i}qZx9Vb3kLmN0pQrStUvWxYz+/AbCdEfGhIjKlMnOpQ==".encode().hex()}) for i in range(6)
            ]),
        ]), {"server-jid"}),
        ("pair-success", node("iq", {"from": SERVER, "type": "set", "id": "2233", "xmlns": "md"}, [
            node("pair-success", None, [
                node("device-identity", None, _bytes(rng, 180)),
                node("biz", {"name": "Café Luna"}),
                node("device", {"jid": {"jid": "491701234567:12@s.whatsapp.net"}, "lid": {"jid": "101234567890123:12@lid"}}),
                node("platform", {"name": "smba"}),
            ]),
        ]), {"server-jid"}),
        ("success with lid", node("success", {
            "t": "1718000006", "props": "3", "abprops": "21", "location": "frc", "lid": {"jid": "101234567890123@lid"},
            "creation": "1700000000", "companion_enc_static": "Zm9vYmFyYmF6",
        }), set()),
        ("stream error", node("stream:error", None, [node("conflict", {"type": "replaced"})]), set()),
        ("failure", node("failure", {"reason": "401", "location": "atn"}), set()),
        ("presence", node("presence", {"name": "wause", "type": "available"}), set()),
        ("usync", node("iq", {"to": SERVER, "type": "get", "xmlns": "usync", "id": "42"}, [
            node("usync", {"sid": "3EB0AB", "mode": "query", "last": "true", "index": "0", "context": "message"}, [
                node("query", None, [node("devices", {"version": "2"})]),
                node("list", None, [node("user", {"jid": PEER}), node("user", {"jid": {"jid": "4915112345678@s.whatsapp.net"}})]),
            ]),
        ]), {"server-jid"}),
        ("group participants", node("iq", {"to": GROUP, "type": "set", "xmlns": "w:g2", "id": "43"}, [
            node("add", None, [node("participant", {"jid": {"jid": f"4917000000{i}@s.whatsapp.net"}}) for i in range(300)]),
        ]), set()),
        ("status broadcast", node("message", {"to": {"jid": "status@broadcast"}, "id": "3EB0FF", "type": "text"}, [
            node("enc", {"v": "2", "type": "skmsg"}, _bytes(rng, 48)),
        ]), set()),
        ("newsletter", node("message", {"to": {"jid": "120363123456789012@newsletter"}, "id": "3EB0FE", "type": "text"}, [
            node("plaintext", None, {"bytes_hex": b"hello channel".hex()}),
        ]), set()),
        ("hosted", node("item", {"hosted": {"jid": "5511999999999:99@hosted"}, "hosted_lid": {"jid": "77777:0@hosted.lid"}}), set()),
        ("messenger and interop", node("item", {"fb": {"jid": "100001234:2@msgr"}, "interop": {"jid": "7-555123:1@interop"}}), {"fb-jid"}),
        ("text content", node("wrapper", None, [
            node("token", None, "s.whatsapp.net"),
            node("version", None, "2.3000.1012345678"),
            node("hexid", None, "3EB0ABCDEF"),
            node("body", None, "héllo wörld"),
            node("empty", None, []),
        ]), set()),
        ("BINARY_20", node("media", None, _bytes(rng, 70_000)), set()),
    ]


# --------------------------------------------------------------------------------------------
# Seeded random nodes, restricted to what both encoders write identically


TOKENS = ["iq", "message", "receipt", "ack", "id", "to", "from", "type", "enc", "participant", "g.us",
          "pair-device", "ref", "failure", "passive", "skey", "1", "12", "100", "03", "1080"]


def _word(rng: random.Random, alphabet: str, low: int, high: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def _string(rng: random.Random) -> str:
    choice = rng.randrange(6)
    if choice == 0:
        return rng.choice(TOKENS)
    if choice == 1:
        return _word(rng, "0123456789-.", 1, 130)
    if choice == 2:
        return _word(rng, "0123456789ABCDEF", 1, 130)
    if choice == 3:
        return _word(rng, "abcdef0123456789", 1, 40)
    if choice == 4:
        return _word(rng, "abcxyzé🌻 _+/=", 1, 300)  # no '@' or ':': baileys-python would parse a JID
    return _word(rng, "abcdefghijklmnopqrstuvwxyz-_", 1, 24)


def _jid(rng: random.Random) -> dict:
    user = str(rng.randrange(1, 10**14))
    device = rng.randint(1, 255)
    choice = rng.randrange(6)
    if choice == 0:
        return {"jid": f"{user}@s.whatsapp.net"}
    if choice == 1:
        return {"jid": f"{user}:{device}@s.whatsapp.net"}
    if choice == 2:
        return {"jid": f"{user}:{device}@lid"}
    if choice == 3:
        return {"jid": f"{user}:{rng.randint(0, 255)}@hosted"}
    if choice == 4:
        return {"jid": f"{user}@{rng.choice(['g.us', 'broadcast', 'newsletter', 'lid', 'c.us', 'bot'])}"}
    return {"jid": f"{user}:{rng.randint(0, 255)}@hosted.lid"}


def random_node(rng: random.Random, depth: int = 1) -> dict:
    tag = rng.choice(TOKENS) if rng.random() < 0.5 else _word(rng, "abcdefgh-_", 1, 12)
    attrs = {}
    for _ in range(rng.randint(0, 6)):
        name = rng.choice(TOKENS) if rng.random() < 0.5 else _word(rng, "abcdefgh_", 1, 10)
        attrs[name] = _jid(rng) if rng.random() < 0.3 else _string(rng)
    choice = rng.randrange(7 if depth < 5 else 5)
    if choice == 0:
        content = None
    elif choice == 1:
        content = {"bytes_hex": rng.randbytes(70_000 if rng.random() < 0.01 else rng.randint(0, 300)).hex()}
    elif choice == 2:
        content = _string(rng)
    elif choice == 3:
        content = _jid(rng)
    elif choice == 4:
        content = []
    else:
        content = [random_node(rng, depth + 1) for _ in range(rng.randint(1, 4))]
    return node(tag, attrs, content) if content is not None or attrs else {"tag": tag}
