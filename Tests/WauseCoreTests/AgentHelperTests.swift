import Testing
@testable import WauseCore
import WauseSQLite
import WauseSupport
import WauseTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Issue 14 "Agent helpers": get_message, the list_chats / list_messages / search_messages
/// additions, catch_up (with the timezone key) and export_chat, on a real store in a temp dir.
/// Results are checked against their output schemas by the catalogue's debug-build check on
/// every call, and here once more where it matters.
@Suite struct AgentHelperTests {
    static func instant(_ text: String) -> UnixTime { UnixTime(milliseconds: ISO8601.unixMilliseconds(from: text)!) }

    /// A client whose clock reads `now`, with `extra` config keys.
    static func client(_ temp: TemporaryDirectory, now: String = "2026-12-02T10:00:00Z", extra: JSONObject = [:]) throws -> WauseClient {
        var json: JSONObject = ["data_dir": .string(temp.path), "push_name": "Ada"]
        for (key, value) in extra { json[key] = value }
        return try WauseClient(config: ClientConfig(json: .object(json)), environment: testEnvironment(TestClock(instant(now))))
    }

    @discardableResult
    static func receive(_ client: WauseClient, from phone: String, _ body: String, at: String, id: String, type: String = "chat",
                        quoted: String? = nil, chat: String? = nil) throws -> Int64 {
        let contact = try client.store.contact(phone: phone, lid: nil, now: 1)
        var message = MessageRecord(id: id, chatJID: chat ?? contact.chatJID, senderJID: contact.chatJID, fromMe: false, type: type,
                                    body: body, quotedID: quoted, timestamp: instant(at), hasMedia: type != "chat")
        message.quotedID = quoted
        return try client.store.insertMessage(message, contactID: chat == nil ? contact.id : nil, now: 1).rowid
    }

    @discardableResult
    static func send(_ client: WauseClient, to phone: String, _ body: String, at: String, id: String) throws -> Int64 {
        let contact = try client.store.contact(phone: phone, lid: nil, now: 1)
        return try client.store.insertMessage(MessageRecord(id: id, chatJID: contact.chatJID, senderJID: nil, fromMe: true, type: "chat",
                                                            body: body, timestamp: instant(at), status: .sent),
                                              contactID: contact.id, now: 1).rowid
    }

    static func failure(_ client: WauseClient, _ method: String, _ arguments: JSONValue) async -> WauseError? {
        if case .failure(let error) = await client.call(method, arguments) { return error }
        return nil
    }

    // MARK: Formats

    @Test func iso8601ParsesTheFormsAgentsWrite() {
        #expect(ISO8601.unixMilliseconds(from: "1970-01-01") == 0)
        #expect(ISO8601.unixMilliseconds(from: "2026-11-27T23:32:01.123Z") == 1_795_822_321_123)
        #expect(ISO8601.unixMilliseconds(from: "2026-11-27T23:32:01Z") == 1_795_822_321_000)
        #expect(ISO8601.unixMilliseconds(from: "2026-11-28T01:32:01+02:00") == 1_795_822_321_000)
        #expect(ISO8601.unixMilliseconds(from: "2026-11-27 18:32:01-0500") == 1_795_822_321_000)
        #expect(ISO8601.unixMilliseconds(from: "2026-11-27T23:32") == 1_795_822_320_000)
        #expect(ISO8601.unixMilliseconds(from: "2000-02-29T00:00:00.5Z") == 951_782_400_500)
        for bad in ["", "yesterday", "2026-13-01", "2026-02-30", "2026-11-27T24:00", "2026-11-27T10:00Zjunk", "2026-1-01", "1700000000"] {
            #expect(ISO8601.unixMilliseconds(from: bad) == nil, "\(bad)")
        }
    }

