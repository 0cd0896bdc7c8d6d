import Testing
@testable import WauseCore
import WauseCrypto
import WauseTestSupport
import WauseSupport

/// What pairing, prekey uploads and logout leave in a real SQLite store (whatsmeow
/// store/store.go Device, prekeys.go uploadPreKeys, client.go Logout).
@Suite struct PreKeyAndLogoutStoreTests {
    let random = SeededRandom(seed: 0x60)

    /// A store with its device identity, and a verified link from `TestPhone`.
    func pairedStore(_ temp: TemporaryDirectory, phone: TestPhone = TestPhone(seed: 20), now: UnixTime = 1_000)
        throws -> (Store, DeviceIdentity, PairSuccess.Link, [UInt8])
    {
        let store = try Store(directory: temp.path)
        let identity = try store.deviceIdentity(creatingWith: random.bytes, now: now)
        let advSecret = random.bytes(32)
        let link = try PairSuccess.verify(phone.pairSuccess(for: identity, advSecret: advSecret), identity: identity,
                                          advSecret: advSecret, random: random.bytes)
        try store.savePairing(link, advSecret: advSecret, now: now)
        return (store, identity, link, advSecret)
    }

    func count(_ store: Store, _ sql: String) throws -> Int64 {
        try store.database.withConnection { (c) throws(WauseError) in try c.scalar(sql) }
    }

    // MARK: savePairing

    @Test func savePairingStoresTheLinkAndTrustsTheAccountKeyAtTheLID() throws {
        let temp = TemporaryDirectory()
        do {
            let unlinked = try Store(directory: temp.path)
            #expect(try unlinked.linkedAccount() == nil)
            unlinked.close()
        }
        let phone = TestPhone(seed: 20)
        let (store, identity, link, advSecret) = try pairedStore(temp, phone: phone, now: 1_234)
        defer { store.close() }

        let account = try #require(try store.linkedAccount())
        #expect(account.jid == "15551234567:7@s.whatsapp.net")
        #expect(account.lid == "98765432101234:7@lid")
        #expect(account.platform == "android")
        #expect(try store.loggedOutAt() == nil)

        // The primary's identity key, trusted at the LID's device 0 address: `user@lid` as first
        // stored, or libsignal's name:device with whatsmeow's `_1` suffix for the lid domain.
        let identities = try store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT address, identity_key, trusted_at FROM identities")
        }
        #expect(identities.count == 1)
        #expect(lidDeviceZeroAddresses("98765432101234").contains(identities.first?["address"].text ?? ""))
        #expect(identities.first?["identity_key"].blob == phone.accountKey.publicKey)
        #expect(identities.first?["trusted_at"].integer == 1_234)

