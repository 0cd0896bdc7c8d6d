"""An independent WhatsApp client and a wause engine in one group, through wause-sim (issue 12,
"An independent client … exchanges group messages with a wause client through the sim").

The independent client is sim_client.py's (websockets, dissononce, baileys-python's binary XML,
python-axolotl 0.2.3): its sender keys are python-axolotl's GroupSessionBuilder/GroupCipher, and
the `w:g2` iq, the usync, the prekey fetch and the group `<message>` are written here from
whatsmeow (group.go createGroup, user.go, prekeys.go, send.go sendGroup/prepareMessageNode,
message.go decryptGroupMsg) — nothing of our Swift code. The engine is a real `wause-mcp`
(toolsets core,groups) driven through its MCP tools and event stream, as in
test_independent_client_and_wause.py. A third member is a virtual phone of the sim, whose inbox
shows what it decrypted.

Both ways of making the group are tried:
  1. the independent client creates it (`<iq xmlns=w:g2 to=@g.us type=set><create subject key>`);
     the engine learns it from the `w:gp2` notification;
  2. the engine creates it (`whatsapp_create_group`); the independent client gets the `create`
     notification.
In each: messages both ways. Independent → wause: the SKDM in a pairwise pkmsg to every device
that lacks it (the engine's, the phones') plus one `skmsg`; the ack's phash is checked against
ParticipantHash v2 computed here. wause → independent: its SKDM decrypted pairwise and its skmsg
by python-axolotl. A second message each way reuses the sender key: no pairwise part at all.
The engine files every message once, in the group's chat, with `from` the sender and `author`
their push name.

Run: WAUSE_SIM=.build/debug/wause-sim WAUSE_MCP=.build/debug/wause-mcp \\
    .venv-interop/bin/python -m pytest -q tests/interop/test_group_independent_client.py
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import time

import pytest
from axolotl.axolotladdress import AxolotlAddress
from axolotl.groups.groupcipher import GroupCipher
from axolotl.groups.groupsessionbuilder import GroupSessionBuilder
from axolotl.groups.senderkeyname import SenderKeyName
from axolotl.protocol.senderkeydistributionmessage import SenderKeyDistributionMessage
from axolotl.tests.groups.inmemorysenderkeystore import InMemorySenderKeyStore

import sim_client as sc
from sim_client import SimProcess
# The sim and root fixtures (module-scoped: one simulator per module) are that test's own.
from test_independent_client_and_wause import Engine, Peer, new_message_id, node, root, sim, stopped_cleanly, wait_until  # noqa: F401

_phones = itertools.count(15558300001)
_ids = itertools.count(1)


def create_account(sim, phone: str, push_name: str) -> dict:
    response = sim.admin("POST", "/accounts", {"phone": phone, "push_name": push_name})
    assert response.status == 201, response
    return response.json()


def device_jid(user_jid: str, device: int) -> str:
    user, server = user_jid.split("@")
    return f"{user}:{device}@{server}" if device else user_jid


def device_number(jid: str) -> int:
    user = jid.split("@")[0]
    return int(user.split(":")[1]) if ":" in user else 0


def participant_hash_v2(devices: list[str]) -> str:
    """whatsmeow send.go participantListHashV2: "2:" + unpadded base64 of the first 6 bytes of
    SHA-256 over the sorted `user.agent:device@server` strings (types/jid.go ADString)."""
    def ad_string(jid: str) -> str:
        user, server = jid.split("@")
        user, _, device = user.partition(":")
        return f"{user}.0:{device or 0}@{server}"
    digest = hashlib.sha256("".join(sorted(ad_string(j) for j in devices)).encode()).digest()
    return "2:" + base64.b64encode(digest[:6]).decode().rstrip("=")


def sender_key_distribution(group: str, skdm: bytes) -> bytes:
    """waE2E.Message{senderKeyDistributionMessage = 2 {groupID = 1, axolotlSenderKeyDistributionMessage = 2}}
    (proto/WAE2E.proto; whatsmeow send.go sendGroup)."""
    return sc.pb_bytes(2, sc.pb_bytes(1, group) + sc.pb_bytes(2, skdm))


class GroupClient(Peer):
    """The independent client as a group member: python-axolotl sender keys beside its sessions."""

    def __init__(self, sim: SimProcess, root: bytes, account: dict):
        super().__init__(sim, root, account)
        # python-axolotl keeps one trusted identity per name (the user), as libsignal-java 2.x did;
        # on WhatsApp every device of a user has its own identity key (whatsmeow keeps identities
        # per `user.device` address), so a second device of the same user would look like an
        # identity change. Trust per device is the 1:1 tests' business; here every device is trusted.
        self.store.identityKeyStore.isTrustedIdentity = lambda name, key: True
        self.sender_keys = InMemorySenderKeyStore()
        self.holders: dict[str, set[str]] = {}  # group → the devices that got our SKDM

    def own_device(self, lid: bool) -> str:
        """Our device JID in a group's addressing form: `PHONE:N@s.whatsapp.net` or `LID:N@lid`."""
        return device_jid(self.account["lid"], device_number(self.device_jid)) if lid else self.device_jid

    # -- iqs -----------------------------------------------------------------------------------

    def group_server_iq(self, type_: str, children):
        """`<iq xmlns=w:g2 to=@g.us>` (whatsmeow group.go sendGroupIQ with types.GroupServerJID). The
        empty-user `@g.us` is a jid-typed attribute: written as the JID pair `FA 00 <g.us>`, as
        whatsmeow's encoder writes it (baileys-python would write the text "@g.us")."""
        iq_id = f"gi-{next(_ids)}"
        stanza = node("iq", {"id": iq_id, "to": "@g.us", "type": type_, "xmlns": "w:g2"}, children)
        encoded = sc.encode_node(stanza)
        as_text = bytes([sc.token("to"), 0xFC, 5]) + b"@g.us"
        assert encoded.count(as_text) == 1, encoded.hex()
        self.companion.send_plaintext(encoded.replace(as_text, bytes([sc.token("to"), 0xFA, 0x00, sc.token("g.us")])))
        return self.expect(lambda s: s.tag == "iq" and s.attrs.get("id") == iq_id, f"the answer to w:g2 {type_}")

    def create_group(self, subject: str, members: list[str]):
        """whatsmeow group.go CreateGroup: `<create subject key><participant jid/>…</create>` → `<group id=…>`."""
        key = new_message_id()
        answer = self.group_server_iq("set", [node("create", {"subject": subject, "key": key},
                                                   [node("participant", {"jid": jid}) for jid in members])])
        assert answer.attrs.get("type") == "result", answer
        [group] = [c for c in answer.content if c.tag == "group"]
        return group

    def group_iq(self, group: str, type_: str, children):
        """`<iq xmlns=w:g2 to=GROUP>` (whatsmeow group.go sendGroupIQ); the answer, result or error."""
        iq_id = f"gi-{next(_ids)}"
        self.companion.send(node("iq", {"id": iq_id, "to": group, "type": type_, "xmlns": "w:g2"}, children))
        return self.expect(lambda s: s.tag == "iq" and s.attrs.get("id") == iq_id, f"the answer to w:g2 {type_} to {group}")

    def usync_devices(self, users: list[str]) -> dict[str, list[str]]:
        """One usync for every member (whatsmeow user.go GetUserDevicesContext): user JID → device JIDs."""
        answer = self.query("usync", "get", [node("usync", {"sid": f"g{next(_ids)}", "mode": "query", "last": "true",
                                                            "index": "0", "context": "message"}, [
            node("query", {}, [node("devices", {"version": "2"})]),
            node("list", {}, [node("user", {"jid": user}) for user in users]),
        ])])
        assert answer.attrs.get("type") == "result", answer
        listed = {}
        for user in answer.content[0].content[0].content:
            devices = next(child for child in user.content if child.tag == "devices")
            listed[user.attrs["jid"]] = [device_jid(user.attrs["jid"], int(d.attrs["id"])) for d in devices.content[0].content]
        assert set(listed) == set(users), (listed, users)
        return listed

    def fetch_sessions(self, devices: list[str]) -> None:
        """One `<iq xmlns=encrypt type=get><key><user jid/>…` for every device we have no session with (whatsmeow prekeys.go fetchPreKeys)."""
        missing = [d for d in devices if not self.store.containsSession(*sc.signal_name(d))]
        if not missing:
            return
        answer = self.query("encrypt", "get", [node("key", {}, [node("user", {"jid": d}) for d in missing])])
        assert answer.attrs.get("type") == "result", answer
        users = answer.content[0].content
        assert sorted(u.attrs["jid"] for u in users) == sorted(missing), users
        for user in users:
            sc.process_bundle(self.store, user)

    # -- sending -------------------------------------------------------------------------------

    def send_group(self, group: str, members: list[str], text: str, lid: bool = False, withhold: tuple[str, ...] = ()) -> dict:
        """whatsmeow send.go sendGroup, with Baileys' bookkeeping of who already holds our sender
        key (messages-send.ts senderKeyMap): the SKDM pairwise to each member device that lacks it,
        the text once under our sender key, `phash` over every member device (ours included).
        In a LID group members, devices, sessions and our sender key are all named by LID
        (whatsmeow sendGroup: `getOwnLID().SignalAddress()`). Returns {id, to (the devices given
        the SKDM), kinds, ack}. `withhold`: devices left without the SKDM (a lost one)."""
        own = self.own_device(lid)
        listed = self.usync_devices(members)
        everyone = [d for devices in listed.values() for d in devices]
        assert own in everyone, (own, listed)
        holders = self.holders.setdefault(group, set())
        needing = [d for d in everyone if d != own and d not in holders and d not in withhold]
        name = SenderKeyName(group, AxolotlAddress(*sc.signal_name(own)))
        skdm = GroupSessionBuilder(self.sender_keys).create(name).serialize()
        children, kinds = [], {}
        if needing:
            self.fetch_sessions(needing)
            plaintext = sender_key_distribution(group, skdm)
            parts = []
            for device in needing:
                kind, ciphertext = sc.encrypt(self.store, device, plaintext)
                kinds[device] = kind
                parts.append(node("to", {"jid": device}, [node("enc", {"v": "2", "type": kind}, ciphertext)]))
            children.append(node("participants", {}, parts))
        skmsg = GroupCipher(self.sender_keys, name).encrypt(sc.pad(sc.text_message(text)))
        children.append(node("enc", {"v": "2", "type": "skmsg"}, skmsg))
        if "pkmsg" in kinds.values():
            children.append(node("device-identity", {}, self.device_identity))
        message_id = new_message_id()
        phash = participant_hash_v2(everyone)
        self.companion.send(node("message", {"id": message_id, "to": group, "type": "text", "phash": phash}, children))
        ack = self.server_ack(message_id, group)
        assert ack.attrs.get("phash") == phash, (ack.attrs, phash)  # the server sees the same member devices
        holders.update(needing)
        return {"id": message_id, "to": needing, "kinds": kinds, "ack": ack}

    def answer_group_retry(self, group: str, receipt, text: str, original_t: str) -> str:
        """whatsmeow retry.go handleRetryReceipt for a group: the message again, pairwise to the
        device that asked, with our SKDM in the same Message (`senderKeyDistributionMessage`
        beside `conversation`), `<message to=GROUP participant=DEVICE id type t=ORIGINAL><enc
        count=N/>` (+ device-identity with a pkmsg). Returns the enc type."""
        device = receipt.attrs["participant"]
        [retry] = [c for c in receipt.content if c.tag == "retry"]
        self.fetch_sessions([device])
        skdm = GroupSessionBuilder(self.sender_keys).create(SenderKeyName(group, AxolotlAddress(*sc.signal_name(self.device_jid)))).serialize()
        kind, ciphertext = sc.encrypt(self.store, device, sc.text_message(text) + sender_key_distribution(group, skdm))
        children = [node("enc", {"v": "2", "type": kind, "count": retry.attrs["count"]}, ciphertext)]
        if kind == "pkmsg":
            children.append(node("device-identity", {}, self.device_identity))
        message_id = receipt.attrs["id"]
        self.companion.send(node("message", {"to": group, "type": "text", "id": message_id, "t": original_t, "participant": device}, children))
        self.server_ack(message_id, group)
        self.holders.setdefault(group, set()).add(device)
        return kind

    # -- receiving -----------------------------------------------------------------------------

    def receive_group(self, group: str, sender_device: str, message_id: str) -> dict:
        """A `<message from=GROUP participant=SENDER_DEVICE>` (whatsmeow message.go decryptMessages):
        the pairwise part (if any) holds the sender's SKDM, processed by python-axolotl's
        GroupSessionBuilder; then the skmsg through GroupCipher; our delivery receipt to the
        group naming the sender (whatsmeow receipt.go sendMessageReceipt)."""
        message = self.expect(lambda s: s.tag == "message" and s.attrs.get("id") == message_id, f"group message {message_id}")
        assert message.attrs.get("from") == group and message.attrs.get("participant") == sender_device, message.attrs
        assert message.attrs.get("t", "").isdigit() and message.attrs.get("type") == "text", message.attrs
        encs = [child for child in message.content if child.tag == "enc"]
        assert [e.attrs.get("type") for e in encs][-1] == "skmsg" and all(e.attrs.get("v") == "2" for e in encs), message
        name = SenderKeyName(group, AxolotlAddress(*sc.signal_name(sender_device)))
        pairwise = [e.attrs["type"] for e in encs[:-1]]
        for enc in encs[:-1]:
            fields = sc.pb_decode(sc.decrypt(self.store, sender_device, enc.attrs["type"], enc.content))
            assert set(fields) <= {2, 35}, fields  # senderKeyDistributionMessage, messageContextInfo
            distribution = sc.pb_decode(sc.pb_one(fields, 2))
            assert sc.pb_one(distribution, 1) == group.encode(), distribution
            GroupSessionBuilder(self.sender_keys).process(name, SenderKeyDistributionMessage(serialized=sc.pb_one(distribution, 2)))
        text = sc.conversation(sc.unpad(GroupCipher(self.sender_keys, name).decrypt(encs[-1].content)))
        self.companion.send(node("receipt", {"id": message_id, "to": group, "participant": sender_device}))
        return {"stanza": message, "pairwise": pairwise, "text": text}


