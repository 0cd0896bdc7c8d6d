import FoundationEssentials
import Testing
import WauseBinary
import WauseCrypto
import WauseProto
import WauseSupport
@testable import WauseProtocol

/// App-state keys, LTHash, the four MACs, sealing and opening mutations, patches and snapshots.
/// The known answers are tests/interop/fixtures/app_state_vector.json, which
/// tests/interop/test_app_state_crypto.py recomputes with Python `cryptography` following
/// whatsmeow appstate/keys.go, hash.go and lthash/lthash.go: key data 00…1f, key ID 000000010000,
/// the index ["mute","123@s.whatsapp.net"] muted forever at 1700000000000 ms, IV 03×16.
@Suite struct AppStateTests {
    static let keyData = Array(UInt8(0)...UInt8(31))
    static let keyID: [UInt8] = [0, 0, 0, 1, 0, 0]
    static let iv = [UInt8](repeating: 3, count: 16)
    static let index = ["mute", "123@s.whatsapp.net"]
    static let syncActionData = "0a1d5b226d757465222c2231323340732e77686174736170702e6e6574225d12160880d095ffbc31220d080110ffffffffffffffffff011a002002"
    static let encrypted = "03030303030303030303030303030303d776dd90682977d7bd5e0cff2ead6b6cbe6dd1298db44e3bb94d57fc4071e7afbb8e540be721c35191d1f129d76a83bfce1ba6b25d759fc6b3042315c379fc34"
    static let valueMAC = "85875ea75790a4d55124e0f26c46e09978f690e61f6cf1e5269da6996e17a9e7"
    static let indexMAC = "995a77c7387bc9166a176e840f16a184597c12a490ac0d2a1eec26aef05d5a93"
    static let ltHash = "1f2b159afd6fae40018f429ae6f9de16c9c23e510ba46eca83917a330123db1c0c954a533e9efb04f843173e15c3a5d1b657f319af135cf61df3f58a7ba3ea90af0b772b6515d751515c4b94acafa847417b97be21b4c9f2a564b2185d2a816f611301dff83e01f9601da07a016306755538a04ea2f389e6c76a5101b50c090c"
    static let snapshotMAC = "7b6857868627b0873bc103b078467097d481ad62a9aff121f326adbf88af4ffa"
    static let patchMAC = "5ebac2ad92b9655adf2660bebd8c446f8ad32d2e041ff414c800d4e92e832ac8"

    static func muteValue(_ muted: Bool = true, until end: Int64 = -1, at timestamp: Int64 = 1_700_000_000_000) -> WAWebProtobufSyncAction_SyncActionValue {
        var value = WAWebProtobufSyncAction_SyncActionValue()
        value.timestamp = timestamp
        value.muteAction.muted = muted
        value.muteAction.muteEndTimestamp = end
        return value
    }

    static func keys() throws -> AppStateKeys { try AppStateKeys(keyData: keyData) }
    static func lookup(_ keys: AppStateKeys) -> AppStateCollectionState.KeyLookup { { $0 == Self.keyID ? keys : nil } }

    @Test func expandsTheKeyData() throws {
        let keys = try Self.keys()
        #expect(Hex.encode(keys.index) == "61387bcf643616a68bd611a45516b3980418323087d78bf08c615645549434b4")
        #expect(Hex.encode(keys.valueEncryption) == "900ba2843ba5fb0cee55cf2a4de9503dce68187d3f6b95b420b008bde66f5a20")
        #expect(Hex.encode(keys.valueMAC) == "d0879f6b61f0bcba79faad3f47a8a768fd7fc04a6cc8b3ecefedfa087413226f")
        #expect(Hex.encode(keys.snapshotMAC) == "69b2e91be6587307c43c29b027a71fdd55be25f07ca726714115430d23093071")
        #expect(Hex.encode(keys.patchMAC) == "693845bdd996652aca9ca0b96d0f081abf29943303c5eb19bdb84f38b24c32ab")
        #expect(throws: WauseError.self) { try AppStateKeys(keyData: []) }
    }

