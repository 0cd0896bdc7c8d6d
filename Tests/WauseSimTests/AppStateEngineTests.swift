import FoundationEssentials
import Testing
import WauseBinary
import WauseCrypto
@testable import WauseCore
import WauseProto
import WauseProtocol
@testable import WauseSim
import WauseSupport
import WauseTransport
import WauseTestSupport

/// App state between a real `WauseClient` and the sim's virtual phone over real sockets
/// (AppState/AppStateSync.swift): the phone's key share, its changes arriving as verified patches
/// (and a snapshot), `whatsapp_list_chats` showing them, and a corrupted patch MAC taking the
/// recovery path with `appstate.error` instead of wedging the collection.
@Suite struct AppStateEngineTests: LinkedEngineSuite {
    static let phone = "15550001111"
    static let bob = "15550002222@s.whatsapp.net"

    /// Where most tests here start: Ada linked to a new client, and Bob's chat archived on her
    /// phone and seen by the device (the key share and the first patch are in).
    static func linkedWithBobArchived(_ setup: Setup) async throws -> (account: SimAccount, client: WauseClient) {
        let linked = try await setup.linkedAccount(phone, "Ada")
        let cursor = linked.client.events.latestCursor
        try await change(setup, ["action": "archive", "chat": "15550002222"])
        _ = try await updated(linked.client, action: "archive", chat: bob, after: cursor)
        return linked
    }

    /// A regular_low patch at version 2 that pins Bob's chat, with a wrong MAC (the sim would
    /// refuse it from a device, so tests store it directly).
    static func patchWithWrongMAC(_ setup: Setup, _ account: SimAccount) throws -> [UInt8] {
        let server = setup.simulator.phones.appState
        let key = try #require(try server.phoneKey(account, create: false))
        let current = try server.collectionState(phone, .regularLow)
        var built = try current.building(AppStateAction.pin(chat: bob, pinned: true).changes(timestamp: 1_800_000_000_000),
                                         collection: .regularLow, keyID: key.id, keys: key.keys, iv: { SystemRandom.bytes(16) })
        built.patch.version.version = 2
        built.patch.patchMac[0] ^= 0x01
        return try built.patch.serializedBytes()
    }

    static func change(_ setup: Setup, _ body: JSONValue) async throws {
        let changed = await admin(setup.simulator, "POST", "/accounts/\(phone)/app-state", body)
        #expect(changed.status == 200, "\(changed.json)")
    }

    static func updated(_ client: WauseClient, action: String, chat: String, after cursor: Int64) async throws -> Event {
        try await MessagingTests.event(client, "chat.updated", after: cursor) { $0["action"] == .string(action) && $0["chat_id"] == .string(chat) }
    }

    static func chat(_ client: WauseClient, _ jid: String) async throws -> JSONValue {
        let listed = try await client.call("whatsapp_list_chats", ["limit": 50]).get()
        return try #require(listed["chats"]?.arrayValue?.first { $0["id"] == .string(jid) }, "\(listed)")
    }

    @Test func thePhoneArchivesPinsAndMutesAndTheDeviceSeesIt() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        let client = try await Self.linkedWithBobArchived(setup).client
        let bob = Self.bob, carol = "15550003333@s.whatsapp.net"

        var cursor = client.events.latestCursor
        try await Self.change(setup, ["action": "pin", "chat": "15550003333"])
        _ = try await Self.updated(client, action: "pin", chat: carol, after: cursor)
        cursor = client.events.latestCursor
        try await Self.change(setup, ["action": "mute", "chat": "15550002222"])
        let muted = try await Self.updated(client, action: "mute", chat: bob, after: cursor)
        #expect(muted.data["muted_until"] == -1)

        let bobChat = try await Self.chat(client, bob)
        #expect(bobChat["archived"] == true && bobChat["pinned"] == false && bobChat["muted"] == true && bobChat["muted_until"] == -1)
        let carolChat = try await Self.chat(client, carol)
        #expect(carolChat["pinned"] == true && carolChat["archived"] == false && carolChat["muted"] == false)
        // The key came from the phone and the versions are stored.
        #expect(try client.store.latestAppStateKey() != nil)
        #expect(try client.store.appStateCollection(.regularLow).version == 2)
        #expect(try client.store.appStateCollection(.regularHigh).version == 1)