# --------------------------------------------------------------------------------------------
# Fixtures: one sim, a fresh engine, independent client and phone per test




@pytest.fixture
def wause(sim, tmp_path_factory):
    engine = Engine(sim, tmp_path_factory.mktemp("engine"), create_account(sim, str(next(_phones)), "Wause"),
                    extra=("--toolsets", "core,groups"))
    yield engine
    stopped_cleanly(engine.server)


@pytest.fixture
def independent(sim, root, wause):
    client = GroupClient(sim, root, create_account(sim, str(next(_phones)), "Independent"))
    yield client
    client.close()


@pytest.fixture
def phone(sim):
    """A third member: a sim account with no companion, its virtual phone decrypting for it."""
    return create_account(sim, str(next(_phones)), "Phoebe")


def phone_row(sim, account: dict, text: str) -> dict:
    """The phone's inbox row of `text`, once it decrypted it (no event to block on: polled under the deadline)."""
    def row():
        messages = sim.admin("GET", f"/accounts/{account['phone']}/inbox").json()["messages"]
        found = [m for m in messages if m.get("text") == text]
        assert len(found) <= 1, found
        return found[0] if found else None
    return wait_until(row, f"{account['phone']} decrypted {text!r}")


def check_received(wause: Engine, independent: GroupClient, group: str, message_id: str, text: str) -> None:
    data = wause.received(message_id)
    message = data["message"]
    assert message["body"] == text and message["from_me"] is False, data
    assert message["chat_id"] == group, data
    assert message["from"] == independent.jid and message["author"] == "Independent", data
    assert data["sender_phone"] == independent.phone, data