    @Test func sealsTheKnownMutation() throws {
        let keys = try Self.keys()
        let (mutation, record) = try AppStateMutation.seal(operation: .set, index: Self.index, value: Self.muteValue(), version: 2,
                                                           keyID: Self.keyID, keys: keys, iv: Self.iv)
        #expect(String(decoding: mutation.indexBytes, as: UTF8.self) == #"["mute","123@s.whatsapp.net"]"#)
        #expect(Hex.encode(mutation.indexMAC) == Self.indexMAC)
        #expect(Hex.encode(mutation.valueMAC) == Self.valueMAC)
        #expect(Hex.encode(record.record.value.blob) == Self.encrypted + Self.valueMAC)
        #expect(Hex.encode(record.record.index.blob) == Self.indexMAC)
        #expect(Array(record.record.keyID.id) == Self.keyID)
        // The plaintext is the vector's SyncActionData, byte for byte.
        let plaintext = try AESCBC.decrypt(ciphertext: Array(try #require(Hex.decode(Self.encrypted)).dropFirst(16)),
                                           key: keys.valueEncryption, iv: Self.iv)
        #expect(Hex.encode(plaintext) == Self.syncActionData)
        // A REMOVE of the same bytes has another value MAC (its operation byte is 0x02).
        let remove = AppStateMAC.value(operation: .remove, keyID: Self.keyID, encrypted: try #require(Hex.decode(Self.encrypted)), key: keys.valueMAC)
        #expect(Hex.encode(remove) != Self.valueMAC)
    }

    @Test func ltHashAddsAndSubtracts() throws {
        let valueMAC = try #require(Hex.decode(Self.valueMAC))
        var hash = LTHash()
        hash.add(valueMAC)
        #expect(Hex.encode(hash.bytes) == Self.ltHash)
        hash.subtract(valueMAC)
        #expect(hash == LTHash())
        // Order does not matter: a + b − a = b.
        let other = [UInt8](repeating: 7, count: 32)
        var ab = LTHash()
        ab.subtractThenAdd(removing: [], adding: [valueMAC, other])
        ab.subtract(valueMAC)
        var b = LTHash()
        b.add(other)
        #expect(ab == b)
        #expect(LTHash(bytes: [1, 2, 3]) == nil)
        let vectorBytes = try #require(Hex.decode(Self.ltHash))
        let vectorHash = try #require(LTHash(bytes: vectorBytes))
        let snapshotMAC = AppStateMAC.snapshot(hash: vectorHash, version: 1,
                                               collection: .regularHigh, key: try Self.keys().snapshotMAC)
        #expect(Hex.encode(snapshotMAC) == Self.snapshotMAC)
    }

    @Test func buildsThePatchOfTheVectorAndAnotherDeviceAppliesIt() throws {
        let keys = try Self.keys()
        let built = try AppStateCollectionState().building([.init(index: Self.index, value: Self.muteValue(), version: 2)],
                                                          collection: .regularHigh, keyID: Self.keyID, keys: keys, iv: { Self.iv })
        #expect(Hex.encode(built.patch.snapshotMac) == Self.snapshotMAC)
        #expect(Hex.encode(built.patch.patchMac) == Self.patchMAC)
        #expect(!built.patch.hasVersion)
        #expect(built.applied.state.version == 1)
        #expect(Hex.encode(built.applied.state.hash.bytes) == Self.ltHash)

        // The server numbers it; another device applies it from the wire form.
        var served = built.patch
        served.version.version = 1
        let wire = try WAWebProtobufsServerSync_SyncdPatch(serializedBytes: try served.serializedBytes() as [UInt8])
        let applied = try AppStateCollectionState().applying(patch: wire, collection: .regularHigh, keys: Self.lookup(keys))
        #expect(applied.state == built.applied.state)
        let mutation = try #require(applied.mutations.first)
        #expect(mutation.index == Self.index && mutation.action == "mute" && mutation.version == 2 && mutation.operation == .set)
        #expect(mutation.value.muteAction.muted && mutation.value.muteAction.muteEndTimestamp == -1)
        // Applying it again changes nothing: that version is behind us.
        let again = try applied.state.applying(patch: wire, collection: .regularHigh, keys: Self.lookup(keys))
        #expect(again.state == applied.state && again.mutations.isEmpty)
    }

    @Test func overwritesAndRemovesKeepTheHashOfTheLiveValues() throws {
        let keys = try Self.keys()
        var ivByte: UInt8 = 0
        let iv: () -> [UInt8] = { ivByte &+= 1; return [UInt8](repeating: ivByte, count: 16) }
        var sender = AppStateCollectionState()
        var receiver = AppStateCollectionState()
        let pinA = ["pin_v1", "1@s.whatsapp.net"], pinB = ["pin_v1", "2@s.whatsapp.net"]
        var pinned = WAWebProtobufSyncAction_SyncActionValue()
        pinned.pinAction.pinned = true
        var unpinned = pinned
        unpinned.pinAction.pinned = false
        let rounds: [[AppStateCollectionState.Change]] = [
            [.init(index: pinA, value: pinned, version: 5), .init(index: pinB, value: pinned, version: 5)],
            // The same index twice in one patch: the second subtracts the first.
            [.init(index: pinA, value: unpinned, version: 5), .init(index: pinA, value: pinned, version: 5)],
            [.init(operation: .remove, index: pinB, value: unpinned, version: 5)],
        ]
        for (round, changes) in rounds.enumerated() {
            var built = try sender.building(changes, collection: .regularLow, keyID: Self.keyID, keys: keys, iv: iv)
            built.patch.version.version = UInt64(round + 1)
            receiver = try receiver.applying(patch: built.patch, collection: .regularLow, keys: Self.lookup(keys)).state
            sender = built.applied.state
            #expect(receiver == sender)
        }
        // One live record is left (pinA, pinned); its value MAC alone makes the hash.
        #expect(receiver.valueMACs.count == 1)
        var expected = LTHash()
        expected.add(try #require(receiver.valueMACs.values.first))
        #expect(receiver.hash == expected)
        #expect(receiver.version == 3)
    }

    @Test func aSnapshotOfTheLiveRecordsVerifies() throws {
        let keys = try Self.keys()
        let built = try AppStateCollectionState().building(
            [.init(index: Self.index, value: Self.muteValue(), version: 2), .init(index: ["mute", "456@s.whatsapp.net"], value: Self.muteValue(), version: 2)],
            collection: .regularHigh, keyID: Self.keyID, keys: keys, iv: { Self.iv })
        let snapshot = AppStateCollectionState.snapshot(of: built.patch.mutations.map(\.record), version: 9, collection: .regularHigh,
                                                        keyID: Self.keyID, keys: keys)
        let applied = try AppStateCollectionState.applying(snapshot: snapshot, collection: .regularHigh, keys: Self.lookup(keys))
        #expect(applied.state.version == 9)
        #expect(applied.state.hash == built.applied.state.hash)
        #expect(applied.state.valueMACs == built.applied.state.valueMACs)
        #expect(applied.mutations.map(\.index[1]) == ["123@s.whatsapp.net", "456@s.whatsapp.net"])
        // Claimed for another collection or version, its MAC fails.
        #expect(throws: AppStateError.self) { try AppStateCollectionState.applying(snapshot: snapshot, collection: .regularLow, keys: Self.lookup(keys)) }
        var wrongVersion = snapshot
        wrongVersion.version.version = 10
        let error = #expect(throws: AppStateError.self) { try AppStateCollectionState.applying(snapshot: wrongVersion, collection: .regularHigh, keys: Self.lookup(keys)) }
        #expect(error?.reason == .snapshotMACMismatch)
    }

    /// AppStateRecovery: the phone's plain-text copy travels gzip-compressed in a peer data
    /// operation answer and gives the device the same state a patch did; bad answers are named errors.
    @Test func aRecoveryRoundTripsAndGivesTheSameState() throws {
        let keys = try Self.keys()
        let built = try AppStateCollectionState().building(
            [.init(index: Self.index, value: Self.muteValue(), version: 2), .init(index: ["mute", "456@s.whatsapp.net"], value: Self.muteValue(), version: 2)],
            collection: .regularHigh, keyID: Self.keyID, keys: keys, iv: { Self.iv })
        let request = AppStateRecovery.request(.regularHigh, timestamp: 1_700_000_000)
        #expect(AppStateRecovery.requestedCollection(in: request) == .regularHigh)
        #expect(request.protocolMessage.peerDataOperationRequestMessage.peerDataOperationRequestType.rawValue == 8)
        var records = built.patch.mutations.map(\.record)
        records.append(records[0])
        records[2].keyID.id = Data([9, 9])  // a record under a key the phone lacks is left out
        let made = AppStateRecovery.make(.regularHigh, version: 7, hash: built.applied.state.hash, records: records, keys: Self.lookup(keys))
        #expect(made.unreadable == 1 && made.recovery.mutationRecords.count == 2)
        let answer = try AppStateRecovery.response(to: "REQ1", made.recovery)
        let compressed = Array(answer.protocolMessage.peerDataOperationRequestResponseMessage.peerDataOperationResult[0]
            .syncdSnapshotFatalRecoveryResponse.collectionSnapshot)
        #expect(compressed.starts(with: [0x1f, 0x8b]))  // gzip (RFC 1952), as whatsmeow reads it
        let read = try #require(try AppStateRecovery.recovery(in: answer))
        #expect(read.requestID == "REQ1" && read.recovery == made.recovery)
        let applied = try AppStateCollectionState.applying(recovery: read.recovery, collection: .regularHigh, keys: Self.lookup(keys))
        #expect(applied.state == AppStateCollectionState(version: 7, hash: built.applied.state.hash, valueMACs: built.applied.state.valueMACs))
        #expect(applied.mutations.map(\.index) == [Self.index, ["mute", "456@s.whatsapp.net"]])
        // Not an answer at all; an answer without a snapshot; a snapshot that is not gzip; the wrong collection; a short hash.
        #expect(try AppStateRecovery.recovery(in: request) == nil)
        var empty = answer
        empty.protocolMessage.peerDataOperationRequestResponseMessage.peerDataOperationResult = []
        #expect(throws: AppStateError.self) { try AppStateRecovery.recovery(in: empty) }
        var garbled = answer
        garbled.protocolMessage.peerDataOperationRequestResponseMessage.peerDataOperationResult[0].syncdSnapshotFatalRecoveryResponse.collectionSnapshot = Data([1, 2, 3])
        #expect { try AppStateRecovery.recovery(in: garbled) } throws: { ($0 as? AppStateError)?.reason == .malformed }
        #expect(throws: AppStateError.self) { try AppStateCollectionState.applying(recovery: read.recovery, collection: .regular, keys: Self.lookup(keys)) }
        var short = read.recovery
        short.collectionLthash = Data([1])
        #expect(throws: AppStateError.self) { try AppStateCollectionState.applying(recovery: short, collection: .regularHigh, keys: Self.lookup(keys)) }
        let missing = #expect(throws: AppStateError.self) { try AppStateCollectionState.applying(recovery: read.recovery, collection: .regularHigh, keys: { _ in nil }) }
        #expect(missing?.reason == .missingKey)
    }

    @Test func everyTamperingIsCaughtAndNamed() throws {
        let keys = try Self.keys()
        var patch = try AppStateCollectionState().building([.init(index: Self.index, value: Self.muteValue(), version: 2)],
                                                          collection: .regularHigh, keyID: Self.keyID, keys: keys, iv: { Self.iv }).patch
        patch.version.version = 1
        func reason(_ tamper: (inout WAWebProtobufsServerSync_SyncdPatch) -> Void) -> AppStateError.Reason? {
            var copy = patch
            tamper(&copy)
            do {
                _ = try AppStateCollectionState().applying(patch: copy, collection: .regularHigh, keys: Self.lookup(keys))
                return nil
            } catch { return error.reason }
        }
        #expect(reason { _ in } == nil)
        #expect(reason { $0.patchMac[0] ^= 1 } == .patchMACMismatch)
        #expect(reason { $0.snapshotMac[0] ^= 1 } == .snapshotMACMismatch)
        // The ciphertext changed under a valid-looking hash: the LTHash still covers the value MAC
        // only, so the value MAC check catches it.
        #expect(reason { $0.mutations[0].record.value.blob[20] ^= 1 } == .valueMACMismatch)
        #expect(reason { $0.mutations[0].record.index.blob[0] ^= 1 } == .indexMACMismatch)
        #expect(reason { $0.version.version = 2 } == .snapshotMACMismatch)
        // A key we do not hold: named, so it can be requested.
        var unknown = patch
        unknown.keyID.id = Data([9, 9])
        do {
            _ = try AppStateCollectionState().applying(patch: unknown, collection: .regularHigh, keys: Self.lookup(keys))
            Issue.record("a patch under an unknown key applied")
        } catch {
            #expect(error.reason == .missingKey && error.missingKeyIDs == [[9, 9]])
        }
        #expect(AppStateCollectionState.missingKeyIDs(snapshot: nil, patches: [unknown, patch], have: { $0 == Self.keyID }) == [[9, 9]])
    }

    @Test func indexJSONIsCompactLikeJSONStringify() {
        #expect(String(decoding: AppStateIndex.encode(["star", "1@s.whatsapp.net", "3EB0", "1", "0"]), as: UTF8.self)
                == #"["star","1@s.whatsapp.net","3EB0","1","0"]"#)
        #expect(String(decoding: AppStateIndex.encode(["a\"b\\c/d\né"]), as: UTF8.self) == #"["a\"b\\c/d\né"]"#)
        #expect(String(decoding: AppStateIndex.encode(["\u{1}"]), as: UTF8.self) == #"["\u0001"]"#)
        #expect(AppStateIndex.decode(Array(#"["a\"b","c"]"#.utf8)) == ["a\"b", "c"])
        #expect(AppStateIndex.decode(Array(#"["a",1]"#.utf8)) == nil)
        #expect(AppStateIndex.decode(Array(#"{"a":"b"}"#.utf8)) == nil)
    }

    @Test func stanzasRoundTrip() throws {
        let request = AppStateStanzas.Request(collections: [
            .init(collection: .regularHigh, version: 7, returnSnapshot: false),
            .init(collection: .criticalBlock, version: nil, returnSnapshot: true),
            .init(collection: .regularLow, version: 3, returnSnapshot: false, patches: [[1, 2, 3]]),
        ])
        let node = request.node(id: "q1")
        #expect(node[attribute: "xmlns"] == "w:sync:app:state" && node.jid("to") == .whatsAppServer)
        #expect(try AppStateStanzas.Request(parsing: node) == request)
        #expect(throws: MalformedStanza.self) {
            try AppStateStanzas.Request(parsing: Node(tag: "iq", attributes: ["xmlns": "w:sync:app:state", "type": "set"], children: [
                Node(tag: "sync", children: [Node(tag: "collection", attributes: ["name": "nope"])]),
            ]))
        }
        let response = AppStateStanzas.Response(collections: [
            .init(collection: .regularHigh, version: 9, hasMorePatches: true, snapshot: [4, 5], patches: [[6], [7]]),
            .init(collection: .regularLow, version: 4, patches: [[8]], error: .conflict),
        ])
        #expect(try AppStateStanzas.Response(parsing: response.result(id: "q1")) == response)
        let sync = AppStateStanzas.ServerSync([(.regularLow, 5), (.criticalBlock, 2)])
        let parsed = try AppStateStanzas.ServerSync(parsing: sync.node(id: "n1", t: 1))
        #expect(parsed == sync && parsed.collections.map(\.1) == [5, 2])
    }

    @Test func everyActionReadsBackAsItself() throws {
        let keys = try Self.keys()
        let message = AppStateAction.MessageRef(chat: "120363000000000001@g.us", id: "3EB0AB", fromMe: false, participant: "15550002222@s.whatsapp.net")
        let actions: [AppStateAction] = [
            .archive(chat: "1@s.whatsapp.net", archived: false), .pin(chat: "1@s.whatsapp.net", pinned: true),
            .mute(chat: "1@s.whatsapp.net", until: -1), .mute(chat: "1@s.whatsapp.net", until: 1_900_000_000_000),
            .mute(chat: "1@s.whatsapp.net", until: nil), .star(message, starred: true),
            .markRead(chat: "1@s.whatsapp.net", read: false), .deleteMessageForMe(message, deleteMedia: false),
            .clearChat(chat: "1@s.whatsapp.net"), .deleteChat(chat: "1@s.whatsapp.net", deleteMedia: true),
            .contact(jid: "2@s.whatsapp.net", fullName: "Bob Smith", firstName: "Bob"), .pushName("Ada"),
            .labelEdit(.init(id: "5", name: "Pending payment", color: 3, predefinedID: 3)), .labelEdit(.init(id: "7", name: "Old", deleted: true)),
            .labelChat(labelID: "5", chat: "1@s.whatsapp.net", labeled: true), .labelChat(labelID: "5", chat: "1@s.whatsapp.net", labeled: false),
            .labelMessage(labelID: "5", message, labeled: true),
        ]
        for action in actions {
            let change = try #require(action.changes(timestamp: 1_700_000_000_000, lastMessageTimestamp: 1_699_999_999).first)
            let sealed = try AppStateMutation.seal(operation: .set, index: change.index, value: change.value, version: change.version,
                                                   keyID: Self.keyID, keys: keys, iv: Self.iv)
            let opened = try AppStateMutation.open(sealed.record, position: 0, keys: Self.lookup(keys))
            #expect(AppStateAction(opened) == action, "\(action)")
            #expect(opened.value.timestamp == 1_700_000_000_000)
        }
        // Archiving unpins in the same patch (whatsmeow BuildArchive); a REMOVE is not acted on.
        #expect(AppStateAction.archive(chat: "1@s.whatsapp.net", archived: true).changes(timestamp: 0).map(\.index[0]) == ["archive", "pin_v1"])
        #expect(AppStateAction.star(message, starred: true).changes(timestamp: 0).first?.index
                == ["star", "120363000000000001@g.us", "3EB0AB", "0", "15550002222@s.whatsapp.net"])
        #expect(AppStateAction.star(message, starred: true).collection == .regularHigh)
        // Labels live in `regular`, at action version 3, with whatsmeow's index layouts.
        let mine = AppStateAction.MessageRef(chat: "1@s.whatsapp.net", id: "3EB0CD", fromMe: false)
        #expect(AppStateAction.labelMessage(labelID: "5", mine, labeled: true).changes(timestamp: 0).first?.index
                == ["label_message", "5", "1@s.whatsapp.net", "3EB0CD", "0", "0"])
        #expect(AppStateAction.labelChat(labelID: "5", chat: "1@s.whatsapp.net", labeled: true).changes(timestamp: 0).first?.index
                == ["label_jid", "5", "1@s.whatsapp.net"])
        #expect(AppStateAction.labelEdit(.init(id: "5", name: "x")).changes(timestamp: 0).first.map { ($0.index, $0.version) }.map { $0 == ["label_edit", "5"] && $1 == 3 } == true)
        #expect(AppStateAction.labelEdit(.init(id: "5", name: "x")).collection == .regular)
        let removed = try AppStateMutation.seal(operation: .remove, index: ["pin_v1", "1@s.whatsapp.net"],
                                                value: WAWebProtobufSyncAction_SyncActionValue(), version: 5, keyID: Self.keyID, keys: keys, iv: Self.iv)
        #expect(AppStateAction(removed.mutation) == nil)
    }
}