        // Unarchive and unmute from the phone: the device follows.
        cursor = client.events.latestCursor
        try await Self.change(setup, ["action": "archive", "chat": "15550002222", "value": false])
        _ = try await Self.updated(client, action: "archive", chat: bob, after: cursor)
        cursor = client.events.latestCursor
        try await Self.change(setup, ["action": "mute", "chat": "15550002222", "value": false])
        _ = try await Self.updated(client, action: "mute", chat: bob, after: cursor)
        let after = try await Self.chat(client, bob)
        #expect(after["archived"] == false && after["muted"] == false && after["muted_until"] == .null)
    }

    @Test func aCorruptedPatchMACTakesTheRecoveryPathAndSyncGoesOn() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        let (account, client) = try await Self.linkedWithBobArchived(setup)
        let server = setup.simulator.phones.appState, bob = Self.bob

        // A patch whose MAC is wrong lands on the server as version 2, and the device is told.
        let bytes = try Self.patchWithWrongMAC(setup, account)
        try setup.simulator.state.commit { (c) throws(WauseError) in
            try c.execute("INSERT INTO app_state_patches (phone, collection, version, device, patch) VALUES (?, 'regular_low', 2, 0, ?)",
                          [.text(Self.phone), .blob(bytes)])
            try c.execute("UPDATE app_state_collections SET version = 2 WHERE phone = ? AND collection = 'regular_low'", [.text(Self.phone)])
        }
        var cursor = client.events.latestCursor
        try server.notify(account, except: 0, [(.regularLow, 2)])
        let error = try await MessagingTests.event(client, "appstate.error", after: cursor) { $0["collection"] == "regular_low" }
        #expect(error.data["reason"] == "patch_mac_mismatch" && error.data["action"] == "full_resync", "\(error.data)")
        // The full resync (a snapshot of the live records at version 2) succeeds: no second error, the version moved on.
        try await poll { (try? client.store.appStateCollection(.regularLow).version) == 2 }
        // And the collection is not wedged: the phone's next change arrives as usual.
        cursor = client.events.latestCursor
        try await Self.change(setup, ["action": "pin", "chat": "15550003333"])
        _ = try await Self.updated(client, action: "pin", chat: "15550003333@s.whatsapp.net", after: cursor)
        #expect(try client.store.appStateCollection(.regularLow).version == 3)
        #expect(try await Self.chat(client, bob)["archived"] == true)
    }

    /// Issue 15, item 3: versions stored before a restart are reused — the reopened client asks for
    /// the patches after its stored version (no snapshot, no refetch from 0) and gets only what the
    /// phone changed while it was closed.
    @Test func storedVersionsAreReusedAfterReopening() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        let linked = try await Self.linkedWithBobArchived(setup).client
        let bob = Self.bob, carol = "15550003333@s.whatsapp.net"
        #expect(try linked.store.appStateCollection(.regularLow).version == 1)
        let directory = linked.config.dataDirectory
        linked.close()

        // The phone pins Carol while the device is away: regular_low moves to version 2.
        try await Self.change(setup, ["action": "pin", "chat": "15550003333"])
        let logs = FirstHourTests.LogLines()
        var config = setup.config(directory)
        config.logLevel = .debug
        let reopened = try WauseClient(config: config, environment: FirstHourTests.environment(logs))
        defer { reopened.close() }
        _ = try await Self.updated(reopened, action: "pin", chat: carol, after: 0)
        #expect(try reopened.store.appStateCollection(.regularLow).version == 2)
        let fetches = logs.all.filter { $0.contains("app state: fetching regular_low") }
        #expect(fetches.contains { $0.contains("fetching regular_low from version 1") }, "\(fetches)")
        #expect(!fetches.contains { $0.contains("as a snapshot") || $0.contains("from version 0") }, "\(fetches)")
        // Only the pin came: the archive, applied before the restart, was not announced again.
        let archived = try reopened.events.events(after: 0, limit: 500).filter { $0.name == "chat.updated" && $0.data["action"] == "archive" }
        #expect(archived.count == 1)
        let bobChat = try await Self.chat(reopened, bob), carolChat = try await Self.chat(reopened, carol)
        #expect(bobChat["archived"] == true && carolChat["pinned"] == true)
    }

    /// Issue 15, item 4: peer messages are acknowledged as `peer_msg` to the account's own number
    /// both ways (whatsmeow message.go handleProtocolMessage) — the device's for the phone's key
    /// share, the phone's for the device's on-demand history request — as the server sees them.
    @Test func peerMessagesAreReceiptedAsPeerMsgBothWays() async throws {
        let logs = FirstHourTests.LogLines()
        let setup = try await Setup(simulatorLog: logs.sink)
        defer { Task { await setup.close() } }
        let client = try await Self.linkedWithBobArchived(setup).client
        let linkedJID = try #require(try client.store.linkedAccount()?.jid)
        let device = try #require(JID(linkedJID))
        // The key share came from the phone as a peer message; the device said peer_msg for it.
        let fromDevice = "from \(JID(user: device.user, device: device.device, server: .whatsApp)) to \(Self.phone)@s.whatsapp.net"
        try await poll { logs.all.contains { $0.contains("receipt peer_msg ") && $0.contains(fromDevice) } }

        // The device asks the phone for older history (a peer message): the phone says peer_msg.
        // Not awaited: its answer is not the point here, the receipt is.
        let request = Task { await client.call("whatsapp_request_history", ["chat": "15550002222", "count": 5]) }
        defer { request.cancel() }
        let fromPhone = "from \(Self.phone)@s.whatsapp.net to \(Self.phone)@s.whatsapp.net"
        try await poll { logs.all.contains { $0.contains("receipt peer_msg ") && $0.contains(fromPhone) } }
    }

    /// Issue 15, item 2: when the full resync fails too, the device asks the phone for the
    /// collection in plain text (whatsmeow BuildAppStateRecoveryRequest), the phone answers, the
    /// device takes the phone's version and hash, and the phone's next change applies on top.
    @Test func aFailedFullResyncAsksThePhoneForARecoveryAndSyncGoesOn() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        let (account, client) = try await Self.linkedWithBobArchived(setup)
        let server = setup.simulator.phones.appState, bob = Self.bob

        // The server's copy of Bob's record is damaged (its index blob), so no snapshot of the
        // collection opens any more; the phone keeps its records in plain text and still can. A
        // patch with a wrong MAC (version 2) makes the device resync.
        let current = try server.collectionState(Self.phone, .regularLow)
        let bytes = try Self.patchWithWrongMAC(setup, account)
        try setup.simulator.state.commit { (c) throws(WauseError) in
            for row in try c.query("SELECT index_mac, record FROM app_state_records WHERE phone = ? AND collection = 'regular_low'", [.text(Self.phone)]) {
                guard let blob = row["record"].blob, let indexMAC = row["index_mac"].blob,
                      var record = try? WAWebProtobufsServerSync_SyncdRecord(serializedBytes: blob) else { continue }
                record.index.blob[0] ^= 0x01
                let damaged: [UInt8] = (try? record.serializedBytes()) ?? blob
                try c.execute("UPDATE app_state_records SET record = ? WHERE phone = ? AND collection = 'regular_low' AND index_mac = ?",
                              [.blob(damaged), .text(Self.phone), .blob(indexMAC)])
            }
            try c.execute("INSERT INTO app_state_patches (phone, collection, version, device, patch) VALUES (?, 'regular_low', 2, 0, ?)",
                          [.text(Self.phone), .blob(bytes)])
            try c.execute("UPDATE app_state_collections SET version = 2 WHERE phone = ? AND collection = 'regular_low'", [.text(Self.phone)])
        }
        var cursor = client.events.latestCursor
        try server.notify(account, except: 0, [(.regularLow, 2)])
        let first = try await MessagingTests.event(client, "appstate.error", after: cursor) { $0["collection"] == "regular_low" }
        #expect(first.data["reason"] == "patch_mac_mismatch" && first.data["action"] == "full_resync", "\(first.data)")
        let second = try await MessagingTests.event(client, "appstate.error", after: first.cursor) { $0["collection"] == "regular_low" }
        #expect(second.data["reason"] == "index_mac_mismatch" && second.data["action"] == "requested_recovery_from_phone", "\(second.data)")
        // The phone's recovery lands: the version and hash are the phone's, Bob stays archived.
        try await poll { (try? client.store.appStateCollection(.regularLow).version) == 2 }
        #expect(try client.store.appStateCollection(.regularLow).hash == current.hash)
        #expect(try await Self.chat(client, bob)["archived"] == true)
        // And the collection goes on: the phone's next change arrives as a patch on top.
        cursor = client.events.latestCursor
        try await Self.change(setup, ["action": "pin", "chat": "15550003333"])
        _ = try await Self.updated(client, action: "pin", chat: "15550003333@s.whatsapp.net", after: cursor)
        #expect(try client.store.appStateCollection(.regularLow).version == 3)
    }

    @Test func aMissingKeyIsAskedOfThePhoneAndSyncResumesWhenItAnswers() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        let client = try await Self.linkedWithBobArchived(setup).client
        var cursor = client.events.latestCursor

        // The phone moves to a new key without sharing it (as if the share were lost): its next patch
        // names a key the device lacks.
        let devices = try setup.simulator.state.devices(phone: Self.phone)
        try setup.simulator.state.commit { (c) throws(WauseError) in
            try c.execute("INSERT INTO app_state_keys (phone, key_id, key_data, timestamp) VALUES (?, ?, ?, ?)",
                          [.text(Self.phone), .blob([0, 0, 9, 9, 9, 9]), .blob(SystemRandom.bytes(32)), .integer(Int64.max / 2)])
            // The phone believes it shared it.
            for device in devices {
                try c.execute("INSERT INTO app_state_key_shares (phone, device, key_id) VALUES (?, ?, ?)",
                              [.text(Self.phone), .integer(Int64(device.device)), .blob([0, 0, 9, 9, 9, 9])])
            }
        }
        cursor = client.events.latestCursor
        try await Self.change(setup, ["action": "pin", "chat": "15550003333"])
        // The device asks the phone for it, the phone shares it, and the sync goes on.
        let error = try await MessagingTests.event(client, "appstate.error", after: cursor) { $0["collection"] == "regular_low" }
        #expect(error.data["reason"] == "missing_key" && error.data["action"] == "requested_keys_from_phone", "\(error.data)")
        _ = try await Self.updated(client, action: "pin", chat: "15550003333@s.whatsapp.net", after: cursor)
        #expect(try client.store.latestAppStateKey() != nil)
        #expect(try client.store.appStateCollection(.regularLow).version == 2)
        #expect(try await Self.chat(client, "15550002222@s.whatsapp.net")["archived"] == true)
    }
}

