import FoundationEssentials
import Testing
import WauseBinary
import WauseCrypto
import WauseProto
import WauseProtocol
@testable import WauseSim
import WauseSupport
import WauseTestSupport

/// The simulator's app-state server and its phones (AppStateServer.swift, PhoneAppState.swift),
/// played by a test companion that holds the account's key as a real one would after the phone's
/// key share (that share travels over Signal and is covered with the engine).
@Suite struct AppStateServerTests {
    static let phone = "15550001111"

    struct Fixture {
        let setup: SimSetup
        let account: SimAccount
        let companion: TestCompanion

        var server: AppStateServer { setup.simulator.phones.appState }
        func key() throws -> AppStateServer.PhoneKey { try #require(try server.phoneKey(account, create: false)) }
        func lookup() throws -> AppStateCollectionState.KeyLookup {
            let key = try key()
            return { $0 == key.id ? key.keys : nil }
        }

        func fetch(_ collection: AppStateCollection, version: UInt64?, snapshot: Bool = false) async throws -> AppStateStanzas.Answer {
            let request = AppStateStanzas.Request(collections: [.init(collection: collection, version: version, returnSnapshot: snapshot)])
            let id = companion.nextID()
            try companion.send(request.node(id: id))
            let reply = try await companion.expectNode()
            #expect(reply[attribute: "id"] == id)
            return try #require(try AppStateStanzas.Response(parsing: reply).collections.first)
        }

        func send(_ patch: WAWebProtobufsServerSync_SyncdPatch, to collection: AppStateCollection, on version: UInt64) async throws -> AppStateStanzas.Answer {
            let request = AppStateStanzas.Request(collections: [
                .init(collection: collection, version: version, returnSnapshot: false, patches: [try patch.serializedBytes()]),
            ])
            let id = companion.nextID()
            try companion.send(request.node(id: id))
            let reply = try await companion.expectNode()
            #expect(reply[attribute: "id"] == id)
            return try #require(try AppStateStanzas.Response(parsing: reply).collections.first)
        }

        /// The phone's key share: a peer message from the account's own phone (its content is
        /// Signal-encrypted; the engine's tests read it).
        func expectKeyShare() async throws {
            let node = try await companion.expectNode()
            #expect(node.tag == "message" && node[attribute: "category"] == "peer")
            #expect(node.jid("from")?.user == AppStateServerTests.phone && node.jid("from")?.device == 0)
        }

        /// The next stanza is a server_sync naming `collection` at `version`; acked.
        func expectServerSync(_ collection: AppStateCollection, _ version: UInt64, on device: TestCompanion? = nil) async throws {
            let node = try await (device ?? companion).expectNode()
            let sync = try AppStateStanzas.ServerSync(parsing: node)
            #expect(sync.collections.map(\.0) == [collection] && sync.collections.map(\.1) == [version])
            try (device ?? companion).send(Node(tag: "ack", attributes: ["id": .text(node[attribute: "id"] ?? ""), "class": "notification",
                                                                        "type": "server_sync", "to": .jid(.whatsAppServer)]))
        }
    }