def group_history(wause: Engine, group: str) -> dict[str, tuple[str, bool, str | None]]:
    history = wause.call("whatsapp_read_messages", {"phone_number": group, "limit": 100})
    assert history["chat"]["id"] == group and history["chat"]["is_group"] is True, history["chat"]
    ids = [m["id"] for m in history["messages"]]
    assert len(ids) == len(set(ids)), ids
    return {m["id"]: (m["body"], m["from_me"], m["from"]) for m in history["messages"]}


def conversation_both_ways(sim, wause: Engine, independent: GroupClient, phone: dict, group: str, members: list[str],
                           wause_first: bool, lid: bool = False) -> None:
    """Two messages each way; the first from either side carries the SKDM, the second does not.
    `lid`: the group is LID-addressed, so every member and device is named by LID on the wire."""
    def user(account: dict) -> str:
        return account["lid"] if lid else account["jid"]

    wause_device = device_jid(user(wause.account), device_number(wause.device_jid))
    expected: dict[str, tuple[str, bool]] = {}
    assert len(independent.usync_devices([user(wause.account)])[user(wause.account)]) == 2, "the engine's account: its phone and the engine"

    def independent_says(text: str, first: bool) -> None:
        sent = independent.send_group(group, members, text, lid=lid)
        if first:
            # Every member device but ours: the engine, both phones (ours included).
            assert sorted(sent["to"]) == sorted([wause_device, user(wause.account), user(phone), user(independent.account)]), sent
        else:
            assert sent["to"] == [] and sent["kinds"] == {}, sent  # the sender key is reused: no new SKDM
        check_received(wause, independent, group, sent["id"], text)
        row = phone_row(sim, phone, text)
        assert row["chat"] == group and row["author"] == user(independent.account), row
        expected[sent["id"]] = (text, False)

    def wause_says(text: str, first: bool) -> None:
        sent = wause.call("whatsapp_send_message", {"to": group, "message": text})
        assert sent["ok"] is True and sent["chat_id"] == group and sent["status"] in ("sent", "delivered"), sent
        got = independent.receive_group(group, wause_device, sent["message_id"])
        assert got["text"] == text, got
        if lid:
            assert got["stanza"].attrs.get("participant_pn") == wause.device_jid, got["stanza"].attrs
        if first:
            assert len(got["pairwise"]) == 1 and got["pairwise"][0] in ("pkmsg", "msg"), got
        else:
            assert got["pairwise"] == [], got  # wause's sender key, already ours: only the skmsg
        row = phone_row(sim, phone, text)
        assert row["chat"] == group and row["author"] == user(wause.account), row
        expected[sent["message_id"]] = (text, True)

    order = [wause_says, independent_says] if wause_first else [independent_says, wause_says]
    order[0]("first, with my sender key — ünïcødé ✓", True)
    order[1]("first from me too, with mine 🚀", True)
    order[0]("second: the same sender key", False)
    order[1]("second from me, no SKDM this time", False)

    stored = group_history(wause, group)
    assert {k: v[:2] for k, v in stored.items()} == expected, (stored, expected)
    for message_id, (_, from_me) in expected.items():
        if not from_me:
            assert stored[message_id][2] == independent.jid, stored[message_id]  # one contact, by phone, whatever the group's form
            assert wause.received_count(message_id) == 1, message_id


