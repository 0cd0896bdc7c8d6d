import Testing
import WauseBinary
import WauseCrypto
@testable import WauseCore
import WauseProtocol
import WauseSignal
import WauseSupport
import WauseTestSupport

/// The store side of groups (migration 5): a group and its chat, participant changes and our
/// standing (read-only once we are out), names for the group tools, who holds our sender key,
/// and sender-key records in SQLite.
@Suite struct GroupStoreTests {
    static let group = JID(user: "120363000000000001", server: .group)

    static func trip(_ participants: [GroupStanzas.Participant]) -> GroupStanzas.Group {
        GroupStanzas.Group(jid: group, name: "Trip", topic: "Lisbon", topicID: "T1", owner: JID(user: "15550000001", server: .whatsApp),
                           creation: 1_700_000_000, addressingMode: "pn", announce: false, locked: true, participants: participants)
    }

    @Test func aGroupIsStoredWithItsChatAndFollowsChanges() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let me = GroupStanzas.Participant(jid: JID(user: "15550000001", server: .whatsApp), lid: JID(user: "900001", server: .lid), admin: .superadmin)
        let bob = GroupStanzas.Participant(jid: JID(user: "15550000002", server: .whatsApp), admin: .none)
        try store.saveGroup(GroupStoreTests.trip([me, bob]), isParticipant: true, now: 10)
        let stored = try #require(try store.group(jid: GroupStoreTests.group.description))
        #expect(stored.group == GroupStoreTests.trip([me, bob]) && stored.isParticipant)
        #expect(try store.chatSummary(jid: GroupStoreTests.group.description)?["is_group"] == true)
        #expect(try store.chatSummary(jid: GroupStoreTests.group.description)?["name"] == "Trip")
        #expect(try Groups.resolve("trip", store: store) == GroupStoreTests.group)

        // Promote Bob, rename, clear the topic.
        try store.updateGroupParticipants(jid: GroupStoreTests.group.description, action: "promote", participants: [bob], ours: [], now: 11)
        try store.updateGroup(jid: GroupStoreTests.group.description, name: "Trip 2", topic: .some(nil), now: 12)
        let changed = try #require(try store.group(jid: GroupStoreTests.group.description))
        #expect(changed.group.participants.last?.admin == .admin && changed.group.name == "Trip 2" && changed.group.topic == nil)
        #expect(try store.chatSummary(jid: GroupStoreTests.group.description)?["name"] == "Trip 2")

        // Our key is held by Bob's device until someone is removed; we are removed: the chat is read-only.
        try store.addSenderKeyHolders(group: GroupStoreTests.group.description, devices: ["15550000002:1@s.whatsapp.net"], now: 13)
        #expect(try store.senderKeyHolders(group: GroupStoreTests.group.description) == ["15550000002:1@s.whatsapp.net"])
        try store.updateGroupParticipants(jid: GroupStoreTests.group.description, action: "remove", participants: [me],
                                          ours: ["15550000001@s.whatsapp.net"], now: 14)
        let out = try #require(try store.group(jid: GroupStoreTests.group.description))
        #expect(!out.isParticipant && out.group.participants.map(\.jid.user) == ["15550000002"])
        #expect(try store.chatSummary(jid: GroupStoreTests.group.description)?["is_read_only"] == true)
        #expect(try store.senderKeyHolders(group: GroupStoreTests.group.description).isEmpty)
        // Added back: writable again.
        try store.updateGroupParticipants(jid: GroupStoreTests.group.description, action: "add", participants: [me],
                                          ours: ["15550000001@s.whatsapp.net"], now: 15)
        #expect(try store.chatSummary(jid: GroupStoreTests.group.description)?["is_read_only"] == false)
    }

    @Test func groupNamesResolveOrAreAmbiguous() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        try store.saveGroup(GroupStanzas.Group(jid: JID(user: "1-1", server: .group), name: "Team"), isParticipant: true, now: 1)
        try store.saveGroup(GroupStanzas.Group(jid: JID(user: "1-2", server: .group), name: "team"), isParticipant: true, now: 1)
        #expect(throws: WauseError.self) { try Groups.resolve("Nobody", store: store) }
        do {
            _ = try Groups.resolve("TEAM", store: store)
            Issue.record("an ambiguous name resolved")
        } catch {
            #expect(error.code == .ambiguousRecipient && error.details?["candidates"]?.arrayValue?.count == 2)
        }
        #expect(try Groups.resolve("1-2@g.us", store: store).user == "1-2")
        #expect(throws: WauseError.self) { try Groups.resolve("not a jid@g.us", store: store) }
    }

    @Test func senderKeysPersistAndDecryptAcrossStores() throws {
        let temp = TemporaryDirectory()
        let name = SenderKeyName(groupId: GroupStoreTests.group.description, sender: SignalAddress(user: "15550000001", device: 1, server: "s.whatsapp.net"))
        var ciphertext: SenderKeyMessage
        var distribution: SenderKeyDistributionMessage
        do {
            let store = try Store(directory: temp.path)
            let keys = SQLiteSenderKeyStore(store: store, clock: { 1 })
            distribution = try GroupSessionBuilder(store: keys).create(for: name)
            ciphertext = try GroupCipher(name: name, store: keys).encrypt(Array("hello group".utf8))
            store.close()
        }
        // A receiver with the distribution message reads it; our own record survives a reopen and goes on.
        let receiver = InMemorySignalStore(identityKeyPair: Curve25519KeyPair.generate(random: SystemRandom.bytes), registrationId: 1)
        try GroupSessionBuilder(store: receiver).process(distribution, from: name)
        #expect(try GroupCipher(name: name, store: receiver).decrypt(ciphertext) == Array("hello group".utf8))
        let reopened = try Store(directory: temp.path)
        defer { reopened.close() }
        let keys = SQLiteSenderKeyStore(store: reopened, clock: { 2 })
        #expect(try GroupSessionBuilder(store: keys).create(for: name).keyId == distribution.keyId)
        ciphertext = try GroupCipher(name: name, store: keys).encrypt(Array("again".utf8))
        #expect(try GroupCipher(name: name, store: receiver).decrypt(ciphertext) == Array("again".utf8))
    }
}
