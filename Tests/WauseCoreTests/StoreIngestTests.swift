import Testing
@testable import WauseCore
import WauseSQLite
import WauseSupport
import WauseTestSupport

/// `Store.ingest` (Store+Ingest.swift): a batch of incoming messages lands whole or not at all,
/// with its chats, its events in order and the FTS5 index consistent; duplicates in and across
/// batches change nothing; it runs inside a caller's transaction too.
@Suite struct StoreIngestTests {
    static let chatA = "15550001111@s.whatsapp.net"
    static let chatB = "15550002222@s.whatsapp.net"

    func incoming(_ id: String, chat: String = StoreIngestTests.chatA, fromMe: Bool = false, body: String, at: Int64 = 1_700_000_000) -> IncomingMessage {
        IncomingMessage(record: MessageRecord(id: id, chatJID: chat, senderJID: fromMe ? nil : chat, fromMe: fromMe, type: "chat",
                                              body: body, timestamp: UnixTime(seconds: at)),
                        contactID: nil, event: { record in ("message.received", ["id": .string(record.id), "cursor": .int(record.rowid)]) })
    }

    func count(_ store: Store, _ sql: String, _ parameters: [SQLValue] = []) throws -> Int64 {
        try store.database.withConnection { (c) throws(WauseError) in try c.scalar(sql, parameters) }
    }

    /// FTS5's own check that the index holds exactly what the content table does (SQLite FTS5
    /// docs, "The 'integrity-check' Command": with an external content table it compares both).
    func expectIndexConsistent(_ store: Store) throws {
        try store.database.withConnection { (c) throws(WauseError) in
            try c.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
        }
    }

    func searchIDs(_ store: Store, _ query: String) throws -> Set<String> {
        Set(try store.searchMessages(query, chat: nil, limit: 1000).map(\.0.id))
    }