# --------------------------------------------------------------------------------------------
# 1. the independent client creates the group


def test_independent_client_creates_the_group_and_messages_go_both_ways(sim, wause, independent, phone):
    created = independent.create_group("Made by the independent client", [wause.jid, phone["jid"]])
    # whatsmeow group.go parseGroupNode: `id` is the group's user part; `<participant jid type>`.
    assert "@" not in created.attrs["id"], created.attrs
    group = created.attrs["id"] + "@g.us"
    assert created.attrs.get("subject") == "Made by the independent client", created.attrs
    assert created.attrs.get("creator") == independent.jid, created.attrs
    roles = {p.attrs["jid"]: p.attrs.get("type") for p in created.content if p.tag == "participant"}
    assert roles == {independent.jid: "superadmin", wause.jid: None, phone["jid"]: None}, roles

    # The engine learns the group from the w:gp2 `create` notification.
    event = wause.events.next("group.created")
    assert event["data"]["group_id"] == group and event["data"]["name"] == "Made by the independent client", event
    info = wause.call("whatsapp_get_group_info", {"group": group})
    assert {p["phone"]: p["admin"] for p in info["participants"]} == {
        independent.phone: "superadmin", wause.phone: "none", phone["phone"]: "none"}, info

    members = [independent.jid, wause.jid, phone["jid"]]
    conversation_both_ways(sim, wause, independent, phone, group, members, wause_first=False)


