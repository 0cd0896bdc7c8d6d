import Testing
@testable import WauseCore
import WauseSupport
import WauseCrypto
import WauseSQLite
import WauseTestSupport

/// Every catalogue method called with valid arguments on a client linked to a wause-sim phone,
/// with messages both ways in its store (issue 11). Debug builds check each result against the
/// method's output schema in `WauseClient.call`, so a field a schema does not admit (the
/// `identity_changed` of a received message, which broke the official MCP SDKs) fails here. A
/// method annotated read-only must leave every table of the store as it found it (issue 14: the
/// annotations are true), whatever area it comes from — checked on a quiet engine, where no
/// receipt or message arriving meanwhile can move the store.
@Suite struct EveryMethodTests {
    /// Every row of every table of the store (the event log included).
    static func snapshot(_ store: Store) throws -> [String: [[SQLValue]]] {
        try store.database.withConnection { (c) throws(WauseError) in
            var tables: [String: [[SQLValue]]] = [:]
            for row in try c.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") {
                guard let name = row["name"].text else { continue }
                tables[name] = try c.query("SELECT * FROM \"\(name)\"").map(\.values)
            }
            return tables
        }
    }

    /// The group methods run in catalogue order on one group: created first, left last; join
    /// previews the link `whatsapp_get_group_invite_link` returned (in `inviteLink`).
    static func arguments(_ method: MethodDefinition, sentID: String, inviteLink: String? = nil, file: String = "",
                          fileMessageID: String? = nil, pollID: String? = nil, webhook: String? = nil,
                          delivery: [String: String] = [:]) -> JSONValue? {
        switch method.name {
        // A loopback URL nothing listens on: deliveries are refused and retried until the webhook goes.
        case "whatsapp_add_webhook": ["url": "http://127.0.0.1:9/hook", "events": ["message."]]
        case "whatsapp_update_webhook": ["webhook": .string(webhook ?? ""), "enabled": false]
        case "whatsapp_test_webhook", "whatsapp_delete_webhook": ["webhook": .string(webhook ?? "")]
        case "whatsapp_create_group": ["name": "Every method", "participants": ["15550003333"]]
        case "whatsapp_get_group_info", "whatsapp_get_group_invite_link", "whatsapp_leave_group": ["group": "Every method"]
        case "whatsapp_update_group_participants": ["group": "Every method", "action": "promote", "participants": ["15550003333"]]
        case "whatsapp_set_group_name": ["group": "Every method", "name": "Every method"]
        case "whatsapp_set_group_topic": ["group": "Every method", "topic": "all of them"]
        case "whatsapp_join_group": ["invite": .string(inviteLink ?? ""), "preview_only": true]
        case "whatsapp_get_tool_info": ["tool": "whatsapp_send_message"]
        case "whatsapp_pairing_code": ["phone_number": "+15550001111"]
        case "whatsapp_send_message": ["phone_number": "15550003333", "message": "hello again carol"]
        case "whatsapp_message_status": ["message_id": .string(sentID)]
        case "whatsapp_mark_read": ["chat": "15550003333"]
        case "whatsapp_read_messages": ["phone_number": "15550003333"]
        case "whatsapp_list_messages": ["to": "15550003333", "after": "2020-01-01", "include_context": true]
        case "whatsapp_search_messages": ["query": "carol", "include_context": true]
        case "whatsapp_sync": ["cursor": 0]
        case "whatsapp_send_file": ["to": "15550003333", "file_path": .string(file), "caption": "every method"]
        case "whatsapp_send_location": ["to": "15550003333", "latitude": 48.8566, "longitude": 2.3522, "name": "Paris"]
        case "whatsapp_send_contact_card": ["to": "15550003333", "contacts": [["name": "Dora", "phone": "+15550009999"]]]
        case "whatsapp_download_media": ["message_id": .string(fileMessageID ?? "")]
        // From the start of the log, where Carol's message is.
        case "whatsapp_wait_for_message": ["timeout": 5, "after_cursor": 0]
        // Issue 14, in catalogue order: react to, edit and then revoke our first message; a poll and its results.
        case "whatsapp_react_to_message": ["message_id": .string(sentID), "emoji": "👍"]
        case "whatsapp_edit_message": ["message_id": .string(sentID), "new_text": "hello carol (edited)"]
        case "whatsapp_delete_message": ["message_id": .string(sentID), "scope": "everyone"]
        case "whatsapp_create_poll": ["to": "15550003333", "question": "Every method?", "options": ["yes", "no"]]
        case "whatsapp_get_poll_results": ["message_id": .string(pollID ?? "")]
        case "whatsapp_request_approval": ["to": "15550003333", "action": "run every method", "timeout": 10]
        // Issue 14's agent helpers (get_message before react/edit/delete, in catalogue order).
        case "whatsapp_get_message": ["message_id": .string(sentID)]
        case "whatsapp_catch_up": ["since": "today"]
        case "whatsapp_export_chat": ["chat": "15550003333", "format": "json"]
        case "whatsapp_reconnect": ["timeout": 60]
        // Contacts and presence (issue 14).
        case "whatsapp_search_contacts": ["query": "carol", "include_chats": true]
        case "whatsapp_set_contact_name": ["contact": "15550003333", "name": "Carol C."]
        case "whatsapp_get_user_info": ["phones": ["15550003333"]]
        case "whatsapp_is_on_whatsapp": ["phones": ["15550003333", "15559999999"]]
        case "whatsapp_get_profile_picture": ["target": "15550003333"]
        case "whatsapp_set_presence": ["state": "available"]
        case "whatsapp_send_typing": ["to": "15550003333", "state": "composing"]
        case "whatsapp_subscribe_presence": ["contact": "15550003333"]
        // Our phone (the sim's) answers from what it sent and received through the sim.
        case "whatsapp_request_history": ["chat": "15550003333", "count": 5]
        // App state (issue 15): sent as patches once the phone shared its key (below).
        case "whatsapp_archive_chat", "whatsapp_pin_chat", "whatsapp_mark_chat_unread", "whatsapp_clear_chat", "whatsapp_delete_chat":
            ["chat": "15550003333"]
        case "whatsapp_mute_chat": ["chat": "15550003333", "duration": "8h"]
        case "whatsapp_star_message": ["message_id": .string(sentID)]
        // Issue 16 (delivery), in catalogue order: the scheduled and the failed message made before the loop, the bulk job it queues.
        case "whatsapp_cancel_scheduled": ["message_id": .string(delivery["scheduled"] ?? "")]
        case "whatsapp_send_bulk": ["items": [["to": "15550003333", "message": "bulk: every method"]], "idempotency_key": "every-method"]
        case "whatsapp_get_bulk_status", "whatsapp_cancel_bulk": ["job_id": .string(delivery["job"] ?? "bulk-none")]
        case "whatsapp_retry_message": ["message_id": .string(delivery["failed"] ?? "")]
        default: method.inputSchema["required"]?.arrayValue?.isEmpty == false ? nil : .null
        }
    }

    @Test func everyMethodAnswersWithinItsOutputSchemaWithRealMessages() async throws {
        let setup = try await MessagingTests.Setup()
        _ = try setup.account("15550001111", "Ada")
        _ = try setup.account("15550003333", "Carol")
        // A push name, which whatsapp_set_presence needs.
        let alice = try await setup.linkedClient("15550001111", pushName: "Ada")
        let sent = try await MessagingTests.send(alice, to: "15550003333", "hello carol")
        let posted = await admin(setup.simulator, "POST", "/accounts/15550003333/send", ["to": "15550001111", "text": "hi from carol"])
        #expect(posted.status == 200, "\(posted.json)")
        _ = try await MessagingTests.received(alice, text: "hi from carol")
        // The phone's first app-state change shares its key, so the app-state methods can send.
        let cursor = alice.events.latestCursor
        _ = await admin(setup.simulator, "POST", "/accounts/15550001111/app-state", ["action": "pin", "chat": "15550009999"])
        _ = try await MessagingTests.event(alice, "chat.updated", after: cursor) { $0["action"] == "pin" }

        let sentID = try #require(sent["message_id"]?.stringValue)
        // The destructive ones last.
        let last = ["whatsapp_logout", "whatsapp_unlink"]
        // The account methods answer only with accounts_dir (a single-account client refuses them): AccountsTests
        // calls each through Accounts, which checks every result against its output schema in debug builds.
        let methods = alice.catalogue.methods.filter { !last.contains($0.name) && !AccountMethods.names.contains($0.name) }
            + last.compactMap(alice.catalogue.method(named:))
        var inviteLink: String?, fileMessageID: String?, pollID: String?, webhook: String?
        var delivery: [String: String] = [:]
        let nextMonth = UnixTime(milliseconds: alice.environment.now().milliseconds + 30 * 86_400_000)
        let scheduled = try await alice.call("whatsapp_send_message", ["to": "15550003333", "message": "next month",
                                                                       "send_at": .string(nextMonth.iso8601)]).get()
        delivery["scheduled"] = scheduled["message_id"]?.stringValue
        if case .failure(let refused) = await alice.call("whatsapp_send_message", ["to": "15559999999", "message": "nobody"]) {
            delivery["failed"] = refused.details?["message_id"]?.stringValue
        }
        // A file in the system temporary directory, one of the default media directories.
        let folder = TemporaryDirectory(prefix: "wause-every-method")
        let file = folder.path + "/every.pdf"
        try MediaEngineTests.write(Array("%PDF-1.4\n".utf8) + SystemRandom.bytes(3000), to: file)
        for method in methods {
            let arguments = try #require(Self.arguments(method, sentID: sentID, inviteLink: inviteLink, file: file, fileMessageID: fileMessageID,
                                                          pollID: pollID, webhook: webhook, delivery: delivery),
                                         "no arguments for \(method.name)")
            switch await alice.call(method.name, arguments) {
            case .success(let result):
                try MethodCatalogue.checkResult(result, of: method)
                if method.name == "whatsapp_get_group_invite_link" { inviteLink = result["invite_link"]?.stringValue }
                if method.name == "whatsapp_send_file" { fileMessageID = result["message_id"]?.stringValue }
                if method.name == "whatsapp_create_poll" { pollID = result["message_id"]?.stringValue }
                if method.name == "whatsapp_add_webhook" { webhook = result["webhook"]?["id"]?.stringValue }
                if method.name == "whatsapp_send_bulk" { delivery["job"] = result["job_id"]?.stringValue }
                if method.name == "whatsapp_wait_for_message" {
                    #expect(result["message"]?["body"] == "hi from carol")
                    #expect(result["message"]?["identity_changed"] != nil)
                }
            case .failure(let error):
                Issue.record("\(method.name): \(error.code.rawValue): \(error.message)")
            }
        }
        await setup.close()
    }

    @Test func everyReadOnlyMethodLeavesTheStoreAsItFoundIt() async throws {
        let setup = try await MessagingTests.Setup()
        _ = try setup.account("15550001111", "Ada")
        _ = try setup.account("15550003333", "Carol")
        let alice = try await setup.linkedClient("15550001111")
        let sent = try await MessagingTests.send(alice, to: "15550003333", "hello carol")
        let posted = await admin(setup.simulator, "POST", "/accounts/15550003333/send", ["to": "15550001111", "text": "hi from carol"])
        #expect(posted.status == 200, "\(posted.json)")
        _ = try await MessagingTests.received(alice, text: "hi from carol")
        let sentID = try #require(sent["message_id"]?.stringValue)
        // Something for the group and poll readers to read.
        _ = try await alice.call("whatsapp_create_group", ["name": "Every method", "participants": ["15550003333"]]).get()
        let poll = try await alice.call("whatsapp_create_poll", ["to": "15550003333", "question": "Every method?", "options": ["yes", "no"]]).get()
        let directory = alice.config.dataDirectory
        alice.close()

        // Reopened naming another server than the link's, without its root key: it opens but never dials
        // (DESIGN.md "Configuration"), so nothing arrives while the read-only methods run.
        var config = setup.config(directory)
        config.serverURL = "ws://127.0.0.1:9/ws/chat"
        config.configuredServerRootKey = nil
        let quiet = try WauseClient(config: config, environment: .live)
        defer { quiet.close() }
        #expect(quiet.connectionSnapshot().0 == .authFailure)
        let readers = quiet.catalogue.methods.filter(\.annotations.readOnly)
        #expect(readers.count >= 10, "\(readers.map(\.name))")
        for method in readers {
            let arguments = try #require(Self.arguments(method, sentID: sentID, pollID: poll["message_id"]?.stringValue),
                                         "no arguments for \(method.name)")
            let before = try Self.snapshot(quiet.store)
            // A refusal (offline, say) must change nothing either.
            _ = await quiet.call(method.name, arguments)
            let after = try Self.snapshot(quiet.store)
            let changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
            #expect(changed.isEmpty, "\(method.name) is annotated read-only but changed \(changed)")
        }
        await setup.close()
    }
}
