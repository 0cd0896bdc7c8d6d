import Testing
import WauseBinary
@testable import WauseCore
import WauseSQLite
import WauseSupport
import WauseTestSupport

/// Sessions by LID (whatsmeow send.go encryptMessageForDevices, message.go decryptMessages, store
/// MigratePNToLID): once a contact's LID is known, the session made under a phone-number address
/// moves to the LID address (with its identity), and an existing LID session is not overwritten.
@Suite struct SessionAddressTests {
    func rows(_ store: Store, _ table: String) throws -> [String] {
        try store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT address FROM \(table) ORDER BY address").compactMap { $0["address"].text }
        }
    }

    func session(_ store: Store, _ address: String) throws -> [UInt8]? {
        try store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT record FROM sessions WHERE address = ?", [.text(address)]).first?["record"].blob
        }
    }

    @Test func aPhoneNumberSessionMovesToTheLIDAddressOnce() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        try store.database.withConnection { (c) throws(WauseError) in
            try c.execute("INSERT INTO sessions (address, record, updated_at) VALUES ('15550002222:3', x'0102', 1)")
            try c.execute("INSERT INTO identities (address, identity_key, trusted_at) VALUES ('15550002222:3', x'05AA', 1)")
            try c.execute("INSERT INTO sessions (address, record, updated_at) VALUES ('15550003333:1', x'0909', 1)")
            try c.execute("INSERT INTO sessions (address, record, updated_at) VALUES ('2033333_1:1', x'0808', 1)")
        }
        try store.movePhoneSession(from: "15550002222:3", to: "2022222_1:3")
        #expect(try rows(store, "sessions") == ["15550003333:1", "2022222_1:3", "2033333_1:1"])
        #expect(try session(store, "2022222_1:3") == [1, 2])
        #expect(try rows(store, "identities").contains("2022222_1:3"))
        // Again: nothing left to move, nothing changes.
        try store.movePhoneSession(from: "15550002222:3", to: "2022222_1:3")
        #expect(try session(store, "2022222_1:3") == [1, 2])
        // A LID session already there is kept; the phone-number one is dropped (the LID one is newer: it was made by LID).
        try store.movePhoneSession(from: "15550003333:1", to: "2033333_1:1")
        #expect(try session(store, "2033333_1:1") == [8, 8])
        #expect(try session(store, "15550003333:1") == nil)
    }
}
