import SwiftProtobuf
import Testing
import WauseBinary
import WauseCrypto
import WauseProto
import WauseProtocol
import WauseSignal
@testable import WauseSim
import WauseSupport
import WauseTestSupport

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Groups as the sim keeps them, driven over real connections with the `w:g2` iqs whatsmeow
/// group.go sends, and the `w:gp2` notifications and group fan-out the members' devices get.
@Suite struct GroupsTests {
    /// A companion of `phone` linked and logged in, its (empty) backlog read.
    static func member(_ setup: SimSetup, phone: String, name: String) async throws -> TestCompanion {
        _ = try setup.simulator.state.createAccount(phone: phone, pushName: name)
        let companion = TestCompanion()
        _ = try await PhoneLinkingTests.link(setup, companion, phone: phone)
        try await companion.login(setup.simulator, phone: phone, device: 1)
        #expect(try await companion.expectNode().tag == "success")
        #expect(try await companion.expectNode().tag == "ib")
        return companion
    }

    @Test func createQueryChangeAndLeaveAGroup() async throws {
        let setup = try await SimSetup()
        defer { Task { await setup.close() } }
        let alice = try await GroupsTests.member(setup, phone: "15550001111", name: "Alice")
        let bob = try await GroupsTests.member(setup, phone: "15550002222", name: "Bob")
        let carol = try setup.simulator.state.createAccount(phone: "15550003333", pushName: "Carol")
        let dave = try setup.simulator.state.createAccount(phone: "15550004444", pushName: "Dave")
        // Dave lets nobody add him: his add is answered 403 with an invite code instead.
        #expect(await admin(setup.simulator, "PUT", "/accounts/15550004444/privacy", ["groupadd": "none"]).status == 200)

        // Create (whatsmeow group.go CreateGroup): the answer is the <group> with every participant.
        let (created, aliceCreate) = try await alice.group(to: .groupServer, "set", Node(tag: "create", attributes: ["subject": "Trip", "key": "K1"], children: [
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550002222", server: .whatsApp))]),
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550003333", server: .whatsApp))]),
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550004444", server: .whatsApp))]),
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15559999999", server: .whatsApp))]),
        ]))
        #expect(created[attribute: "type"] == "result")
        let group = try #require(created.child("group"))
        let id = try #require(group[attribute: "id"])
        let groupJID = JID(user: id, server: .group)
        #expect(group[attribute: "subject"] == "Trip" && group[attribute: "addressing_mode"] == "pn" && group[attribute: "size"] == "3")
        let participants = group.children("participant")
        func participant(_ phone: String) -> Node? { participants.first { $0.jid("jid")?.user == phone } }
        #expect(participant("15550001111")?[attribute: "type"] == "superadmin")
        #expect(participant("15550002222")?[attribute: "error"] == nil)
        #expect(participant("15550003333")?.jid("lid") == JID(user: carol.lid, server: .lid))
        #expect(participant("15550004444")?[attribute: "error"] == "403")
        #expect(participant("15550004444")?.child("add_request")?[attribute: "code"]?.count == 22)
        #expect(participant("15559999999")?[attribute: "error"] == "404")
        _ = dave
        // Every member device hears of it (whatsmeow parseGroupCreate), the creator's own included.
        let bobCreate = try await bob.nextNotification()
        #expect(bobCreate[attribute: "from"] == groupJID.description && bobCreate[attribute: "type"] == "w:gp2")
        #expect(bobCreate.jid("participant") == JID(user: "15550001111", server: .whatsApp))
        #expect(bobCreate.child("create")?[attribute: "key"] == "K1")
        #expect(bobCreate.child("create")?.child("group")?[attribute: "id"] == id)
        #expect(aliceCreate.contains { $0.child("create") != nil })
        try bob.send(Node(tag: "ack", attributes: ["class": "notification", "id": .text(bobCreate[attribute: "id"]!), "to": .jid(groupJID)]))

        // Metadata (getGroupInfo): members only; 403 for others, 404 for no such group.
        let (info, _) = try await bob.group(to: groupJID, "get", Node(tag: "query", attributes: ["request": "interactive"]))
        #expect(info.child("group")?.children("participant").count == 3)
        let (unknown, _) = try await bob.group(to: JID(user: "120363000000000000", server: .group), "get",
                                               Node(tag: "query", attributes: ["request": "interactive"]))
        #expect(unknown.child("error")?[attribute: "code"] == "404")

        // A member who is not an admin may not add (401); the admin promotes, then it may.
        let (refused, _) = try await bob.group(to: groupJID, "set", Node(tag: "remove", children: [
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550003333", server: .whatsApp))]),
        ]))
        #expect(refused.child("error")?[attribute: "code"] == "401")
        let (promoted, _) = try await alice.group(to: groupJID, "set", Node(tag: "promote", children: [
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550002222", server: .whatsApp))]),
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: "15550004444", server: .whatsApp))]),
        ]))
        let outcomes = promoted.child("promote")?.children("participant") ?? []
        #expect(outcomes.count == 2 && outcomes[0][attribute: "error"] == nil && outcomes[1][attribute: "error"] == "404")
        let promote = try await bob.nextNotification()
        #expect(promote.child("promote")?.children("participant").map { $0.jid("jid")?.user } == ["15550002222"])

        // Subject and topic (SetGroupName, SetGroupTopic): a stale prev is 409.
        let (renamed, _) = try await bob.group(to: groupJID, "set", Node(tag: "subject", bytes: Array("Trip 2026".utf8)))
        #expect(renamed[attribute: "type"] == "result")
        let subject = try await alice.nextNotification()
        #expect(subject.child("subject")?[attribute: "subject"] == "Trip 2026")
        #expect(subject.child("subject")?.jid("s_o") == JID(user: "15550002222", server: .whatsApp))
        let (topic, _) = try await alice.group(to: groupJID, "set", Node(tag: "description", attributes: ["id": "T1"], children: [
            Node(tag: "body", bytes: Array("Bring boots".utf8)),
        ]))
        #expect(topic[attribute: "type"] == "result")
        let topicChange = try await bob.nextNotification()
        #expect(topicChange.child("description")?.child("body")?.bytes == Array("Bring boots".utf8))
        let (stale, _) = try await alice.group(to: groupJID, "set", Node(tag: "description", attributes: ["id": "T2", "prev": "T0"], children: [
            Node(tag: "body", bytes: Array("x".utf8)),
        ]))
        #expect(stale.child("error")?[attribute: "code"] == "409")

        // Invites (GetGroupInviteLink, reset; GetGroupInfoFromLink, JoinGroupWithLink).
        let (invite, _) = try await alice.group(to: groupJID, "get", Node(tag: "invite"))
        let firstCode = try #require(invite.child("invite")?[attribute: "code"])
        let (reset, _) = try await alice.group(to: groupJID, "set", Node(tag: "invite"))
        let secondCode = try #require(reset.child("invite")?[attribute: "code"])
        #expect(firstCode != secondCode)
        #expect(try await bob.nextNotification().child("invite")?[attribute: "code"] == secondCode)
        let (revoked, _) = try await bob.group(to: .groupServer, "get", Node(tag: "invite", attributes: ["code": .text(firstCode)]))
        #expect(revoked.child("error")?[attribute: "code"] == "410")
        let (never, _) = try await bob.group(to: .groupServer, "set", Node(tag: "invite", attributes: ["code": "AAAAAAAAAAAAAAAAAAAAAA"]))
        #expect(never.child("error")?[attribute: "code"] == "404")
        let (preview, _) = try await bob.group(to: .groupServer, "get", Node(tag: "invite", attributes: ["code": .text(secondCode)]))
        #expect(preview.child("group")?[attribute: "subject"] == "Trip 2026")
        let (already, _) = try await bob.group(to: .groupServer, "set", Node(tag: "invite", attributes: ["code": .text(secondCode)]))
        #expect(already.child("error")?[attribute: "code"] == "409")

        // Leave (LeaveGroup): the others see a remove by the leaver; then the group is closed to it (403).
        let (left, _) = try await bob.group(to: .groupServer, "set", Node(tag: "leave", children: [
            Node(tag: "group", attributes: ["id": .jid(groupJID)]),
        ]))
        #expect(left[attribute: "type"] == "result")
        let removal = try await alice.nextNotification()
        #expect(removal.child("remove")?.children("participant").first?.jid("jid")?.user == "15550002222")
        #expect(removal.jid("participant")?.user == "15550002222")
        let (outside, _) = try await bob.group(to: groupJID, "get", Node(tag: "query", attributes: ["request": "interactive"]))
        #expect(outside.child("error")?[attribute: "code"] == "403")
        // Back in by the link: every member hears an add with reason invite.
        let (joined, _) = try await bob.group(to: .groupServer, "set", Node(tag: "invite", attributes: ["code": .text(secondCode)]))
        #expect(joined.child("group")?.jid("jid") == groupJID)
        let rejoin = try await alice.nextNotification()
        #expect(rejoin.child("add")?[attribute: "reason"] == "invite")

        // The participating list (GetJoinedGroups).
        let (list, _) = try await alice.group(to: .groupServer, "get", Node(tag: "participating", children: [
            Node(tag: "participants"), Node(tag: "description"),
        ]))
        let listed = list.child("groups")?.children("group") ?? []
        #expect(listed.count == 1 && listed[0].child("description")?.child("body")?.bytes == Array("Bring boots".utf8))
        alice.close()
        bob.close()
    }

    @Test func aGroupMessageIsFannedOutWithTheGroupsPhash() async throws {
        let setup = try await SimSetup()
        defer { Task { await setup.close() } }
        let alice = try await GroupsTests.member(setup, phone: "15550001111", name: "Alice")
        let bob = try await GroupsTests.member(setup, phone: "15550002222", name: "Bob")
        let carol = try setup.simulator.state.createAccount(phone: "15550003333", pushName: "Carol")
        let created = await admin(setup.simulator, "POST", "/accounts/15550001111/groups", [
            "subject": "LID group", "participants": ["15550002222", .string(carol.lidJID)], "addressing_mode": "lid",
        ])
        #expect(created.status == 200, "\(created.json)")
        let groupJID = try #require(created.json["jid"]?.stringValue.flatMap(JID.init))
        let aliceAccount = try #require(try setup.simulator.state.account(phone: "15550001111"))
        let bobAccount = try #require(try setup.simulator.state.account(phone: "15550002222"))
        #expect(created.json["participants"]?.arrayValue?.first?["jid"]?.stringValue == aliceAccount.lidJID)
        #expect(try await bob.nextNotification().child("create") != nil)
        #expect(try await alice.nextNotification().child("create") != nil)

        // whatsmeow sendGroup: the SKDM pairwise per device, one skmsg for all.
        let bobDevice = JID(user: bobAccount.lid, device: 1, server: .lid)
        let pairwise = Node(tag: "enc", attributes: ["v": "2", "type": "msg"], bytes: [1, 2, 3])
        let skmsg = Node(tag: "enc", attributes: ["v": "2", "type": "skmsg"], bytes: [4, 5, 6])
        try alice.send(Node(tag: "message", attributes: ["id": "G1", "to": .jid(groupJID), "type": "text", "addressing_mode": "lid"], children: [
            Node(tag: "participants", children: [Node(tag: "to", attributes: ["jid": .jid(bobDevice)], children: [pairwise])]),
            skmsg,
        ]))
        let ack = try await alice.expectNode()
        #expect(ack.tag == "ack" && ack[attribute: "id"] == "G1" && ack[attribute: "error"] == nil)
        var devices: [JID] = []
        for account in [aliceAccount, bobAccount, carol] {
            devices += try setup.simulator.state.endpoints(of: account).map { $0.jid(.lid) }
        }
        #expect(ack[attribute: "phash"] == ParticipantHash.v2(devices))
        let delivered = try await bob.expectNode()
        #expect(delivered.tag == "message" && delivered.jid("from") == groupJID)
        #expect(delivered.jid("participant") == JID(user: aliceAccount.lid, device: 1, server: .lid))
        #expect(delivered.jid("participant_pn") == JID(user: aliceAccount.phone, device: 1, server: .whatsApp))
        #expect(delivered.children("enc").map { $0[attribute: "type"] } == ["msg", "skmsg"])
        // Bob's receipt goes back to Alice's device, from the group with Bob as participant.
        try bob.send(Node(tag: "receipt", attributes: ["id": "G1", "to": .jid(groupJID), "participant": .jid(delivered.jid("participant")!)]))
        #expect(try await bob.expectNode().tag == "ack")
        // The phones (Alice's own, Bob's, Carol's) got only the skmsg and hold no sender key of
        // Alice's (the bytes are not even one): each asks again with a retry receipt to the group,
        // naming Alice's device, as a client that cannot decrypt does (whatsmeow retry.go).
        var receipts: [String: Node] = [:]
        while receipts.count < 4 {
            let receipt = try await alice.expectNode()
            #expect(receipt.tag == "receipt" && receipt.jid("from") == groupJID && receipt[attribute: "id"] == "G1")
            let participant = receipt.jid("participant")
            receipts["\(participant?.user ?? "?"):\(participant?.device ?? 99)"] = receipt
        }
        let bobCompanion = try #require(receipts["\(bobAccount.lid):1"], "\(receipts)")
        #expect(bobCompanion[attribute: "type"] == nil)
        for phone in [aliceAccount, bobAccount, carol] {
            let retry = try #require(receipts["\(phone.lid):0"], "\(receipts)")
            #expect(retry[attribute: "type"] == "retry" && retry.child("retry")?[attribute: "count"] == "1")
        }

        // Not a member: 403; no such group: 404 (whatsmeow reads any ack error as a failed send).
        let outsider = try await GroupsTests.member(setup, phone: "15550005555", name: "Eve")
        try outsider.send(Node(tag: "message", attributes: ["id": "G2", "to": .jid(groupJID), "type": "text"], children: [skmsg]))
        #expect(try await outsider.expectNode()[attribute: "error"] == "403")
        try outsider.send(Node(tag: "message", attributes: ["id": "G3", "to": .jid(JID(user: "120363000000000001", server: .group)), "type": "text"],
                               children: [skmsg]))
        #expect(try await outsider.expectNode()[attribute: "error"] == "404")
        alice.close()
        bob.close()
        outsider.close()
    }
    /// A companion with its own Signal store (libsignal's algorithms in WauseSignal, as the
    /// engine will use them) and a virtual phone exchange group messages through the sim's
    /// fan-out: the phone's SKDM arrives pairwise and its skmsg decrypts; the companion's SKDM
    /// and skmsg reach the phone, whose inbox names the group and the author.
    @Test func aCompanionAndAPhoneExchangeGroupMessagesWithSenderKeys() async throws {
        let setup = try await SimSetup()
        defer { Task { await setup.close() } }
        let alice = try await GroupsTests.member(setup, phone: "15550001111", name: "Alice")
        _ = try setup.simulator.state.createAccount(phone: "15550002222", pushName: "Bob")
        let store = InMemorySignalStore(identityKeyPair: alice.identityKey, registrationId: alice.registrationID)
        // whatsmeow prekeys.go uploadPreKeys, with the private halves kept.
        let signed = Curve25519KeyPair.generate(random: SystemRandom.bytes)
        let signature = try XEdDSA.sign(message: [5] + signed.publicKey, privateKey: alice.identityKey.privateKey, random: SystemRandom.bytes(64))
        store.storeSignedPreKey(SignedPreKeyRecord(id: 7, keyPair: signed, signature: signature, timestamp: 0))
        var keys: [Node] = []
        for id in 1...10 {
            let pair = Curve25519KeyPair.generate(random: SystemRandom.bytes)
            store.storePreKey(PreKeyRecord(id: UInt32(id), keyPair: pair))
            keys.append(Node(tag: "key", children: [Node(tag: "id", bytes: DeviceRequestsTests.threeBytes(id)), Node(tag: "value", bytes: pair.publicKey)]))
        }
        let registration = PreKeyStanzas.bigEndian(alice.registrationID, bytes: 4)
        let uploaded = try await alice.query("encrypt", "set", [
            Node(tag: "registration", bytes: registration), Node(tag: "type", bytes: [5]), Node(tag: "identity", bytes: alice.identityKey.publicKey),
            Node(tag: "list", children: keys),
            Node(tag: "skey", children: [Node(tag: "id", bytes: DeviceRequestsTests.threeBytes(7)), Node(tag: "value", bytes: signed.publicKey),
                                         Node(tag: "signature", bytes: signature)]),
        ])
        #expect(uploaded[attribute: "type"] == "result")

        let created = await admin(setup.simulator, "POST", "/accounts/15550002222/groups", ["subject": "Mixed", "participants": ["15550001111"]])
        #expect(created.status == 200, "\(created.json)")
        let groupJID = try #require(created.json["jid"]?.stringValue.flatMap(JID.init))
        #expect(try await alice.nextNotification().child("create") != nil)

        // The phone writes: a pkmsg carrying its SKDM, then the skmsg (whatsmeow decryptGroupMsg).
        let sent = await admin(setup.simulator, "POST", "/accounts/15550002222/send", ["to": .string(groupJID.description), "text": "from the phone"])
        #expect(sent.status == 200, "\(sent.json)")
        let message = try await alice.expectNode()
        #expect(message.tag == "message" && message.jid("from") == groupJID)
        let author = try #require(message.jid("participant"))
        #expect(author.user == "15550002222" && author.device == 0)
        let encs = message.children("enc")
        #expect(encs.map { $0[attribute: "type"] } == ["pkmsg", "skmsg"])
        let bobAddress = SignalAddress(user: author.user, device: author.device, server: author.server.rawValue)
        let pairwise = try SessionCipher(address: bobAddress, store: store, random: SystemRandom.bytes)
            .decrypt(try PreKeySignalMessage(serialized: try #require(encs.first?.bytes)))
        let carrier = try WAWebProtobufsE2E_Message(serializedBytes: try MessageFormat.unpad(pairwise))
        #expect(carrier.senderKeyDistributionMessage.groupID == groupJID.description)
        let bobKey = SenderKeyName(groupId: groupJID.description, sender: bobAddress)
        try GroupSessionBuilder(store: store).process(
            try SenderKeyDistributionMessage(serialized: Array(carrier.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage)), from: bobKey)
        let plaintext = try GroupCipher(name: bobKey, store: store).decrypt(try SenderKeyMessage(serialized: try #require(encs.last?.bytes)))
        #expect(try WAWebProtobufsE2E_Message(serializedBytes: try MessageFormat.unpad(plaintext)).conversation == "from the phone")
        try alice.send(Node(tag: "receipt", attributes: ["id": .text(message[attribute: "id"]!), "to": .jid(groupJID), "participant": .jid(author)]))
        #expect(try await alice.expectNode().tag == "ack")

        // A second message whose skmsg the companion cannot use (as if it had lost the sender
        // key): its retry receipt to the group makes the phone resend the message with its SKDM,
        // pairwise, to this device only (whatsmeow retry.go handleRetryReceipt).
        let second = await admin(setup.simulator, "POST", "/accounts/15550002222/send", ["to": .string(groupJID.description), "text": "again"])
        let secondID = try #require(second.json["message_id"]?.stringValue)
        let skipped = try await alice.expectNode()
        #expect(skipped[attribute: "id"] == secondID)
        try alice.send(ReceiptStanzas.Receipt(ids: [secondID], type: .retry, to: groupJID, participant: author,
                                              retry: ReceiptStanzas.Retry(count: 1, id: secondID, t: skipped[attribute: "t"].flatMap(Int64.init)),
                                              registrationID: alice.registrationID).node)
        #expect(try await alice.expectNode().tag == "ack")
        let resent = try await alice.expectNode()
        #expect(resent.tag == "message" && resent[attribute: "id"] == secondID && resent.jid("from") == groupJID && resent.jid("participant") == author)
        let resentEnc = try #require(resent.children("enc").first)
        #expect(resent.children("enc").count == 1 && resentEnc[attribute: "count"] == "1")
        // Still a pkmsg: the companion has not written to the phone pairwise yet (Signal keeps the prekey header until it has).
        let resentCipher = SessionCipher(address: bobAddress, store: store, random: SystemRandom.bytes)
        let resentBytes = try #require(resentEnc.bytes)
        let resentPlain = resentEnc[attribute: "type"] == "pkmsg" ? try resentCipher.decrypt(try PreKeySignalMessage(serialized: resentBytes))
            : try resentCipher.decrypt(try SignalMessage(serialized: resentBytes))
        let resentMessage = try WAWebProtobufsE2E_Message(serializedBytes: try MessageFormat.unpad(resentPlain))
        #expect(resentMessage.conversation == "again" && resentMessage.hasSenderKeyDistributionMessage)

        // The companion writes (whatsmeow sendGroup): its SKDM pairwise to the phone, one skmsg.
        let aliceAccount = try #require(try setup.simulator.state.account(phone: "15550001111"))
        let ownKey = SenderKeyName(groupId: groupJID.description,
                                   sender: SignalAddress(user: aliceAccount.lid, device: 1, server: JID.Server.lid.rawValue))
        let distribution = try GroupSessionBuilder(store: store).create(for: ownKey)
        var skdm = WAWebProtobufsE2E_Message()
        skdm.senderKeyDistributionMessage.groupID = groupJID.description
        skdm.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = Data(distribution.serialized)
        let sealed = try SessionCipher(address: bobAddress, store: store, random: SystemRandom.bytes)
            .encrypt(MessageFormat.pad(try MessageFormat.encode(skdm), random: SystemRandom.bytes))
        var text = WAWebProtobufsE2E_Message()
        text.conversation = "from the companion"
        let skmsg = try GroupCipher(name: ownKey, store: store).encrypt(MessageFormat.pad(try MessageFormat.encode(text), random: SystemRandom.bytes))
        try alice.send(Node(tag: "message", attributes: ["id": "C1", "to": .jid(groupJID), "type": "text"], children: [
            Node(tag: "participants", children: [Node(tag: "to", attributes: ["jid": .jid(author)], children: [
                Node(tag: "enc", attributes: ["v": "2", "type": .text(sealed.type)], bytes: sealed.serialized),
            ])]),
            Node(tag: "enc", attributes: ["v": "2", "type": "skmsg"], bytes: skmsg.serialized),
        ]))
        let ack = try await alice.expectNode()
        #expect(ack.tag == "ack" && ack[attribute: "id"] == "C1" && ack[attribute: "error"] == nil)
        var row: JSONValue?
        try await poll {
            row = await MessagingTests.inbox(setup.simulator, "15550002222").first { $0["id"] == "C1" }
            return row != nil
        }
        #expect(row?["text"] == "from the companion" && row?["chat"] == .string(groupJID.description))
        #expect(row?["author"] == "15550001111@s.whatsapp.net" && row?["from"] == "15550001111:1@s.whatsapp.net")
        alice.close()
    }
    /// A member device that is away while the group changes and a message is sent gets both,
    /// in order, when it logs in again (queued like any offline stanza), and acking the
    /// notification takes it off the queue for good.
    @Test func aMemberAwayGetsTheChangesAndMessagesWhenItReturns() async throws {
        let setup = try await SimSetup()
        defer { Task { await setup.close() } }
        let bob = try await GroupsTests.member(setup, phone: "15550002222", name: "Bob")
        _ = try setup.simulator.state.createAccount(phone: "15550001111", pushName: "Alice")
        let created = await admin(setup.simulator, "POST", "/accounts/15550001111/groups", ["subject": "Away", "participants": ["15550002222"]])
        let groupJID = try #require(created.json["jid"]?.stringValue.flatMap(JID.init))
        let create = try await bob.nextNotification()
        try bob.send(Node(tag: "ack", attributes: ["class": "notification", "id": .text(create[attribute: "id"]!), "to": .jid(groupJID)]))
        try await bob.expectNothingPending()
        bob.close()

        #expect(await admin(setup.simulator, "PUT", "/accounts/15550001111/groups/\(groupJID)", ["subject": "Renamed"]).status == 200)
        let sent = await admin(setup.simulator, "POST", "/accounts/15550001111/send", ["to": .string(groupJID.description), "text": "while away"])
        #expect(sent.status == 200, "\(sent.json)")

        try await bob.login(setup.simulator, phone: "15550002222", device: 1)
        #expect(try await bob.expectNode().tag == "success")
        let renamed = try await bob.expectNode()
        #expect(renamed.tag == "notification" && renamed.child("subject")?[attribute: "subject"] == "Renamed")
        let message = try await bob.expectNode()
        #expect(message.tag == "message" && message.jid("from") == groupJID && message[attribute: "id"] == sent.json["message_id"]?.stringValue)
        #expect(message.children("enc").map { $0[attribute: "type"] } == ["pkmsg", "skmsg"])
        #expect(try await bob.expectNode().child("offline")?[attribute: "count"] == "2")
        try bob.send(Node(tag: "ack", attributes: ["class": "notification", "id": .text(renamed[attribute: "id"]!), "to": .jid(groupJID)]))
        try await bob.expectNothingPending()
        // The acked notification is gone; the message, not yet receipted, is still queued.
        #expect(try setup.simulator.state.queueCount(phone: "15550002222", device: 1) == 1)
        bob.close()
    }
    /// whatsmeow group.go CreateGroup with members named by LID: a LID-addressed group, members
    /// as `LID@lid` with `phone_number` beside (parseParticipant), the creator as `creator` LID
    /// and `creator_pn`.
    @Test func aGroupCreatedWithLIDsIsLIDAddressed() async throws {
        let setup = try await SimSetup()
        defer { Task { await setup.close() } }
        let alice = try await GroupsTests.member(setup, phone: "15550001111", name: "Alice")
        let bob = try setup.simulator.state.createAccount(phone: "15550002222", pushName: "Bob")
        let (created, _) = try await alice.group(to: .groupServer, "set", Node(tag: "create", attributes: ["subject": "LID"], children: [
            Node(tag: "participant", attributes: ["jid": .jid(JID(user: bob.lid, server: .lid))]),
        ]))
        let group = try #require(created.child("group"))
        let aliceAccount = try #require(try setup.simulator.state.account(phone: "15550001111"))
        #expect(group[attribute: "addressing_mode"] == "lid")
        #expect(group.jid("creator") == JID(user: aliceAccount.lid, server: .lid))
        #expect(group.jid("creator_pn") == JID(user: "15550001111", server: .whatsApp))
        let member = try #require(group.children("participant").first { $0.jid("jid")?.user == bob.lid })
        #expect(member.jid("jid")?.server == .lid && member.jid("phone_number") == JID(user: "15550002222", server: .whatsApp))
        alice.close()
    }
}

extension TestCompanion {
    /// A `w:g2` iq to `to` and its answer, with the notifications that arrived before it.
    func group(to: JID, _ type: String, _ child: Node) async throws -> (Node, [Node]) {
        let id = nextID()
        try send(Node(tag: "iq", attributes: ["to": .jid(to), "type": .text(type), "id": .text(id), "xmlns": "w:g2"], children: [child]))
        var before: [Node] = []
        while true {
            let node = try await expectNode()
            if node.tag == "iq", node[attribute: "id"] == id { return (node, before) }
            before.append(node)
        }
    }

    /// The next `w:gp2` notification (other stanzas are skipped).
    func nextNotification() async throws -> Node {
        while true {
            let node = try await expectNode()
            if node.tag == "notification", node[attribute: "type"] == "w:gp2" { return node }
        }
    }
}