# --------------------------------------------------------------------------------------------
# 2. the engine creates the group


def test_wause_creates_the_group_and_messages_go_both_ways(sim, wause, independent, phone):
    created = wause.call("whatsapp_create_group", {"name": "Made by wause", "participants": [independent.phone, phone["phone"]]})
    group = created["group_id"]
    assert {p["phone"]: p["status"] for p in created["participants"]} == {independent.phone: "added", phone["phone"]: "added"}, created

    # The independent client's `<notification type=w:gp2 from=GROUP participant=CREATOR><create><group …>`.
    notification = independent.expect(lambda s: s.tag == "notification" and s.attrs.get("type") == "w:gp2"
                                      and s.attrs.get("from") == group, "the w:gp2 create notification")
    assert notification.attrs.get("participant") == wause.jid, notification.attrs
    [create] = notification.content
    assert create.tag == "create", notification
    [described] = [c for c in create.content if c.tag == "group"]
    assert described.attrs.get("subject") == "Made by wause" and described.attrs.get("id") + "@g.us" == group, described.attrs
    assert {p.attrs["jid"] for p in described.content if p.tag == "participant"} == {wause.jid, independent.jid, phone["jid"]}

    members = [wause.jid, independent.jid, phone["jid"]]
    conversation_both_ways(sim, wause, independent, phone, group, members, wause_first=True)


