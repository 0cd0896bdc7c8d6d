import FoundationEssentials
import SwiftProtobuf
import WauseBinary
import WauseCrypto
import WauseProto
import WauseSupport

/// App-state recovery, the step after a full resync that failed again (whatsmeow appstate.go
/// `BuildAppStateRecoveryRequest`, `handleAppStateRecovery`; appstate/recovery.go `ParseRecovery`,
/// `ProcessRecovery`): the companion asks its phone, in a peer message
/// `ProtocolMessage{PEER_DATA_OPERATION_REQUEST_MESSAGE, peerDataOperationRequestMessage{type:
/// COMPANION_SYNCD_SNAPSHOT_FATAL_RECOVERY, syncdCollectionFatalRecoveryRequest{collectionName,
/// timestamp}}}`, for the collection in plain text; the phone answers with
/// `PEER_DATA_OPERATION_REQUEST_RESPONSE_MESSAGE` whose first result carries a
/// `SyncdSnapshotRecovery` (gzip-compressed when `isCompressed`): each live record's
/// `SyncActionData` with its key ID and value MAC, the version and the collection's LTHash.
public enum AppStateRecovery {
    /// A recovery snapshot inflates to at most this much (a collection of a few hundred thousand records).
    public static let inflatedLimit = 64 << 20

    /// The companion's request for `collection` (timestamp in unix seconds, as whatsmeow sends it).
    public static func request(_ collection: AppStateCollection, timestamp: Int64) -> WAWebProtobufsE2E_Message {
        var message = WAWebProtobufsE2E_Message()
        message.protocolMessage.type = .peerDataOperationRequestMessage
        message.protocolMessage.peerDataOperationRequestMessage.peerDataOperationRequestType = .companionSyncdSnapshotFatalRecovery
        message.protocolMessage.peerDataOperationRequestMessage.syncdCollectionFatalRecoveryRequest.collectionName = collection.rawValue
        message.protocolMessage.peerDataOperationRequestMessage.syncdCollectionFatalRecoveryRequest.timestamp = timestamp
        return message
    }

    /// The collection a request names, when `message` is one (the phone's side).
    public static func requestedCollection(in message: WAWebProtobufsE2E_Message) -> AppStateCollection? {
        let request = message.protocolMessage.peerDataOperationRequestMessage
        guard message.protocolMessage.type == .peerDataOperationRequestMessage,
            request.peerDataOperationRequestType == .companionSyncdSnapshotFatalRecovery
        else { return nil }
        return AppStateCollection(rawValue: request.syncdCollectionFatalRecoveryRequest.collectionName)
    }

    /// The phone's answer to request `requestID`: the recovery, gzip-compressed.
    public static func response(to requestID: String, _ recovery: WAWebProtobufsSyncdSnapshotRecovery_SyncdSnapshotRecovery)
        throws(WauseError) -> WAWebProtobufsE2E_Message {
        var result = WAWebProtobufsE2E_PeerDataOperationRequestResponseMessage.PeerDataOperationResult()
        do {
            result.syncdSnapshotFatalRecoveryResponse.collectionSnapshot = Data(try Zlib.gzip(try recovery.serializedBytes()))
        } catch {
            throw WauseError(.internal, "cannot encode the recovery snapshot: \(error)")
        }
        result.syncdSnapshotFatalRecoveryResponse.isCompressed = true
        var message = WAWebProtobufsE2E_Message()
        message.protocolMessage.type = .peerDataOperationRequestResponseMessage
        message.protocolMessage.peerDataOperationRequestResponseMessage.peerDataOperationRequestType = .companionSyncdSnapshotFatalRecovery
        message.protocolMessage.peerDataOperationRequestResponseMessage.stanzaID = requestID
        message.protocolMessage.peerDataOperationRequestResponseMessage.peerDataOperationResult = [result]
        return message
    }

    /// The recovery an answer carries: nil when `message` is not a recovery answer; an error when
    /// it is one that cannot be read (no result, bad gzip, not a SyncdSnapshotRecovery).
    public static func recovery(in message: WAWebProtobufsE2E_Message) throws(AppStateError)
        -> (requestID: String, recovery: WAWebProtobufsSyncdSnapshotRecovery_SyncdSnapshotRecovery)? {
        let response = message.protocolMessage.peerDataOperationRequestResponseMessage
        guard message.protocolMessage.type == .peerDataOperationRequestResponseMessage,
            response.peerDataOperationRequestType == .companionSyncdSnapshotFatalRecovery
        else { return nil }
        // whatsmeow reads the first result only.
        guard let first = response.peerDataOperationResult.first, first.hasSyncdSnapshotFatalRecoveryResponse else {
            throw AppStateError(.malformed, "the recovery answer \(response.stanzaID) carries no snapshot")
        }
        var bytes = Array(first.syncdSnapshotFatalRecoveryResponse.collectionSnapshot)
        if first.syncdSnapshotFatalRecoveryResponse.isCompressed {
            do {
                bytes = try bytes.withUnsafeBufferPointer { buffer throws(NodeDecodingError) in
                    try Zlib.inflate(buffer, limit: inflatedLimit, gzip: true)
                }
            } catch {
                throw AppStateError(.malformed, "the recovery snapshot does not inflate: \(error)")
            }
        }
        do {
            return (response.stanzaID, try WAWebProtobufsSyncdSnapshotRecovery_SyncdSnapshotRecovery(serializedBytes: bytes))
        } catch {
            throw AppStateError(.malformed, "the recovery snapshot is not a SyncdSnapshotRecovery: \(error)")
        }
    }