    @Test func timezoneKeyTakesUTCOffsetsAndIANANamesAndRefusesOthers() throws {
        #expect(try ClientConfig(json: ["data_dir": "/tmp/x"]).timezone.name == "UTC")
        let plus = try ClientConfig(json: ["data_dir": "/tmp/x", "timezone": "+05:30"]).timezone
        #expect(plus.offset(at: 0) == 19800)
        #expect(try TimeZoneRule.parse("-08:00").offset(at: 0) == -28800)
        let berlin = try TimeZoneRule.parse("Europe/Berlin")
        // CET in winter, CEST in summer (the TZif transitions, not a fixed guess).
        #expect(berlin.offset(at: Self.instant("2026-01-15T12:00:00Z").seconds) == 3600)
        #expect(berlin.offset(at: Self.instant("2026-07-15T12:00:00Z").seconds) == 7200)
        // 2026-03-29 is the spring-forward day: its local midnight is still CET.
        #expect(berlin.startOfDay(containing: Self.instant("2026-03-29T12:00:00Z").seconds) == Self.instant("2026-03-28T23:00:00Z").seconds)
        #expect(berlin.startOfWeek(containing: Self.instant("2026-12-02T10:00:00Z").seconds) == Self.instant("2026-11-29T23:00:00Z").seconds)
        for bad in ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Europe/../../etc/passwd", "+25:00", "+1", "Europe", ""] {
            #expect(throws: WauseError.self, "\(bad)") { try ClientConfig(json: ["data_dir": "/tmp/x", "timezone": .string(bad)]) }
            do { _ = try TimeZoneRule.parse(bad) } catch { #expect(error.code == .invalidRequest && error.details?["key"] == "timezone") }
        }
    }

    // MARK: get_message

    @Test func getMessageReturnsTheWholeStoredMessageOrNotFound() async throws {
        let temp = TemporaryDirectory()
        let client = try Self.client(temp)
        defer { client.close() }
        try Self.send(client, to: "15550002222", "lunch at noon?", at: "2026-12-02T09:00:00Z", id: "OURS1")
        let rowid = try Self.receive(client, from: "15550002222", "yes, see you", at: "2026-12-02T09:01:00Z", id: "BOB1", quoted: "OURS1")
        try client.store.database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("""
                UPDATE messages SET edited = 1, edit_history = '[{"body":"yes","at":"2026-12-02T09:01:30.000Z"}]',
                       reactions = '{"15551234567@s.whatsapp.net":{"emoji":"👍","at":"2026-12-02T09:02:00.000Z"}}' WHERE rowid = ?
                """, [.integer(rowid)])
        }
        let got = try await client.call("whatsapp_get_message", ["message_id": "BOB1"]).get()
        let message = try #require(got["message"])
        #expect(message["body"] == "yes, see you" && message["from"] == "15550002222@s.whatsapp.net")
        #expect(message["edited"] == true && message["deleted"] == false)
        #expect(message["edit_history"]?.arrayValue?.first?["body"] == "yes")
        #expect(message["reactions"]?.arrayValue?.first?["emoji"] == "👍")
        #expect(message["quoted_message_id"] == "OURS1")
        #expect(got["quoted_message"]?["body"] == "lunch at noon?" && got["quoted_message"]?["from_me"] == true)
        try Schema.validate(.object(got), against: try #require(MethodCatalogue.standard.method(named: "whatsapp_get_message")).outputSchema)
        // By chat too, and an unknown id is not_found naming it.
        #expect(try await client.call("whatsapp_get_message", ["message_id": "BOB1", "chat": "15550002222"]).get()["message"]?["id"] == "BOB1")
        let missing = await Self.failure(client, "whatsapp_get_message", ["message_id": "NOPE"])
        #expect(missing?.code == .notFound && missing?.details?["message_id"] == "NOPE")
        #expect(await Self.failure(client, "whatsapp_get_message", ["message_id": "BOB1", "chat": "15550009999"])?.code == .notFound)
    }

    // MARK: list_chats

    @Test func listChatsFiltersByNameOrPhoneKeepsGroupsAndPagesWithAStableCursor() async throws {
        let temp = TemporaryDirectory()
        let client = try Self.client(temp)
        defer { client.close() }
        // Seven chats; two share one timestamp, so the JID breaks the tie.
        for (index, phone) in ["15550000001", "15550000002", "15550000003", "15550000004", "15550000005"].enumerated() {
            try Self.receive(client, from: phone, "hi \(index)", at: "2026-12-02T0\(index == 4 ? 3 : index):00:00Z", id: "M\(index)")
        }
        _ = try client.store.contact(phone: "15550000002", lid: nil, pushName: "Bobby Tables", now: 2)
        try Self.receive(client, from: "15550000001", "group hello", at: "2026-12-02T05:00:00Z", id: "G1", chat: "120363000000000001@g.us")
        try Self.receive(client, from: "15550000003", "other group", at: "2026-12-02T06:00:00Z", id: "G2", chat: "120363000000000002@g.us")
        try client.store.database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE chats SET name = 'Book Club' WHERE jid = '120363000000000001@g.us'")
        }

