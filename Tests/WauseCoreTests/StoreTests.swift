import Testing
import CSQLite
@testable import WauseCore
import WauseTestSupport
import WauseSQLite
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite struct StoreTests {
    @Test func createsTheDirectoryAndA0600DatabaseWithTheLatestSchema() throws {
        let temp = TemporaryDirectory()
        let directory = temp.file("nested/data")
        let store = try Store(directory: directory)
        defer { store.close() }
        #expect(store.directory == directory)
        #expect(fileMode(directory) == 0o700)
        #expect(fileMode(directory + "/wause.db") == 0o600)
        #expect(store.schemaVersion == Migrations.store.latestVersion)
        let journal = try store.database.withConnection { (c) throws(WauseError) in
            try c.query("PRAGMA journal_mode").first?.values.first?.text
        }
        #expect(journal == "wal")
    }

    @Test func aClosedStoreSaysSo() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        store.close()
        // A background task that outlives its client gets a plain reason, not "unknown SQLite error".
        #expect(throws: WauseError.internal("store: prepare: the store is closed")) {
            try store.database.withConnection { (c) throws(WauseError) in try c.query("SELECT 1") }
        }
    }

    @Test func schemaHasTheMilestoneOneTables() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let tables = try store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT name FROM sqlite_master WHERE type IN ('table') ORDER BY name").compactMap { $0["name"].text }
        }
        for table in ["device", "prekeys", "signed_prekeys", "identities", "sessions", "contacts", "chats", "messages",
                      "messages_fts", "message_status_timeline", "outbox", "idempotency_keys", "approvals", "events"] {
            #expect(tables.contains(table), "missing table \(table)")
        }
        let contactColumns = try store.database.withConnection { (c) throws(WauseError) in
            try c.query("PRAGMA table_info(contacts)").compactMap { $0["name"].text }
        }
        #expect(contactColumns.contains("phone") && contactColumns.contains("lid"))
    }

    @Test func fullTextSearchFollowsMessageBodies() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let matches = try store.database.withConnection { (c) throws(WauseError) -> [String] in
            try c.execute("INSERT INTO chats (jid, updated_at) VALUES ('1@s.whatsapp.net', 0)")
            try c.execute("""
                INSERT INTO messages (id, chat_jid, from_me, type, body, timestamp, received_at)
                VALUES ('A', '1@s.whatsapp.net', 0, 'chat', 'the quick brown fox', 1, 1),
                       ('B', '1@s.whatsapp.net', 1, 'chat', 'lazy dogs sleep', 2, 2)
                """)
            try c.execute("UPDATE messages SET body = 'quick thinking' WHERE id = 'B'")
            return try c.query("SELECT m.id FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid WHERE messages_fts MATCH 'quick' ORDER BY m.id")
                .compactMap { $0["id"].text }
        }
        #expect(matches == ["A", "B"])
    }

    @Test func reopeningKeepsDataAndDoesNotRerunMigrations() throws {
        let temp = TemporaryDirectory()
        do {
            let store = try Store(directory: temp.path)
            _ = try store.appendEvent(name: "account.paired", data: ["x": 1], at: 5)
            store.close()
        }
        let store = try Store(directory: temp.path)
        defer { store.close() }
        #expect(try store.events(after: 0, limit: 10).map(\.name) == ["account.paired"])
    }

    @Test func refusesASchemaNewerThanItKnows() throws {
        let temp = TemporaryDirectory()
        do {
            let store = try Store(directory: temp.path)
            try store.database.withConnection { (c) throws(WauseError) in try c.executeScript("PRAGMA user_version = 99") }
            store.close()
        }
        do {
            _ = try Store(directory: temp.path)
            Issue.record("a newer schema must be refused")
        } catch {
            #expect(error.code == .internal)
            #expect(error.message.contains("newer"))
            #expect(error.details?["schema_version"] == .int(99))
        }
    }

    @Test func refusesASecondOpenOfTheSameDirectoryUntilTheFirstCloses() throws {
        let temp = TemporaryDirectory()
        let first = try Store(directory: temp.path)
        #expect(throws: WauseError.self) { try Store(directory: temp.path) }
        first.close()
        let second = try Store(directory: temp.path)
        second.close()
    }

    @Test func refusesAFileThatIsNotADatabase() throws {
        let temp = TemporaryDirectory()
        let fd = open(temp.file("wause.db"), O_WRONLY | O_CREAT, 0o600)
        _ = write(fd, "this is not sqlite, just some text that is long enough to have a header", 72)
        close(fd)
        do {
            _ = try Store(directory: temp.path)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .internal)
        }
        // The failed open released the directory.
        #expect(throws: WauseError.self) { try Store(directory: temp.path) }
    }

    @Test func normalisesTheDirectoryPath() throws {
        #expect(DataDirectory.normalized("/a/./b//c/../d/") == "/a/b/d")
        #expect(DataDirectory.normalized("/..") == "/")
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path + "/x/../y/.")
        defer { store.close() }
        #expect(store.directory == temp.path + "/y")
    }

    @Test func refusesADataDirThatIsAFile() throws {
        let temp = TemporaryDirectory()
        let fd = open(temp.file("plain"), O_WRONLY | O_CREAT, 0o600)
        close(fd)
        #expect(throws: WauseError.self) { try Store(directory: temp.file("plain")) }
    }

    @Test func eventCursorsOnlyGrowEvenAfterPruning() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let first = try store.appendEvent(name: "a", data: [:], at: 1)
        let second = try store.appendEvent(name: "b", data: [:], at: 2)
        try store.database.withConnection { (c) throws(WauseError) in try c.execute("DELETE FROM events") }
        let third = try store.appendEvent(name: "c", data: [:], at: 3)
        #expect(first.cursor < second.cursor && second.cursor < third.cursor)
        #expect(try store.latestCursor() == third.cursor)
    }

    @Test func summaryCountsChatsMessagesUnreadAndPendingApprovals() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        try store.database.withConnection { (c) throws(WauseError) in
            try c.execute("INSERT INTO chats (jid, unread_count, updated_at) VALUES ('1@s.whatsapp.net', 2, 0), ('2@s.whatsapp.net', 3, 0)")
            try c.execute("INSERT INTO messages (id, chat_jid, from_me, type, body, timestamp, received_at) VALUES ('m', '1@s.whatsapp.net', 0, 'chat', 'hi', 1, 1)")
            try c.execute("""
                INSERT INTO approvals (id, contact_id, chat_jid, action, status, created_at, expires_at, request_message_id)
                VALUES ('a', 1, '1@s.whatsapp.net', 'ok?', 'pending', 1, 2, 'm1'), ('b', 1, '1@s.whatsapp.net', 'ok?', 'approved', 1, 2, 'm2')
                """)
        }
        #expect(try store.summary() == StoreSummary(chats: 2, messages: 1, unread: 5, pendingApprovals: 1))
    }
}