    static func fixture() async throws -> Fixture {
        let setup = try await SimSetup()
        let companion = try await setup.loggedInCompanion(phone: phone)
        return Fixture(setup: setup, account: try #require(try setup.simulator.state.account(phone: phone)), companion: companion)
    }

    @Test func thePhonesChangesReachACompanionAsVerifiedPatches() async throws {
        let f = try await Self.fixture()
        defer { Task { await f.setup.close() } }
        let chat = "15550002222@s.whatsapp.net"
        let archived = await admin(f.setup.simulator, "POST", "/accounts/\(Self.phone)/app-state", ["action": "archive", "chat": "15550002222"])
        #expect(archived.status == 200 && archived.json["collection"] == "regular_low" && archived.json["version"] == 1)
        try await f.expectKeyShare()
        try await f.expectServerSync(.regularLow, 1)
        let pinned = await admin(f.setup.simulator, "POST", "/accounts/\(Self.phone)/app-state", ["action": "pin", "chat": .string(chat)])
        #expect(pinned.json["version"] == 2)
        try await f.expectServerSync(.regularLow, 2)

        // From scratch: both patches, every MAC checked with the phone's key.
        let answer = try await f.fetch(.regularLow, version: 0)
        #expect(answer.version == 2 && answer.patches.count == 2 && answer.snapshot == nil && !answer.hasMorePatches)
        var state = AppStateCollectionState()
        var actions: [AppStateAction] = []
        for bytes in answer.patches {
            let applied = try state.applying(patch: try WAWebProtobufsServerSync_SyncdPatch(serializedBytes: bytes), collection: .regularLow,
                                             keys: try f.lookup())
            state = applied.state
            actions += applied.mutations.compactMap(AppStateAction.init)
        }
        // Archiving also unpins (whatsmeow BuildArchive), then the pin.
        #expect(actions == [.archive(chat: chat, archived: true), .pin(chat: chat, pinned: false), .pin(chat: chat, pinned: true)])
        #expect(state.version == 2 && state.valueMACs.count == 2)

        // A snapshot instead: an external blob on the media host, verified the same way.
        let snapshotAnswer = try await f.fetch(.regularLow, version: nil, snapshot: true)
        let reference = try WAWebProtobufsServerSync_ExternalBlobReference(serializedBytes: try #require(snapshotAnswer.snapshot))
        guard case .found(let path, _) = f.setup.simulator.media.store.lookup(directPath: reference.directPath) else {
            Issue.record("the snapshot blob is not on the media host")
            return
        }
        let file = try #require(MediaFile(path: path))
        let body = try #require(file.read(1 << 20))
        file.close()
        let plaintext = try MediaCrypto.decrypt(body, mediaKey: Array(reference.mediaKey), type: .appState,
                                                fileEncSha256: Array(reference.fileEncSha256), fileSha256: Array(reference.fileSha256))
        let snapshot = try WAWebProtobufsServerSync_SyncdSnapshot(serializedBytes: plaintext)
        let fromSnapshot = try AppStateCollectionState.applying(snapshot: snapshot, collection: .regularLow, keys: try f.lookup())
        #expect(fromSnapshot.state == state)

        // Nothing newer: an empty page at the same version.
        let upToDate = try await f.fetch(.regularLow, version: 2)
        #expect(upToDate.patches.isEmpty && upToDate.version == 2)
    }

    @Test func aCompanionsPatchIsStoredCheckedAndSeenByThePhoneAndOtherDevices() async throws {
        let f = try await Self.fixture()
        defer { Task { await f.setup.close() } }
        // The phone's first change makes its key.
        _ = await admin(f.setup.simulator, "POST", "/accounts/\(Self.phone)/app-state", ["action": "star", "chat": "15550002222",
                                                                                           "message_id": "3EB0AA", "from_me": true])
        try await f.expectKeyShare()
        try await f.expectServerSync(.regularHigh, 1)
        let key = try f.key()
        var state = AppStateCollectionState()
        for bytes in try await f.fetch(.regularHigh, version: 0).patches {
            state = try state.applying(patch: try WAWebProtobufsServerSync_SyncdPatch(serializedBytes: bytes), collection: .regularHigh,
                                       keys: try f.lookup()).state
        }
        let mute = AppStateAction.mute(chat: "15550003333@s.whatsapp.net", until: 1_900_000_000_000)
        let built = try state.building(mute.changes(timestamp: 1_800_000_000_000), collection: .regularHigh, keyID: key.id, keys: key.keys,
                                       iv: { SystemRandom.bytes(16) })

        // Built on a stale version: 409 with what the companion lacks.
        let stale = try await f.send(built.patch, to: .regularHigh, on: 0)
        #expect(stale.error?.code == 409 && stale.patches.count == 1 && stale.version == 1)
        // A bit flipped in the patch MAC: refused, nothing stored.
        var tampered = built.patch
        tampered.patchMac[3] ^= 0x10
        #expect(try await f.send(tampered, to: .regularHigh, on: 1).error?.code == 400)
        #expect(try f.server.version(Self.phone, .regularHigh) == 1)
        // The real one lands as version 2; the phone's view shows the mute.
        let stored = try await f.send(built.patch, to: .regularHigh, on: 1)
        #expect(stored.error == nil && stored.version == 2)
        let view = await admin(f.setup.simulator, "GET", "/accounts/\(Self.phone)/app-state")
        #expect(view.json["collections"]?["regular_high"]?["version"] == 2)
        let muted = view.json["chats"]?.arrayValue?.first { $0["chat"] == "15550003333@s.whatsapp.net" }
        #expect(muted?["muted"] == true && muted?["muted_until"] == 1_900_000_000_000)
        #expect(view.json["starred"]?.arrayValue?.first?["message_id"] == "3EB0AA")
        #expect(view.json["unreadable_records"] == 0)
        // The sender gets no server_sync for its own patch.
        try await f.companion.expectNothingPending()
        // A refused action: a clear error, nothing changed.
        let refused = await admin(f.setup.simulator, "POST", "/accounts/\(Self.phone)/app-state", ["action": "fly", "chat": "1555"])
        #expect(refused.status == 400 && refused.json["code"] == "invalid_request")
    }

    @Test func longHistoriesComeInPagesThatApplyInOrder() async throws {
        let f = try await Self.fixture()
        defer { Task { await f.setup.close() } }
        let count = AppStateServer.pageSize + 5
        for n in 0..<count {
            let changed = await admin(f.setup.simulator, "POST", "/accounts/\(Self.phone)/app-state",
                                      ["action": "pin", "chat": .string("\(15_550_100_000 + n)"), "value": .bool(n % 2 == 0)])
            #expect(changed.status == 200)
        }
        // Asked from 0 without a snapshot (the server's own view; the companion's stream is busy with server_syncs).
        let first = try f.server.fetch(.init(collection: .regularLow, version: 0, returnSnapshot: false), account: f.account)
        #expect(first.patches.count == AppStateServer.pageSize && first.hasMorePatches && first.version == UInt64(AppStateServer.pageSize))
        let rest = try f.server.fetch(.init(collection: .regularLow, version: first.version, returnSnapshot: false), account: f.account)
        #expect(rest.patches.count == 5 && !rest.hasMorePatches && rest.version == UInt64(count))
        var state = AppStateCollectionState()
        for bytes in first.patches + rest.patches {
            state = try state.applying(patch: try WAWebProtobufsServerSync_SyncdPatch(serializedBytes: bytes), collection: .regularLow,
                                       keys: try f.lookup()).state
        }
        #expect(state.version == UInt64(count) && state.valueMACs.count == count)
        #expect(state == (try f.server.collectionState(Self.phone, .regularLow)))
    }
}