/// Our changes as patches (AppState/AppStateMethods.swift): the phone and a second companion of the
/// same account see what one wause device mutes, stars, archives and deletes for itself.
@Suite struct AppStateSendTests: LinkedEngineSuite {
    static let phone = AppStateEngineTests.phone

    @Test func wauseMutesStarsAndArchivesAndThePhoneAndASecondCompanionSeeIt() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account(Self.phone, "Ada")
        _ = try setup.account("15550002222", "Bob")
        let first = try await setup.linkedClient(Self.phone)
        let second = try await setup.linkedClient(Self.phone)
        let bob = "15550002222@s.whatsapp.net"

        // Before the phone shared its key, a change cannot be sent: a clear error, nothing lost.
        let early = await first.call("whatsapp_pin_chat", ["chat": "15550002222"])
        if case .failure(let error) = early { #expect(error.code == .notConnected) } else { Issue.record("pinned without a key: \(early)") }

        // The phone's first change makes and shares its key with both companions.
        var cursors = (first.events.latestCursor, second.events.latestCursor)
        try await AppStateEngineTests.change(setup, ["action": "pin", "chat": "15550003333"])
        _ = try await AppStateEngineTests.updated(first, action: "pin", chat: "15550003333@s.whatsapp.net", after: cursors.0)
        _ = try await AppStateEngineTests.updated(second, action: "pin", chat: "15550003333@s.whatsapp.net", after: cursors.1)

        // A message from Bob to star and then delete for us.
        cursors = (first.events.latestCursor, second.events.latestCursor)
        let posted = await admin(setup.simulator, "POST", "/accounts/15550002222/send", ["to": .string(Self.phone), "text": "keep this"])
        let messageID = try #require(posted.json["message_id"]?.stringValue)
        _ = try await MessagingTests.received(first, text: "keep this", after: cursors.0)
        _ = try await MessagingTests.received(second, text: "keep this", after: cursors.1)

        cursors = (first.events.latestCursor, second.events.latestCursor)
        let muted = try await Self.call(first, "whatsapp_mute_chat", ["chat": "15550002222", "duration": "8h"])
        #expect(muted["ok"] == true && muted["collection"] == "regular_high" && muted["chat"]?["muted"] == true, "\(muted)")
        let until = try #require(muted["chat"]?["muted_until"]?.intValue)
        let seen = try await AppStateEngineTests.updated(second, action: "mute", chat: bob, after: cursors.1)
        #expect(seen.data["muted_until"]?.intValue == until)

        let starred = try await Self.call(first, "whatsapp_star_message", ["message_id": .string(messageID)])
        #expect(starred["ok"] == true && starred["message_id"] == .string(messageID))
        let star = try await MessagingTests.event(second, "chat.updated", after: cursors.1) { $0["action"] == "star" }
        #expect(star.data["message_id"] == .string(messageID) && star.data["starred"] == true)

        let archived = try await Self.call(first, "whatsapp_archive_chat", ["chat": "15550002222"])
        #expect(archived["chat"]?["archived"] == true && archived["collection"] == "regular_low")
        _ = try await AppStateEngineTests.updated(second, action: "archive", chat: bob, after: cursors.1)
        #expect(try await AppStateEngineTests.chat(second, bob)["archived"] == true)

        // The phone's view: muted until the same moment, the star, the archive.
        var view = await admin(setup.simulator, "GET", "/accounts/\(Self.phone)/app-state").json
        let bobView = view["chats"]?.arrayValue?.first { $0["chat"] == .string(bob) }
        #expect(bobView?["muted"] == true && bobView?["muted_until"]?.intValue.map { $0 / 1000 } == until && bobView?["archived"] == true, "\(view)")
        #expect(view["starred"]?.arrayValue?.contains { $0["message_id"] == .string(messageID) } == true)
        #expect(view["unreadable_records"] == 0)

        // Delete for me: gone here, on the second companion, and in the phone's view.
        let deleted = try await Self.call(first, "whatsapp_delete_message", ["message_id": .string(messageID), "scope": "me"])
        #expect(deleted["status"] == "deleted" && deleted["note"] == nil, "\(deleted)")
        _ = try await MessagingTests.event(second, "chat.updated", after: cursors.1) { $0["action"] == "delete_message" }
        #expect(try await MessageChangesTests.stored(second, chat: "15550002222", id: messageID) == nil)
        view = await admin(setup.simulator, "GET", "/accounts/\(Self.phone)/app-state").json
        #expect(view["deleted_messages"]?.arrayValue?.contains { $0["message_id"] == .string(messageID) } == true)

        // Unmute and mark unread, then a bad duration: refused before anything is sent.
        _ = try await Self.call(first, "whatsapp_mute_chat", ["chat": "15550002222", "duration": "off"])
        let unread = try await Self.call(first, "whatsapp_mark_chat_unread", ["chat": "15550002222"])
        #expect(unread["action"] == "mark_unread" && unread["chat"]?["muted"] == false)
        let bad = await first.call("whatsapp_mute_chat", ["chat": "15550002222", "duration": "2d"])
        if case .failure(let error) = bad { #expect(error.code == .invalidRequest) } else { Issue.record("2d accepted") }
    }
}