# --------------------------------------------------------------------------------------------
# 3. a LID-addressed group: the independent client names the members by LID


def test_a_lid_group_made_by_the_independent_client(sim, wause, independent, phone):
    created = independent.create_group("LIDs only", [wause.account["lid"], phone["lid"]])
    group = created.attrs["id"] + "@g.us"
    assert created.attrs.get("addressing_mode") == "lid", created.attrs
    listed = {p.attrs["jid"]: p.attrs.get("phone_number") for p in created.content if p.tag == "participant"}
    assert listed == {independent.account["lid"]: independent.jid, wause.account["lid"]: wause.jid, phone["lid"]: phone["jid"]}, listed
    assert wause.events.next("group.created")["data"]["group_id"] == group

    members = [independent.account["lid"], wause.account["lid"], phone["lid"]]
    conversation_both_ways(sim, wause, independent, phone, group, members, wause_first=False, lid=True)


# --------------------------------------------------------------------------------------------
# 4. someone the engine may not add (their privacy settings) is sent the group's invitation,
#    and joins with it


def read_invitation(independent: GroupClient, wause: Engine, message_id: str) -> dict:
    """A 1:1 message of the engine holding waE2E.Message{groupInviteMessage = 28 {groupJID = 1,
    inviteCode = 2, inviteExpiration = 3, groupName = 4, caption = 6}} (whatsmeow proto
    waE2E GroupInviteMessage), decrypted by python-axolotl and read field by field here."""
    message = independent.expect(lambda s: s.tag == "message" and s.attrs.get("id") == message_id, f"invitation {message_id}")
    # 1:1 goes LID-first (whatsmeow send.go SendMessage): from the engine's LID device, its number in sender_pn;
    # this client keeps the session under the number (test_independent_client_and_wause.py Peer.receive_text).
    assert message.attrs.get("from") == wause.lid_device_jid and message.attrs.get("sender_pn") == wause.jid, message.attrs
    assert message.attrs.get("type") == "text", message.attrs
    [enc] = [c for c in message.content if c.tag == "enc"]
    fields = sc.pb_decode(sc.decrypt(independent.store, wause.device_jid, enc.attrs["type"], enc.content))
    assert set(fields) <= {28, 35}, fields
    invite = sc.pb_decode(sc.pb_one(fields, 28))
    independent.companion.send(node("receipt", {"id": message_id, "to": message.attrs["from"]}))
    return {"group": sc.pb_one(invite, 1, b"").decode(), "code": sc.pb_one(invite, 2, b"").decode(),
            "expiration": sc.pb_one(invite, 3, 0), "name": sc.pb_one(invite, 4, b"").decode(),
            "caption": sc.pb_one(invite, 6, b"").decode()}