    /// The phone's side: the recovery of a collection at `version` with its LTHash, from its live
    /// sealed records opened with the phone's keys (each value MAC checked and decrypted; the phone
    /// keeps its records in plain text, so a record's index blob is not needed). Records it cannot
    /// open are left out and counted.
    public static func make(_ collection: AppStateCollection, version: UInt64, hash: LTHash,
                            records: [WAWebProtobufsServerSync_SyncdRecord], keys lookup: AppStateCollectionState.KeyLookup)
        -> (recovery: WAWebProtobufsSyncdSnapshotRecovery_SyncdSnapshotRecovery, unreadable: Int) {
        var recovery = WAWebProtobufsSyncdSnapshotRecovery_SyncdSnapshotRecovery()
        recovery.version.version = version
        recovery.collectionName = collection.rawValue
        recovery.collectionLthash = Data(hash.bytes)
        var unreadable = 0
        for record in records {
            let keyID = Array(record.keyID.id)
            let blob = Array(record.value.blob)
            guard let keys = lookup(keyID), blob.count >= 16 + 16 + 32 else { unreadable += 1; continue }
            let encrypted = Array(blob[..<(blob.count - 32)])
            let valueMAC = Array(blob[(blob.count - 32)...])
            guard ConstantTime.equal(AppStateMAC.value(operation: .set, keyID: keyID, encrypted: encrypted, key: keys.valueMAC), valueMAC),
                let plaintext = try? AESCBC.decrypt(ciphertext: Array(encrypted[16...]), key: keys.valueEncryption, iv: Array(encrypted[..<16])),
                let data = try? WAWebProtobufSyncAction_SyncActionData(serializedBytes: plaintext)
            else { unreadable += 1; continue }
            var plain = WAWebProtobufsSyncdSnapshotRecovery_SyncdPlainTextRecord()
            plain.value = data
            plain.keyID = Data(keyID)
            plain.mac = Data(valueMAC)
            recovery.mutationRecords.append(plain)
        }
        return (recovery, unreadable)
    }
}

extension AppStateCollectionState {
    /// A recovery replaces the collection as a snapshot would (whatsmeow ProcessRecovery): every
    /// record a SET whose index MAC we compute with its key, its value MAC as the phone sends it,
    /// and the phone's LTHash at its version. There is no MAC over the whole to check (the phone
    /// sent it end-to-end encrypted); the hash must be an LTHash's size and each key held.
    public static func applying(recovery: WAWebProtobufsSyncdSnapshotRecovery_SyncdSnapshotRecovery, collection: AppStateCollection,
                                keys lookup: KeyLookup) throws(AppStateError) -> Applied {
        guard recovery.collectionName == collection.rawValue else {
            throw AppStateError(.malformed, "a recovery of \(recovery.collectionName) offered for \(collection.rawValue)")
        }
        guard let hash = LTHash(bytes: Array(recovery.collectionLthash)) else {
            throw AppStateError(.malformed, "the \(collection.rawValue) recovery's LTHash is \(recovery.collectionLthash.count) bytes, not \(LTHash.byteCount)")
        }
        var state = AppStateCollectionState(version: recovery.version.version, hash: hash)
        var mutations: [AppStateMutation] = []
        for (position, record) in recovery.mutationRecords.enumerated() {
            let keyID = Array(record.keyID)
            guard let keys = lookup(keyID) else { throw AppStateError.missing(keyID, "recovery record #\(position + 1)") }
            let indexBytes = Array(record.value.index)
            guard let index = AppStateIndex.decode(indexBytes) else {
                throw AppStateError(.malformed, "recovery record #\(position + 1): the index is not a JSON array of strings")
            }
            guard record.mac.count == 32 else { throw AppStateError(.malformed, "recovery record #\(position + 1): a value MAC of \(record.mac.count) bytes") }
            let mutation = AppStateMutation(operation: .set, index: index, indexBytes: indexBytes, value: record.value.value,
                                            version: record.value.version, keyID: keyID, indexMAC: AppStateMAC.index(indexBytes, key: keys.index),
                                            valueMAC: Array(record.mac))
            state.valueMACs[mutation.indexMAC] = mutation.valueMAC
            mutations.append(mutation)
        }
        return Applied(state: state, mutations: mutations)
    }
}
