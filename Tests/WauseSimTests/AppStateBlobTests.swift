import FoundationEssentials
import Testing
import WauseCrypto
@testable import WauseCore
import WauseProto
import WauseProtocol
@testable import WauseSim
import WauseSupport
import WauseTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Large app-state patches as external blobs (AppState/AppStateSync.swift, the sim's
/// AppStateServer): a patch whose mutations exceed the server's limit carries only
/// `externalMutations`, an `md-app-state` blob on the media host that the engine downloads through
/// its Media layer and applies exactly as inline mutations; a blob that fails its hashes takes the
/// recovery path with `appstate.error` instead of wedging the collection.
@Suite struct AppStateBlobTests {
    typealias Setup = MessagingTests.Setup
    static let phone = AppStateEngineTests.phone

    /// The stored patch at `version` as the server serves it.
    static func storedPatch(_ setup: Setup, _ collection: AppStateCollection, version: UInt64) throws -> WAWebProtobufsServerSync_SyncdPatch {
        let rows = try setup.simulator.state.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT patch FROM app_state_patches WHERE phone = ? AND collection = ? AND version = ?",
                        [.text(Self.phone), .text(collection.rawValue), .integer(Int64(version))])
        }
        let bytes = try #require(rows.first?["patch"].blob, "no \(collection.rawValue) v\(version) stored")
        return try WAWebProtobufsServerSync_SyncdPatch(serializedBytes: bytes)
    }

    static func setThreshold(_ setup: Setup, _ bytes: Int) async {
        let set = await admin(setup.simulator, "PUT", "/app-state/settings", ["external_patch_bytes": .int(Int64(bytes))])
        #expect(set.status == 200 && set.json["external_patch_bytes"] == .int(Int64(bytes)), "\(set.json)")
    }

    @Test func theLimitIsAFlagOfTheSim() {
        guard case .run(let given) = SimCommandLine.parse(["--data-dir", "d", "--app-state-blob-bytes", "0"]) else {
            Issue.record("--app-state-blob-bytes 0 refused")
            return
        }
        #expect(given.appStateBlobBytes == 0)
        guard case .run(let plain) = SimCommandLine.parse(["--data-dir", "d"]) else { return }
        #expect(plain.appStateBlobBytes == AppStateServer.defaultBlobBytes)
        guard case .exit(2, _) = SimCommandLine.parse(["--data-dir", "d", "--app-state-blob-bytes", "-5"]) else {
            Issue.record("a negative limit accepted")
            return
        }
    }

    @Test func largePatchesReachTheDeviceAsExternalBlobs() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account(Self.phone, "Ada")
        let client = try await setup.linkedClient(Self.phone)
        let bob = "15550002222@s.whatsapp.net", carol = "15550003333@s.whatsapp.net"

        // At the default limit an everyday patch stays inline.
        let settings = await admin(setup.simulator, "GET", "/app-state/settings")
        #expect(settings.json["external_patch_bytes"] == .int(Int64(AppStateServer.defaultBlobBytes)))
        var cursor = client.events.latestCursor
        try await AppStateEngineTests.change(setup, ["action": "pin", "chat": "15550003333"])
        _ = try await AppStateEngineTests.updated(client, action: "pin", chat: carol, after: cursor)
        let inline = try Self.storedPatch(setup, .regularLow, version: 1)
        #expect(!inline.hasExternalMutations && !inline.mutations.isEmpty)

        // With the limit at 0 every patch is a blob: archiving Bob (an archive and an unpin) and
        // muting him arrive through the media host all the same.
        await Self.setThreshold(setup, 0)
        cursor = client.events.latestCursor
        try await AppStateEngineTests.change(setup, ["action": "archive", "chat": "15550002222"])
        _ = try await AppStateEngineTests.updated(client, action: "archive", chat: bob, after: cursor)
        try await AppStateEngineTests.change(setup, ["action": "mute", "chat": "15550002222"])
        _ = try await AppStateEngineTests.updated(client, action: "mute", chat: bob, after: cursor)
        let external = try Self.storedPatch(setup, .regularLow, version: 2)
        #expect(external.hasExternalMutations && external.mutations.isEmpty)
        #expect(try Self.storedPatch(setup, .regularHigh, version: 1).hasExternalMutations)
        #expect(try client.store.appStateCollection(.regularLow).version == 2)
        // The LTHash the device computed from the blob's mutations is the server's.
        #expect(try client.store.appStateCollection(.regularLow).hash == setup.simulator.phones.appState.collectionState(Self.phone, .regularLow).hash)
        let bobChat = try await AppStateEngineTests.chat(client, bob)
        #expect(bobChat["archived"] == true && bobChat["muted"] == true)
        #expect(try client.events.events(after: cursor, limit: 500).allSatisfy { $0.name != "appstate.error" })

        // A patch the device sends itself is served as a blob to the other devices, and the phone reads it.
        let pinned = try await client.call("whatsapp_pin_chat", ["chat": "15550004444"]).get()
        #expect(pinned["ok"] == true, "\(pinned)")
        #expect(try Self.storedPatch(setup, .regularLow, version: 3).hasExternalMutations)
        let view = await admin(setup.simulator, "GET", "/accounts/\(Self.phone)/app-state").json
        #expect(view["chats"]?.arrayValue?.contains { $0["chat"] == "15550004444@s.whatsapp.net" && $0["pinned"] == true } == true, "\(view)")
        #expect(view["unreadable_records"] == 0)

        // A bad setting is refused and changes nothing.
        let bad = await admin(setup.simulator, "PUT", "/app-state/settings", ["external_patch_bytes": -1])
        #expect(bad.status == 400 && bad.json["code"] == "invalid_request")
        #expect(await admin(setup.simulator, "GET", "/app-state/settings").json["external_patch_bytes"] == 0)
    }

    /// At the default limit, a patch the size of a phone's bulk change (400 contact names in one
    /// patch, about 90 KB of mutations) goes out as a blob, and all of it lands on the device.
    @Test func aBigPatchAtTheDefaultLimitTravelsAsABlob() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        let account = try setup.account(Self.phone, "Ada")
        let client = try await setup.linkedClient(Self.phone)
        // The phone's first change makes and shares its key.
        var cursor = client.events.latestCursor
        try await AppStateEngineTests.change(setup, ["action": "pin", "chat": "15550003333"])
        _ = try await AppStateEngineTests.updated(client, action: "pin", chat: "15550003333@s.whatsapp.net", after: cursor)

        let server = setup.simulator.phones.appState
        let key = try #require(try server.phoneKey(account, create: false))
        let current = try server.collectionState(Self.phone, .criticalUnblockLow)
        let changes = (0..<400).flatMap { n in
            let digits = String(n)
            return AppStateAction.contact(jid: "1666" + String(repeating: "0", count: 7 - digits.count) + digits + "@s.whatsapp.net",
                                          fullName: "Contact \(n)", firstName: "Contact").changes(timestamp: 1_800_000_000_000)
        }
        let built = try current.building(changes, collection: .criticalUnblockLow, keyID: key.id, keys: key.keys, iv: { SystemRandom.bytes(16) })
        var inline = WAWebProtobufsServerSync_SyncdMutations()
        inline.mutations = built.patch.mutations
        let inlineBytes: [UInt8] = try inline.serializedBytes()
        #expect(inlineBytes.count > AppStateServer.defaultBlobBytes)
        cursor = client.events.latestCursor
        let answer = try server.submit([try built.patch.serializedBytes()], to: .criticalUnblockLow, on: current.version,
                                       from: SimEndpoint(account: account, device: 0))
        #expect(answer.error == nil && answer.version == 1)
        #expect(try Self.storedPatch(setup, .criticalUnblockLow, version: 1).hasExternalMutations)
        try server.notify(account, except: 0, [(.criticalUnblockLow, 1)])
        _ = try await MessagingTests.event(client, "chat.updated", after: cursor) { $0["contact"] == "16660000399@s.whatsapp.net" }
        #expect(try client.store.appStateCollection(.criticalUnblockLow).version == 1)
        #expect(try client.store.appStateCollection(.criticalUnblockLow).hash == server.collectionState(Self.phone, .criticalUnblockLow).hash)
        let named = try client.store.database.withConnection { (c) throws(WauseError) in
            try c.scalar("SELECT count(*) FROM contacts WHERE phone LIKE '1666%' AND full_name LIKE 'Contact %'")
        }
        #expect(named == 400)
    }

    @Test func aCorruptedBlobTakesTheRecoveryPathAndSyncGoesOn() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        let account = try setup.account(Self.phone, "Ada")
        let client = try await setup.linkedClient(Self.phone)
        let bob = "15550002222@s.whatsapp.net", carol = "15550003333@s.whatsapp.net"
        var cursor = client.events.latestCursor
        try await AppStateEngineTests.change(setup, ["action": "archive", "chat": "15550002222"])
        _ = try await AppStateEngineTests.updated(client, action: "archive", chat: bob, after: cursor)

        // The phone pins Carol as a blob patch (stored through the server's own path, the device
        // not told yet), and the blob's bytes on the media host are damaged before the device reads it.
        await Self.setThreshold(setup, 0)
        let server = setup.simulator.phones.appState
        let key = try #require(try server.phoneKey(account, create: false))
        let current = try server.collectionState(Self.phone, .regularLow)
        let built = try current.building(AppStateAction.pin(chat: carol, pinned: true).changes(timestamp: 1_800_000_000_000),
                                         collection: .regularLow, keyID: key.id, keys: key.keys, iv: { SystemRandom.bytes(16) })
        let answer = try server.submit([try built.patch.serializedBytes()], to: .regularLow, on: current.version,
                                       from: SimEndpoint(account: account, device: 0))
        #expect(answer.error == nil && answer.version == 2)
        let stored = try Self.storedPatch(setup, .regularLow, version: 2)
        #expect(stored.hasExternalMutations)
        guard case .found(let path, _) = setup.simulator.media.store.lookup(directPath: stored.externalMutations.directPath) else {
            Issue.record("the blob is not on the media host")
            return
        }
        let descriptor = open(path, O_RDWR)
        #expect(descriptor >= 0)
        var byte: UInt8 = 0
        #expect(pread(descriptor, &byte, 1, 0) == 1)
        byte ^= 0xFF
        #expect(pwrite(descriptor, &byte, 1, 0) == 1)
        close(descriptor)

        cursor = client.events.latestCursor
        try server.notify(account, except: 0, [(.regularLow, 2)])
        let error = try await MessagingTests.event(client, "appstate.error", after: cursor) { $0["collection"] == "regular_low" }
        #expect(error.data["reason"] == "blob_unusable" && error.data["action"] == "full_resync", "\(error.data)")
        // The full resync's snapshot (a fresh blob) holds the pin: the device gets it after all.
        _ = try await AppStateEngineTests.updated(client, action: "pin", chat: carol, after: cursor)
        #expect(try client.store.appStateCollection(.regularLow).version == 2)
        #expect(try client.store.appStateCollection(.regularLow).hash == server.collectionState(Self.phone, .regularLow).hash)
        #expect(try await AppStateEngineTests.chat(client, carol)["pinned"] == true)
        #expect(try await AppStateEngineTests.chat(client, bob)["archived"] == true)
        // Not wedged: the phone's next change (a blob too) arrives as usual, with no further error.
        cursor = client.events.latestCursor
        try await AppStateEngineTests.change(setup, ["action": "pin", "chat": "15550002222"])
        _ = try await AppStateEngineTests.updated(client, action: "pin", chat: bob, after: cursor)
        #expect(try client.store.appStateCollection(.regularLow).version == 3)
        #expect(try client.events.events(after: cursor, limit: 500).allSatisfy { $0.name != "appstate.error" })
    }
}