def test_someone_wause_may_not_add_gets_the_groups_invitation_and_joins_with_it(sim, wause, independent, phone):
    refused = sim.admin("PUT", f"/accounts/{independent.phone}/privacy", {"groupadd": "none"})
    assert refused.status == 200, refused
    now = int(time.time())
    created = wause.call("whatsapp_create_group", {"name": "Invite only", "participants": [independent.phone, phone["phone"]]})
    group = created["group_id"]
    outcomes = {p["phone"]: p for p in created["participants"]}
    assert outcomes[phone["phone"]]["status"] == "added", created
    mine = outcomes[independent.phone]
    assert mine["status"] == "invite_required" and mine["error_code"] == 403 and mine["invite_message_id"], created

    invitation = read_invitation(independent, wause, mine["invite_message_id"])
    assert invitation["group"] == group and invitation["name"] == "Invite only", invitation
    assert invitation["caption"] and len(invitation["code"]) >= 8, invitation
    assert now < invitation["expiration"] <= now + 30 * 86_400, invitation  # the add_request's expiration, days ahead
    def status_once_delivered():
        status = wause.call("whatsapp_message_status", {"message_id": mine["invite_message_id"]})
        return status if status["status"] in ("delivered", "read") else None
    delivered = wait_until(status_once_delivered, "the invitation delivered")
    assert delivered["chat_id"] == independent.jid and delivered["from_me"] is True, delivered

    # Adding them later is refused the same way: a second invitation, with a new code.
    added = wause.call("whatsapp_update_group_participants", {"group": group, "action": "add", "participants": [independent.phone]})
    [again] = added["participants"]
    assert again["status"] == "invite_required" and again["invite_message_id"] not in (None, mine["invite_message_id"]), added
    second = read_invitation(independent, wause, again["invite_message_id"])
    assert second["group"] == group and second["code"] and second["code"] != invitation["code"], (second, invitation)

    # The engine files both in the chat with them, as its own messages.
    history = wause.call("whatsapp_read_messages", {"phone_number": independent.phone, "limit": 10})["messages"]
    invites = [m for m in history if m["id"] in (mine["invite_message_id"], again["invite_message_id"])]
    assert [(m["type"], m["from_me"], m["body"]) for m in invites] == [("group_invite", True, invitation["caption"])] * 2, history
    # Nobody joined by being invited: the group still has two members.
    info = wause.call("whatsapp_get_group_info", {"group": group})
    assert {p["phone"] for p in info["participants"]} == {wause.phone, phone["phone"]}, info

    # The invitation is accepted (whatsmeow group.go JoinGroupWithInvite: `<accept code expiration admin>` to the group).
    def accept(invite: dict) -> object:
        return independent.group_iq(group, "set", [node("accept", {"code": invite["code"], "expiration": str(invite["expiration"]),
                                                                   "admin": wause.jid})])
    wrong = accept({**invitation, "code": "NotTheCode1234"})
    assert wrong.attrs.get("type") == "error" and wrong.content[0].attrs.get("code") == "404", wrong
    joined = accept(invitation)
    assert joined.attrs.get("type") == "result", joined
    changed = wause.events.next("group.participants_changed")["data"]
    assert changed["group_id"] == group and changed["action"] == "add" and changed["participants"] == [independent.jid], changed
    assert changed["reason"] == "invite", changed
    again = accept(second)  # a member already
    assert again.attrs.get("type") == "error" and again.content[0].attrs.get("code") == "409", again

    # And the new member is in the conversation: both ways, sender keys and all.
    members = [wause.jid, independent.jid, phone["jid"]]
    said = wause.call("whatsapp_send_message", {"to": group, "message": "welcome, invitee"})
    assert independent.receive_group(group, wause.device_jid, said["message_id"])["text"] == "welcome, invitee"
    sent = independent.send_group(group, members, "thanks for the invitation")
    check_received(wause, independent, group, sent["id"], "thanks for the invitation")
    assert phone_row(sim, phone, "thanks for the invitation")["author"] == independent.jid