        let device = try #require(try store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT adv_secret, adv_signed_identity, account_signature_key, paired_at FROM device WHERE id = 1").first
        })
        #expect(device["adv_secret"].blob == advSecret)
        #expect(device["adv_signed_identity"].blob == link.signedIdentity)
        #expect(device["account_signature_key"].blob == phone.accountKey.publicKey)
        #expect(device["paired_at"].integer == 1_234)
        // The device keys themselves are untouched; the ADV secret is the one the link used.
        var expected = identity
        expected.advSecret = advSecret
        #expect(try store.loadDeviceIdentity() == expected)

        // Our own contact: phone and LID of one person.
        let contacts = try store.database.withConnection { (c) throws(WauseError) in try c.query("SELECT phone, lid FROM contacts") }
        #expect(contacts.count == 1)
        #expect(contacts.first?["phone"].text == "15551234567")
        #expect(contacts.first?["lid"].text == "98765432101234")
    }

    @Test func savePairingWithoutALIDTrustsNothingAndSavingAgainReplaces() throws {
        let temp = TemporaryDirectory()
        var phone = TestPhone(seed: 21)
        phone.lidJID = nil
        let (store, identity, _, _) = try pairedStore(temp, phone: phone)
        defer { store.close() }
        #expect(try store.linkedAccount()?.lid == nil)
        #expect(try count(store, "SELECT count(*) FROM identities") == 0)

        // Linking again (to another phone, with a LID) replaces the account, not adds to it.
        var second = TestPhone(seed: 22)
        second.deviceJID = "15557654321:3@s.whatsapp.net"
        second.lidJID = "11112222333344:3@lid"
        let advSecret = random.bytes(32)
        let link = try PairSuccess.verify(second.pairSuccess(for: identity, advSecret: advSecret), identity: identity,
                                          advSecret: advSecret, random: random.bytes)
        try store.savePairing(link, advSecret: advSecret, now: 2_000)
        #expect(try store.linkedAccount()?.jid == "15557654321:3@s.whatsapp.net")
        let addresses = try store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT address FROM identities").compactMap { $0["address"].text }
        }
        #expect(addresses.count == 1 && lidDeviceZeroAddresses("11112222333344").contains(addresses[0]))
        #expect(try count(store, "SELECT count(*) FROM device") == 1)
    }

    // MARK: prekeys

    @Test func preparePreKeysCountsUpAndOffersLeftoversFirst() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        _ = try store.deviceIdentity(creatingWith: random.bytes, now: 1)

        let first = try store.preparePreKeys(count: 5, random: random.bytes, now: 10)
        #expect(first.map(\.id) == [1, 2, 3, 4, 5])
        #expect(Set(first.map(\.publicKey)).count == 5)
        #expect(try store.uploadedPreKeyCount() == 0)
        // Each stored private key belongs to the public key handed out.
        let rows = try store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT id, private_key, public_key, uploaded, created_at FROM prekeys ORDER BY id")
        }
        for (row, key) in zip(rows, first) {
            #expect(row["id"].integer == Int64(key.id))
            #expect(row["public_key"].blob == key.publicKey)
            #expect(try Curve25519KeyPair(privateKey: try #require(row["private_key"].blob)).publicKey == key.publicKey)
            #expect(row["uploaded"].integer == 0)
            #expect(row["created_at"].integer == 10)
        }

        // The upload of 1–3 was confirmed; 4 and 5 never got an answer, so they go out again first.
        try store.markPreKeysUploaded([1, 2, 3])
        #expect(try store.uploadedPreKeyCount() == 3)
        let second = try store.preparePreKeys(count: 4, random: random.bytes, now: 20)
        #expect(second.map(\.id) == [4, 5, 6, 7])
        #expect(second[0].publicKey == first[3].publicKey && second[1].publicKey == first[4].publicKey)
        // Fewer wanted than left over: the lowest ids, nothing new.
        #expect(try store.preparePreKeys(count: 2, random: random.bytes, now: 30).map(\.id) == [4, 5])
        #expect(try count(store, "SELECT count(*) FROM prekeys") == 7)

        try store.markPreKeysUploaded(second.map(\.id))
        #expect(try store.uploadedPreKeyCount() == 7)
        #expect(try store.preparePreKeys(count: 3, random: random.bytes, now: 40).map(\.id) == [8, 9, 10])
        // Marking unknown ids or marking twice changes nothing.
        try store.markPreKeysUploaded([8, 8, 999])
        #expect(try store.uploadedPreKeyCount() == 8)
    }

    @Test func preKeyIDsWrapPast24BitsAndSkipIDsInUse() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        _ = try store.deviceIdentity(creatingWith: random.bytes, now: 1)
        let keys = try store.preparePreKeys(count: 3, random: random.bytes, now: 1)
        try store.markPreKeysUploaded(keys.map(\.id))
        try store.database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("INSERT INTO prekeys (id, private_key, public_key, uploaded, created_at) VALUES (?, ?, ?, 1, 1)",
                              [.integer(Int64(PreKeys.maximumID) - 1), .blob([UInt8](repeating: 1, count: 32)), .blob([UInt8](repeating: 2, count: 32))])
        }
        #expect(try store.preparePreKeys(count: 4, random: random.bytes, now: 2).map(\.id) == [0xFF_FFFF, 4, 5, 6])
    }

    @Test func uploadSizeFollowsWhatsmeow() {
        #expect(PreKeys.uploadSize(serverCount: 0, everUploaded: false) == 812)
        #expect(PreKeys.uploadSize(serverCount: 0, everUploaded: true) == 50)
        #expect(PreKeys.uploadSize(serverCount: 4, everUploaded: false) == 50)
        #expect(PreKeys.uploadSize(serverCount: 5, everUploaded: true) == nil)
        #expect(PreKeys.uploadSize(serverCount: 100, everUploaded: false) == nil)
    }

    // MARK: logout

    /// Chats, messages, a Signal session, events: what a linked device accumulates.
    func addHistory(_ store: Store) throws {
        try store.database.withConnection { (c) throws(WauseError) in
            try c.execute("INSERT INTO chats (jid, updated_at) VALUES ('15550001111@s.whatsapp.net', 5)")
            try c.execute("""
                INSERT INTO messages (id, chat_jid, from_me, type, body, timestamp, received_at)
                VALUES ('M1', '15550001111@s.whatsapp.net', 0, 'chat', 'hello', 5, 5),
                       ('M2', '15550001111@s.whatsapp.net', 1, 'chat', 'hi back', 6, 6)
                """)
            try c.execute("INSERT INTO contacts (phone, push_name, updated_at) VALUES ('15550001111', 'Ann', 5)")
            try c.execute("INSERT INTO sessions (address, record, updated_at) VALUES ('15550001111.0', x'0102', 5)")
            try c.execute("INSERT INTO identities (address, identity_key, trusted_at) VALUES ('15550001111@s.whatsapp.net', x'05', 5)")
        }
        _ = try store.appendEvent(name: "account.paired", data: [:], at: 5)
        _ = try store.appendEvent(name: "message.received", data: ["id": "M1"], at: 5)
        _ = try store.appendEvent(name: "pairing.qr", data: [:], at: 4)
    }

    @Test func forgetLinkDropsKeysAndSessionsButKeepsHistory() throws {
        let temp = TemporaryDirectory()
        let (store, old, _, _) = try pairedStore(temp)
        defer { store.close() }
        let keys = try store.preparePreKeys(count: 6, random: random.bytes, now: 2)
        try store.markPreKeysUploaded(Array(keys.prefix(3)).map(\.id))
        try addHistory(store)

        let fresh = try DeviceIdentity.generate(random: random.bytes)
        #expect(fresh.identityKey != old.identityKey)
        try store.forgetLink(replacingKeysWith: fresh, now: 9_000)

        #expect(try store.linkedAccount() == nil)
        #expect(try store.loggedOutAt() == 9_000)
        #expect(try store.loadDeviceIdentity() == fresh)
        for table in ["prekeys", "sessions", "identities"] {
            #expect(try count(store, "SELECT count(*) FROM \(table)") == 0, "\(table)")
        }
        #expect(try store.uploadedPreKeyCount() == 0)
        // Only the new signed prekey remains.
        let signed = try store.database.withConnection { (c) throws(WauseError) in try c.query("SELECT id, public_key FROM signed_prekeys") }
        #expect(signed.count == 1)
        #expect(signed.first?["public_key"].blob == fresh.signedPreKey.keyPair.publicKey)
        let device = try #require(try store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT account_signature_key, adv_signed_identity, paired_at FROM device WHERE id = 1").first
        })
        #expect(device["account_signature_key"].blob == nil)
        #expect(device["adv_signed_identity"].blob == nil)
        #expect(device["paired_at"].integer == nil)

        // The history stays.
        #expect(try count(store, "SELECT count(*) FROM chats") == 1)
        #expect(try count(store, "SELECT count(*) FROM messages") == 2)
        #expect(try count(store, "SELECT count(*) FROM contacts") == 2)
        #expect(try store.events(after: 0, limit: 10).map(\.name) == ["account.paired", "message.received", "pairing.qr"])

        // A logged-out store starts prekeys over from 1 and can link again.
        #expect(try store.preparePreKeys(count: 2, random: random.bytes, now: 9_001).map(\.id) == [1, 2])
        let phone = TestPhone(seed: 23)
        let advSecret = random.bytes(32)
        let link = try PairSuccess.verify(phone.pairSuccess(for: fresh, advSecret: advSecret), identity: fresh, advSecret: advSecret,
                                          random: random.bytes)
        try store.savePairing(link, advSecret: advSecret, now: 9_500)
        #expect(try store.linkedAccount() != nil)
        #expect(try store.loggedOutAt() == nil)
    }

    @Test func clearHistoryRemovesMessagesAndKeepsTheLink() throws {
        let temp = TemporaryDirectory()
        let (store, identity, _, advSecret) = try pairedStore(temp)
        defer { store.close() }
        try addHistory(store)
        try store.clearHistory()

        for table in ["messages", "chats", "contacts", "message_status_timeline", "outbox", "approvals"] {
            #expect(try count(store, "SELECT count(*) FROM \(table)") == 0, "\(table)")
        }
        #expect(try count(store, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'hello'") == 0)
        #expect(try store.events(after: 0, limit: 10).map(\.name) == ["account.paired"])
        // Keys, sessions and the link are not history.
        #expect(try store.linkedAccount()?.jid == "15551234567:7@s.whatsapp.net")
        var expected = identity
        expected.advSecret = advSecret
        #expect(try store.loadDeviceIdentity() == expected)
        #expect(try count(store, "SELECT count(*) FROM sessions") == 1)
        #expect(try count(store, "SELECT count(*) FROM identities") == 2)
        // New messages after a clear work as before.
        try store.database.withConnection { (c) throws(WauseError) in
            try c.execute("INSERT INTO chats (jid, updated_at) VALUES ('1@s.whatsapp.net', 7)")
            try c.execute("INSERT INTO messages (id, chat_jid, from_me, type, body, timestamp, received_at) VALUES ('M3', '1@s.whatsapp.net', 0, 'chat', 'again', 7, 7)")
        }
        #expect(try count(store, "SELECT count(*) FROM messages") == 1)
    }
}

/// The spellings of "this LID user's device 0" the store has used for identity rows.
private func lidDeviceZeroAddresses(_ user: String) -> Set<String> { ["\(user)@lid", "\(user)_1:0"] }