    @Test func aBatchLandsWholeWithItsChatsEventsInOrderAndTheIndex() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let batch: [IncomingMessage] = (0..<300).map { (index: Int) -> IncomingMessage in
            let chat = index % 3 == 0 ? Self.chatB : Self.chatA
            return incoming("B\(index)", chat: chat, fromMe: index % 10 == 0, body: "batchword number\(index)",
                            at: 1_700_000_000 + Int64(index))
        }
        let before = try store.latestCursor()
        let results = try store.ingest(batch, now: UnixTime(milliseconds: 5))
        #expect(results.count == 300 && results.allSatisfy { $0.inserted })
        #expect(try count(store, "SELECT count(*) FROM messages") == 300)
        // Events: one per message, in the batch's order, cursors counting up, each naming its row.
        let events = results.compactMap { $0.event }
        #expect(events.map { $0.cursor } == Array((before + 1)...(before + 300)))
        #expect(events.map { $0.data["id"]?.stringValue } == batch.map { $0.record.id })
        #expect(events.map { $0.data["cursor"]?.intValue } == results.map { $0.rowid })
        #expect(try store.events(after: before, limit: 1000).map { $0.cursor } == events.map { $0.cursor })
        // Chats: unread counts only what others sent, last message time the batch's newest.
        let unreadA = batch.filter { $0.record.chatJID == Self.chatA && !$0.record.fromMe }.count
        let unreadB = batch.filter { $0.record.chatJID == Self.chatB && !$0.record.fromMe }.count
        #expect(try count(store, "SELECT unread_count FROM chats WHERE jid = ?", [.text(Self.chatA)]) == Int64(unreadA))
        #expect(try count(store, "SELECT unread_count FROM chats WHERE jid = ?", [.text(Self.chatB)]) == Int64(unreadB))
        #expect(try count(store, "SELECT last_message_at FROM chats WHERE jid = ?", [.text(Self.chatA)]) == UnixTime(seconds: 1_700_000_299).milliseconds)
        #expect(try count(store, "SELECT last_message_at FROM chats WHERE jid = ?", [.text(Self.chatB)]) == UnixTime(seconds: 1_700_000_297).milliseconds)
        // The index finds exactly the batch.
        #expect(try searchIDs(store, "batchword") == Set(batch.map { $0.record.id }))
        #expect(try searchIDs(store, "number17") == ["B17"])
        try expectIndexConsistent(store)
    }

    /// What `searchMessages` answers, in order, with the rank it sorted by.
    func ranked(_ store: Store, _ query: String) throws -> [String] {
        try store.database.withConnection { (c) throws(WauseError) in
            try c.query("""
                SELECT m.id, bm25(messages_fts) AS score FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid
                WHERE messages_fts MATCH ? ORDER BY rank, m.rowid
                """, [.text(query)]).map { "\($0["id"].text ?? "?") \($0["score"])" }
        }
    }

    func triggerSQL(_ store: Store) throws -> String? {
        try store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'messages_fts_insert'").first?["sql"].text
        }
    }

    @Test func aLargeBatchIndexesExactlyAsTheTriggerDoes() throws {
        // A fixed corpus filed one message at a time (the per-row trigger) and in batches large
        // enough to feed FTS5 in one statement: the same matches, in the same order, with the same
        // scores, for words, a prefix, phrases and AND/OR/NOT.
        let words = ["lunch", "meeting", "train", "delay", "birthday", "party", "project", "deadline", "coffee", "photo", "café", "naïve"]
        let corpus: [IncomingMessage] = (0..<400).map { (index: Int) -> IncomingMessage in
            var body = (0..<(3 + index % 7)).map { words[(index * 7 + $0 * 3 + $0 * $0) % words.count] }.joined(separator: " ")
            if index % 13 == 0 { body += " train delay" }
            if index % 17 == 0 { body = "birthday party " + body }
            return incoming("F\(index)", chat: index % 4 == 0 ? Self.chatB : Self.chatA, fromMe: index % 9 == 0, body: body,
                            at: 1_700_000_000 + Int64(index))
        }
        let oneByOne = TemporaryDirectory(), batched = TemporaryDirectory()
        let single = try Store(directory: oneByOne.path), bulk = try Store(directory: batched.path)
        defer { single.close(); bulk.close() }
        for message in corpus { _ = try single.ingest([message], now: 1) }
        // Batches of several sizes around the threshold, and one repeating earlier messages (duplicates are not indexed twice).
        var start = 0
        for size in [Store.bulkIndexFrom, Store.bulkIndexFrom - 1, 150, 400] where start < corpus.count {
            let end = min(corpus.count, start + size)
            _ = try bulk.ingest(Array(corpus[start..<end]), now: 1)
            start = end
        }
        #expect(try bulk.ingest(Array(corpus[0..<Store.bulkIndexFrom]), now: 2).allSatisfy { !$0.inserted })
        let queries = ["lunch", "café", "naive", "proj*", "\"train delay\"", "\"birthday party\"", "lunch AND coffee",
                       "photo OR deadline", "meeting NOT lunch"]
        for query in queries {
            let expected = try ranked(single, query)
            #expect(!expected.isEmpty, "\(query) finds something")
            #expect(try ranked(bulk, query) == expected, "\(query)")
            #expect(try bulk.searchMessages(query, chat: nil, limit: 20).map(\.0.id) == single.searchMessages(query, chat: nil, limit: 20).map(\.0.id))
        }
        try expectIndexConsistent(single)
        try expectIndexConsistent(bulk)
        // The trigger is back, word for word, and indexes what others insert.
        #expect(try triggerSQL(bulk) == triggerSQL(single) && triggerSQL(bulk) != nil)
        try bulk.database.withConnection { (c) throws(WauseError) in
            try c.execute("""
                INSERT INTO messages (id, chat_jid, from_me, type, body, timestamp, received_at)
                VALUES ('direct', ?, 0, 'chat', 'zebra crossing', 1, 1)
                """, [.text(Self.chatA)])
        }
        #expect(try searchIDs(bulk, "zebra") == ["direct"])
        try expectIndexConsistent(bulk)
    }

    @Test func aLargeBatchFailingInsideACallersTransactionLeavesTheTrigger() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let original = try triggerSQL(store)
        try store.database.withConnection { (c) throws(WauseError) in
            try c.execute("CREATE TEMP TRIGGER poison BEFORE INSERT ON main.messages WHEN new.body = 'poison' BEGIN SELECT RAISE(ABORT, 'no'); END")
        }
        var batch: [IncomingMessage] = (0..<(Store.bulkIndexFrom + 5)).map { incoming("T\($0)", body: "tword \($0)") }
        batch.append(incoming("T-bad", body: "poison"))
        // The caller catches the failure and commits what it wrote beside the batch.
        try store.database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("INSERT INTO chats (jid, name, updated_at) VALUES (?, 'kept', 1)", [.text(Self.chatB)])
                #expect(throws: WauseError.self) { try Store.ingest(batch, now: 1, c) }
            }
        }
        #expect(try triggerSQL(store) == original)
        #expect(try count(store, "SELECT count(*) FROM chats WHERE name = 'kept'") == 1)
        // What the batch filed before the failure was committed by the caller (its choice), and
        // is indexed as the trigger would have indexed it; what comes next goes through the trigger.
        #expect(try searchIDs(store, "tword") == Set(batch.dropLast().map { $0.record.id }))
        try expectIndexConsistent(store)
        _ = try store.insertMessage(incoming("after", body: "afterword").record, contactID: nil, now: 2)
        #expect(try searchIDs(store, "afterword") == ["after"])
        try expectIndexConsistent(store)
    }

    @Test func aFailureMidBatchRollsTheWholeBatchBack() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        _ = try store.ingest([incoming("K1", body: "kept earlier")], now: 1)
        let cursor = try store.latestCursor()
        // A message SQLite refuses half-way through the batch (a temporary trigger on this connection).
        try store.database.withConnection { (c) throws(WauseError) in
            try c.execute("""
                CREATE TEMP TRIGGER poison BEFORE INSERT ON main.messages WHEN new.body = 'poison'
                BEGIN SELECT RAISE(ABORT, 'poisoned message'); END
                """)
        }
        var batch: [IncomingMessage] = (0..<50).map { (index: Int) -> IncomingMessage in
            incoming("P\(index)", chat: index % 2 == 0 ? Self.chatA : Self.chatB, body: "lostword \(index)")
        }
        batch.insert(incoming("P-bad", body: "poison"), at: 25)
        #expect(throws: WauseError.self) { try store.ingest(batch, now: 2) }
        // Nothing of it: no message, no new chat, no event, no index entry; the earlier message stays.
        #expect(try count(store, "SELECT count(*) FROM messages") == 1)
        #expect(try count(store, "SELECT count(*) FROM chats WHERE jid = ?", [.text(Self.chatB)]) == 0)
        #expect(try count(store, "SELECT unread_count FROM chats WHERE jid = ?", [.text(Self.chatA)]) == 1)
        #expect(try store.latestCursor() == cursor)
        #expect(try searchIDs(store, "lostword").isEmpty)
        #expect(try searchIDs(store, "kept") == ["K1"])
        try expectIndexConsistent(store)
        // The connection and its cached statements are fine afterwards: the same batch without the bad message lands.
        batch.remove(at: 25)
        let results = try store.ingest(batch, now: 3)
        #expect(results.allSatisfy { $0.inserted })
        #expect(try searchIDs(store, "lostword") == Set(batch.map { $0.record.id }))
        try expectIndexConsistent(store)
    }

    @Test func duplicatesInAndAcrossBatchesChangeNothing() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let first = try store.ingest([incoming("D1", body: "alpha one"), incoming("D2", body: "alpha two"),
                                      incoming("D1", body: "alpha one again")], now: 1)
        #expect(first.map { $0.inserted } == [true, true, false])
        #expect(first[2].rowid == first[0].rowid && first[2].event == nil)
        let cursor = try store.latestCursor()
        // Across batches: D2 again, and D1 sent by us (another side: not a duplicate), and one in another chat.
        let second = try store.ingest([incoming("D2", body: "alpha two"), incoming("D1", fromMe: true, body: "alpha mine"),
                                       incoming("D1", chat: Self.chatB, body: "alpha elsewhere"), incoming("D2", body: "alpha two")], now: 2)
        #expect(second.map { $0.inserted } == [false, true, true, false])
        #expect(second[0].rowid == first[1].rowid && second[3].rowid == first[1].rowid)
        #expect(try store.latestCursor() == cursor + 2)
        #expect(try count(store, "SELECT count(*) FROM messages") == 4)
        let kept = try store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT body FROM messages WHERE rowid = ?", [.integer(first[0].rowid)]).first?["body"].text
        }
        #expect(kept == "alpha one")
        #expect(try store.message(id: "D2")?.body == "alpha two")
        #expect(try count(store, "SELECT unread_count FROM chats WHERE jid = ?", [.text(Self.chatA)]) == 2)
        #expect(try store.searchMessages("alpha", chat: Self.chatA, limit: 10).count == 3)
        #expect(try store.searchMessages("again", chat: nil, limit: 10).isEmpty)
        // The single-message path is a batch of one: the same answers.
        let single = try store.insertMessage(incoming("D2", body: "alpha two").record, contactID: nil, now: 3)
        #expect(single.rowid == first[1].rowid && !single.inserted)
        try expectIndexConsistent(store)
    }

    @Test func ingestRunsInsideACallersTransaction() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        // A history chunk that fails after its messages were written: all of it rolls back.
        #expect(throws: WauseError.self) {
            try store.database.withConnection { (c) throws(WauseError) in
                try c.transaction { () throws(WauseError) in
                    _ = try Store.ingest([incoming("H1", body: "chunkword one"), incoming("H2", body: "chunkword two")], now: 1, c)
                    throw WauseError.internal("the chunk's next step failed")
                }
            }
        }
        #expect(try count(store, "SELECT count(*) FROM messages") == 0)
        #expect(try store.latestCursor() == 0)
        // A batch that fails inside the caller's transaction is rethrown, and the caller's transaction rolls back whole.
        try store.database.withConnection { (c) throws(WauseError) in
            try c.execute("CREATE TEMP TRIGGER poison BEFORE INSERT ON main.messages WHEN new.body = 'poison' BEGIN SELECT RAISE(ABORT, 'no'); END")
        }
        #expect(throws: WauseError.self) {
            try store.database.withConnection { (c) throws(WauseError) in
                try c.transaction { () throws(WauseError) in
                    _ = try Store.ingest([incoming("H1", body: "chunkword one")], now: 1, c)
                    _ = try Store.ingest([incoming("H2", body: "chunkword two"), incoming("H3", body: "poison")], now: 2, c)
                }
            }
        }
        #expect(try count(store, "SELECT count(*) FROM messages") == 0)
        // And the chunk that succeeds lands with everything the caller wrote beside it.
        try store.database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                _ = try Store.ingest([incoming("H1", body: "chunkword one")], now: 1, c)
                try c.execute("UPDATE chats SET name = 'from the chunk' WHERE jid = ?", [.text(Self.chatA)])
                _ = try Store.ingest([incoming("H2", body: "chunkword two")], now: 2, c)
            }
        }
        #expect(try searchIDs(store, "chunkword") == ["H1", "H2"])
        #expect(try count(store, "SELECT count(*) FROM events") == 2)
        #expect(try count(store, "SELECT count(*) FROM chats WHERE name = 'from the chunk'") == 1)
        try expectIndexConsistent(store)
    }

    @Test func aTransactionInsideATransactionIsASavepoint() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        try store.database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("INSERT INTO chats (jid, updated_at) VALUES ('outer@s.whatsapp.net', 1)")
                do throws(WauseError) {
                    try c.transaction { () throws(WauseError) in
                        try c.execute("INSERT INTO chats (jid, updated_at) VALUES ('inner@s.whatsapp.net', 1)")
                        throw WauseError.internal("the inner step failed")
                    }
                } catch {}
                #expect(c.inTransaction)
                try c.transaction { () throws(WauseError) in
                    try c.execute("INSERT INTO chats (jid, updated_at) VALUES ('second@s.whatsapp.net', 1)")
                }
            }
            #expect(!c.inTransaction)
        }
        let chats = try store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT jid FROM chats ORDER BY jid").compactMap { $0["jid"].text }
        }
        #expect(chats == ["outer@s.whatsapp.net", "second@s.whatsapp.net"])
    }

    @Test func announcedEventsReachFollowers() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let log = try EventLog(store: store, clock: { UnixTime(milliseconds: 1) })
        let results = try store.ingest([incoming("E1", body: "one"), incoming("E2", body: "two")], now: 1)
        #expect(log.latestCursor == 0)
        log.announce(results.compactMap { $0.event })
        #expect(log.latestCursor == 2)
        let follower = log.follow(after: 0)
        #expect(try follower.next(timeoutMilliseconds: 1000)?.data["id"]?.stringValue == "E1")
        #expect(try follower.next(timeoutMilliseconds: 1000)?.data["id"]?.stringValue == "E2")
    }
}