        var seen: [String] = []
        var cursor: JSONValue = .null
        repeat {
            var arguments: JSONObject = ["limit": 2]
            if !cursor.isNull { arguments["cursor"] = cursor }
            let page = try await client.call("whatsapp_list_chats", .object(arguments)).get()
            let ids = page["chats"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            #expect(ids.count <= 2)
            seen += ids
            cursor = page["next_cursor"] ?? .null
        } while !cursor.isNull
        let all = try await client.call("whatsapp_list_chats", ["limit": 100]).get()
        #expect(seen == all["chats"]?.arrayValue?.compactMap { $0["id"]?.stringValue })
        #expect(seen.count == 7 && Set(seen).count == 7)
        #expect(all["next_cursor"] == .null)
        // 15550000004 and 15550000005 both last spoke at 03:00: ordered by JID.
        let tied = seen.filter { $0.hasPrefix("15550000004") || $0.hasPrefix("15550000005") }
        #expect(tied == ["15550000004@s.whatsapp.net", "15550000005@s.whatsapp.net"])

        func ids(_ arguments: JSONValue) async throws -> [String] {
            try await client.call("whatsapp_list_chats", arguments).get()["chats"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        }
        #expect(try await ids(["filter": "bobby"]) == ["15550000002@s.whatsapp.net"])
        #expect(try await ids(["filter": "+1 555-000-0005"]) == ["15550000005@s.whatsapp.net"])
        #expect(try await ids(["filter": "book"]) == ["120363000000000001@g.us"])
        #expect(try await ids(["groups_only": true]) == ["120363000000000002@g.us", "120363000000000001@g.us"])
        #expect(try await ids(["groups_only": true, "filter": "club"]) == ["120363000000000001@g.us"])
        #expect(try await ids(["filter": "nobody by that name"]) == [])
        for bad in ["not a cursor", "Yzk6eDpqaWQ=", ""] {
            let error = await Self.failure(client, "whatsapp_list_chats", ["cursor": .string(bad)])
            #expect(error?.code == .invalidRequest && error?.details?["field"] == "cursor", "\(bad)")
        }
    }

    // MARK: list_messages and search_messages

    @Test func listMessagesTakesISO8601BoundsAndAddsContext() async throws {
        let temp = TemporaryDirectory()
        let client = try Self.client(temp)
        defer { client.close() }
        for hour in 0..<8 {
            try Self.receive(client, from: "15550002222", "message \(hour)", at: "2026-12-02T0\(hour):00:00Z", id: "H\(hour)")
        }
        try Self.receive(client, from: "15550003333", "elsewhere", at: "2026-12-02T03:30:00Z", id: "C1")

        func bodies(_ arguments: JSONValue) async throws -> [String] {
            try await client.call("whatsapp_list_messages", arguments).get()["messages"]?.arrayValue?.compactMap { $0["body"]?.stringValue } ?? []
        }
        #expect(try await bodies(["chat": "15550002222", "after": "2026-12-02T02:00:00Z", "before": "2026-12-02T05:00:00+00:00"])
                == ["message 3", "message 4"])
        // Only after: the oldest after it; only before: the newest before it.
        #expect(try await bodies(["chat": "15550002222", "after": "2026-12-02T04:30:00Z", "limit": 2]) == ["message 5", "message 6"])
        #expect(try await bodies(["chat": "15550002222", "before": "2026-12-02T04:30:00Z", "limit": 2]) == ["message 3", "message 4"])
        // An offset means the same instant: 05:00+02:00 is 03:00Z.
        #expect(try await bodies(["after": "2026-12-02T05:00:00+02:00", "before": "2026-12-02T04:00:00Z"]) == ["elsewhere"])
        for field in ["before", "after"] {
            let error = await Self.failure(client, "whatsapp_list_messages", [field: "last tuesday"])
            #expect(error?.code == .invalidRequest && error?.details?["field"] == .string(field) && error?.message.contains(field) == true)
        }

        let withContext = try await client.call("whatsapp_list_messages", ["chat": "15550002222", "after": "2026-12-02T06:30:00Z",
                                                                           "include_context": true]).get()
        let last = try #require(withContext["messages"]?.arrayValue?.first)
        #expect(last["body"] == "message 7")
        #expect(last["context_messages"]?.arrayValue?.compactMap { $0["body"]?.stringValue } == ["message 5", "message 6"])
        let wider = try await client.call("whatsapp_list_messages", ["chat": "15550002222", "after": "2026-12-02T02:30:00Z", "limit": 1,
                                                                     "include_context": true, "context_size": 3]).get()
        #expect(wider["messages"]?.arrayValue?.first?["context_messages"]?.arrayValue?.compactMap { $0["body"]?.stringValue }
                == ["message 0", "message 1", "message 2", "message 4", "message 5", "message 6"])
        // Without include_context there is no context_messages field.
        #expect(try await client.call("whatsapp_list_messages", ["chat": "15550002222"]).get()["messages"]?.arrayValue?
                .allSatisfy { $0["context_messages"] == nil } == true)

        let search = try await client.call("whatsapp_search_messages", ["query": "\"message 4\"", "include_context": true]).get()
        let hit = try #require(search["results"]?.arrayValue?.first)
        #expect(hit["message"]?["body"] == "message 4")
        // Context stays in the hit's chat: "elsewhere" (another chat, between 3 and 4) is not in it.
        #expect(hit["context_messages"]?.arrayValue?.compactMap { $0["body"]?.stringValue } == ["message 2", "message 3", "message 5", "message 6"])
        #expect(try await client.call("whatsapp_search_messages", ["query": "elsewhere"]).get()["results"]?.arrayValue?.first?["context_messages"] == nil)
    }

    // MARK: catch_up

    @Test func catchUpFindsOpenQuestionsHighlightsAndPendingApprovals() async throws {
        let temp = TemporaryDirectory()
        let client = try Self.client(temp)
        defer { client.close() }
        try client.store.database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE device SET jid = '15551234567:3@s.whatsapp.net', lid = '99887766:3@lid' WHERE id = 1")
        }
        // Bob asks and nobody answered: a question.
        try Self.receive(client, from: "15550002222", "are you coming tonight? ", at: "2026-12-02T09:30:00Z", id: "BOB1")
        // Carol asked, we answered: no question; we write to her a lot, so her unread message is a highlight.
        for day in 1...4 { try Self.send(client, to: "15550003333", "note \(day)", at: "2026-11-2\(day)T12:00:00Z", id: "OURC\(day)") }
        try Self.receive(client, from: "15550003333", "can you call me?", at: "2026-12-02T09:00:00Z", id: "CAROL1")
        try Self.send(client, to: "15550003333", "yes, in 5", at: "2026-12-02T09:10:00Z", id: "OURC5")
        // Dave: a photo and a mention of our name — both highlights; his last message is no question.
        try Self.receive(client, from: "15550004444", "", at: "2026-12-02T08:00:00Z", id: "DAVE1", type: "image")
        try Self.receive(client, from: "15550004444", "hey ADA, look at this", at: "2026-12-02T08:01:00Z", id: "DAVE2")
        try Self.receive(client, from: "15550004444", "and @15551234567 too", at: "2026-12-02T08:02:00Z", id: "DAVE3")
        try Self.receive(client, from: "15550004444", "nothing special", at: "2026-12-02T08:03:00Z", id: "DAVE4")
        // Frank on Monday (this week, not today or 24 h); Eve on Sunday (last week).
        try Self.receive(client, from: "15550005555", "monday question?", at: "2026-11-30T01:00:00Z", id: "FRANK1")
        try Self.receive(client, from: "15550006666", "sunday question?", at: "2026-11-29T20:00:00Z", id: "EVE1")
        let eve = try client.store.contact(phone: "15550006666", lid: nil, now: 1)
        try client.store.insertApproval(ApprovalRecord(id: "ABC234", contactID: eve.id, toPhone: "15550006666", toLID: nil, chatJID: eve.chatJID,
                                                       action: "deploy", details: "", style: "text", status: .pending,
                                                       createdAt: Self.instant("2026-12-02T09:00:00Z"), expiresAt: Self.instant("2026-12-02T11:00:00Z"),
                                                       resolvedAt: nil, resolvedBy: nil, replyMessageID: nil, requestMessageID: "REQ1"))

        let day = try await client.call("whatsapp_catch_up", ["since": "24h"]).get()
        try Schema.validate(.object(day), against: try #require(MethodCatalogue.standard.method(named: "whatsapp_catch_up")).outputSchema)
        #expect(day["since"] == "2026-12-01T10:00:00.000Z" && day["until"] == "2026-12-02T10:00:00.000Z")
        let chats = day["chats"]?.arrayValue ?? []
        #expect(chats.compactMap { $0["chat"]?.stringValue } == ["15550002222@s.whatsapp.net", "15550003333@s.whatsapp.net",
                                                                 "15550004444@s.whatsapp.net"])
        #expect(chats.first?["unread_count"] == 1 && chats.first?["last_message"]?["id"] == "BOB1")
        #expect(chats.last?["unread_count"] == 4)
        #expect(day["questions"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["BOB1"])
        let highlights = day["highlights"]?.arrayValue ?? []
        let reasons = Dictionary(uniqueKeysWithValues: highlights.compactMap { h in
            h["id"]?.stringValue.map { ($0, h["highlight_reasons"]?.arrayValue?.compactMap(\.stringValue) ?? []) }
        })
        #expect(reasons == ["CAROL1": ["frequent_chat"], "DAVE1": ["media"], "DAVE2": ["mention"], "DAVE3": ["mention"]], "\(reasons)")
        #expect(highlights.compactMap { $0["id"]?.stringValue } == ["CAROL1", "DAVE3", "DAVE2", "DAVE1"])
        #expect(day["pending_approvals"]?.arrayValue?.compactMap { $0["request_id"]?.stringValue } == ["ABC234"])

        // Read messages are no highlights.
        try client.store.markChatRead(chat: "15550004444@s.whatsapp.net", messageIDs: ["DAVE1", "DAVE2", "DAVE3", "DAVE4"], now: 5)
        let afterRead = try await client.call("whatsapp_catch_up", ["since": "24h"]).get()
        #expect(afterRead["highlights"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["CAROL1"])

        let hour = try await client.call("whatsapp_catch_up", ["since": "1h"]).get()
        #expect(hour["chats"]?.arrayValue?.compactMap { $0["chat"]?.stringValue } == ["15550002222@s.whatsapp.net", "15550003333@s.whatsapp.net"])
        let today = try await client.call("whatsapp_catch_up", ["since": "today"]).get()
        #expect(today["since"] == "2026-12-02T00:00:00.000Z")
        let week = try await client.call("whatsapp_catch_up", ["since": "this_week"]).get()
        #expect(week["since"] == "2026-11-30T00:00:00.000Z")
        #expect(week["questions"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["BOB1", "FRANK1"])
        #expect(await Self.failure(client, "whatsapp_catch_up", ["since": "2d"])?.code == .invalidRequest)
    }

    @Test func catchUpTodayIsTheConfiguredTimezonesDay() async throws {
        let temp = TemporaryDirectory()
        // 10:00 UTC is 22:00 at +12:00, and 05:00 in New York (EST in December).
        let client = try Self.client(temp, extra: ["timezone": "+12:00"])
        try Self.receive(client, from: "15550002222", "tuesday in utc?", at: "2026-12-01T13:00:00Z", id: "B1")
        let today = try await client.call("whatsapp_catch_up", ["since": "today"]).get()
        #expect(today["since"] == "2026-12-01T12:00:00.000Z" && today["timezone"] == "+12:00")
        #expect(today["questions"]?.arrayValue?.count == 1)
        client.close()
        let newYork = try Self.client(temp, extra: ["timezone": "America/New_York"])
        defer { newYork.close() }
        let there = try await newYork.call("whatsapp_catch_up", ["since": "today"]).get()
        #expect(there["since"] == "2026-12-02T05:00:00.000Z")
        #expect(there["questions"]?.arrayValue?.count == 0)
        // Monday 00:00 in New York.
        #expect(try await newYork.call("whatsapp_catch_up", ["since": "this_week"]).get()["since"] == "2026-11-30T05:00:00.000Z")
    }

    // MARK: export_chat

    /// More than 10 000 messages, inserted in one transaction (the store's own insert one by one would be slow).
    static func fill(_ client: WauseClient, chat: String, count: Int) throws {
        try client.store.database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                _ = try c.execute("INSERT INTO chats (jid, is_group, updated_at, last_message_at) VALUES (?, 0, 1, ?)",
                                  [.text(chat), .integer(1_700_000_000_000 + Int64(count) * 1000)])
                for index in 0..<count {
                    let fromMe = index % 3 == 0
                    let body = index == 1 ? "a, \"quoted\"\nline" : index == 2 ? "=HYPERLINK(\"x\")" : "message \(index)"
                    _ = try c.execute("""
                        INSERT INTO messages (id, chat_jid, sender_jid, from_me, type, body, timestamp, received_at)
                        VALUES (?, ?, ?, ?, 'chat', ?, ?, 1)
                        """, [.text("E\(index)"), .text(chat), fromMe ? .null : .text(chat), .integer(fromMe ? 1 : 0), .text(body),
                              .integer(1_700_000_000_000 + Int64(index) * 1000)])
                }
            }
        }
    }

    static func contents(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func exportChatWritesEveryMessageToA0600FileAsCSVAndJSON() async throws {
        let temp = TemporaryDirectory()
        let client = try Self.client(temp)
        defer { client.close() }
        let chat = "15550002222@s.whatsapp.net"
        let count = 10_050
        try Self.fill(client, chat: chat, count: count)
        try client.store.database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE device SET jid = '15551234567:3@s.whatsapp.net' WHERE id = 1")
        }
        _ = try client.store.contact(phone: "15550002222", lid: nil, pushName: "Bob", now: 1)

        let csv = try await client.call("whatsapp_export_chat", ["chat": "15550002222", "format": "csv"]).get()
        try Schema.validate(.object(csv), against: try #require(MethodCatalogue.standard.method(named: "whatsapp_export_chat")).outputSchema)
        let path = try #require(csv["path"]?.stringValue)
        #expect(path.hasPrefix(temp.path + "/exports/chat-15550002222-20261202T100000Z") && path.hasSuffix(".csv"))
        #expect(fileMode(path) == 0o600 && fileMode(temp.path + "/exports") == 0o700)
        #expect(csv["summary"]?["count"] == .int(Int64(count)))
        #expect(csv["summary"]?["first_timestamp"] == "2023-11-14T22:13:20.000Z")
        #expect(csv["summary"]?["last_timestamp"] == .string(UnixTime(milliseconds: 1_700_000_000_000 + Int64(count - 1) * 1000).iso8601))
        let participants = csv["summary"]?["participants"]?.arrayValue ?? []
        #expect(participants.contains { $0["jid"] == .string(chat) && $0["name"] == "Bob" && $0["from_me"] == false })
        #expect(participants.contains { $0["from_me"] == true })
        #expect(csv["preview"]?["first"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["E0", "E1", "E2"])
        #expect(csv["preview"]?["last"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["E10047", "E10048", "E10049"])

        let text = try Self.contents(path)
        #expect(Int64(text.utf8.count) == csv["bytes"]?.intValue)
        #expect(text.hasPrefix("id,timestamp,chat,from,author,from_me,type,body,media_type,media_sha256,quoted_id,edited,deleted\r\n"))
        // RFC 4180: the body with a comma, quotes and a newline is quoted with its quotes doubled; the formula is kept as is.
        #expect(text.contains("E1,2023-11-14T22:13:21.000Z,\(chat),\(chat),Bob,false,chat,\"a, \"\"quoted\"\"\nline\",,,,false,false\r\n"))
        #expect(text.contains(",\"=HYPERLINK(\"\"x\"\")\","))
        #expect(text.split(separator: "\r\n", omittingEmptySubsequences: false).count == count + 2)
        #expect(text.hasSuffix("E10049,2023-11-15T01:00:49.000Z,\(chat),\(chat),Bob,false,chat,message 10049,,,,false,false\r\n"))

        let guarded = try await client.call("whatsapp_export_chat", ["chat": "15550002222", "format": "csv", "formula_guard": true]).get()
        let guardedPath = try #require(guarded["path"]?.stringValue)
        #expect(guardedPath != path)
        #expect(try Self.contents(guardedPath).contains(",\"'=HYPERLINK(\"\"x\"\")\","))

        let json = try await client.call("whatsapp_export_chat", ["chat": .string(chat), "format": "json"]).get()
        let jsonPath = try #require(json["path"]?.stringValue)
        #expect(jsonPath.hasSuffix(".json") && fileMode(jsonPath) == 0o600)
        let document = try JSONValue.parse(try Self.contents(jsonPath))
        #expect(document["chat"] == JSONValue.string(chat) && document["exported_at"] == "2026-12-02T10:00:00.000Z")
        let messages = try #require(document["messages"]?.arrayValue)
        #expect(messages.count == count)
        #expect(messages[1]["body"] == "a, \"quoted\"\nline" && messages[1]["author"] == "Bob")
        #expect(messages.last?["id"] == "E10049")

        #expect(await Self.failure(client, "whatsapp_export_chat", ["chat": "15550002222", "format": "xml"])?.code == .invalidRequest)
        #expect(await Self.failure(client, "whatsapp_export_chat", ["chat": "nobody at all", "format": "csv"])?.code == .notFound)
        #expect(await Self.failure(client, "whatsapp_export_chat", ["chat": "15550009999", "format": "csv"])?.code == .notFound)
    }

    @Test func exportCSVCarriesMediaQuotesAndEdits() async throws {
        let temp = TemporaryDirectory()
        let client = try Self.client(temp)
        defer { client.close() }
        try Self.receive(client, from: "15550002222", "look", at: "2026-12-02T09:00:00Z", id: "T1")
        let photo = try Self.receive(client, from: "15550002222", "a caption", at: "2026-12-02T09:01:00Z", id: "P1", type: "image", quoted: "T1")
        try client.store.saveMedia(rowid: photo, MediaMessage(type: "image", mimetype: "image/jpeg", sha256: Array(repeating: 0xAB, count: 32)),
                                   path: nil)
        try client.store.database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE messages SET edited = 1 WHERE id = 'T1'")
        }
        let exported = try await client.call("whatsapp_export_chat", ["chat": "15550002222", "format": "csv"]).get()
        let lines = try Self.contents(try #require(exported["path"]?.stringValue)).split(separator: "\r\n").map(String.init)
        let chat = "15550002222@s.whatsapp.net"
        #expect(lines.count == 3)
        #expect(lines[1] == "T1,2026-12-02T09:00:00.000Z,\(chat),\(chat),,false,chat,look,,,,true,false")
        #expect(lines[2] == "P1,2026-12-02T09:01:00.000Z,\(chat),\(chat),,false,image,a caption,image,\(String(repeating: "ab", count: 32)),T1,false,false")
    }

    @Test func exportFileNamesComeFromTheJIDOnly() {
        let now = Self.instant("2026-12-02T10:00:00Z")
        #expect(ChatExport.fileName(chat: "120363000000000001-1700000000@g.us", now: now, format: "csv", attempt: 1)
                == "chat-120363000000000001-1700000000-20261202T100000Z.csv")
        #expect(ChatExport.fileName(chat: "../../etc/passwd@s.whatsapp.net", now: now, format: "json", attempt: 2)
                == "chat-etcpasswd-20261202T100000Z-2.json")
    }

    // MARK: reconnect

    @Test func reconnectWithoutALinkIsNotPaired() async throws {
        let temp = TemporaryDirectory()
        let client = try Self.client(temp)
        defer { client.close() }
        #expect(await Self.failure(client, "whatsapp_reconnect", .null)?.code == .whatsappNotPaired)
        #expect(MethodCatalogue.standard.method(named: "whatsapp_reconnect")?.annotations.readOnly == false)
    }
}