# --------------------------------------------------------------------------------------------
# 5. a lost SKDM: wause's retry receipt, answered as whatsmeow does


def test_a_lost_skdm_is_recovered_through_wauses_retry_receipt(sim, wause, independent, phone):
    created = independent.create_group("Lossy", [wause.jid, phone["jid"]])
    group = created.attrs["id"] + "@g.us"
    assert wause.events.next("group.created")["data"]["group_id"] == group
    members = [independent.jid, wause.jid, phone["jid"]]

    text = "the engine has no sender key for this one yet"
    sent = independent.send_group(group, members, text, withhold=(wause.device_jid,))
    assert wause.device_jid not in sent["to"] and device_jid(phone["jid"], 0) in sent["to"], sent
    # The phone had the SKDM and reads it; the engine cannot, and asks (whatsmeow retry.go sendRetryReceipt):
    # `<receipt from=GROUP participant=ENGINE_DEVICE type=retry id><retry count=1 id t v=1/><registration/>`.
    assert phone_row(sim, phone, text)["author"] == independent.jid
    receipt = independent.expect(lambda s: s.tag == "receipt" and s.attrs.get("type") == "retry" and s.attrs.get("id") == sent["id"],
                                 "the engine's retry receipt")
    assert receipt.attrs.get("from") == group and receipt.attrs.get("participant") == wause.device_jid, receipt.attrs
    retry = {c.tag: c for c in receipt.content}
    assert retry["retry"].attrs.get("count") == "1" and retry["retry"].attrs.get("id") == sent["id"], retry
    assert retry["retry"].attrs.get("t") == sent["ack"].attrs["t"] and len(retry["registration"].content) == 4, retry

    assert independent.answer_group_retry(group, receipt, text, sent["ack"].attrs["t"]) == "pkmsg"
    check_received(wause, independent, group, sent["id"], text)

    # The SKDM that came with the resend serves the next skmsg: nothing pairwise this time.
    after = independent.send_group(group, members, "and now with the key you got on the retry")
    assert after["to"] == [], after
    check_received(wause, independent, group, after["id"], "and now with the key you got on the retry")
    assert wause.received_count(sent["id"]) == 1 and wause.received_count(after["id"]) == 1
    stored = group_history(wause, group)
    assert {k: v[:2] for k, v in stored.items()} == {sent["id"]: (text, False),
                                                    after["id"]: ("and now with the key you got on the retry", False)}, stored
