#if canImport(FoundationEssentials)
import FoundationEssentials  // Data, for the generated protobuf types
#else
import Foundation
#endif
import SwiftProtobuf
import WauseCrypto
import WauseProto

// Session records serialise as libsignal's `RecordStructure` (proto/LocalStorageProtocol.proto,
// the format libsignal-protocol-c 2.3.3 writes and signalapp/libsignal still reads): the engine
// stores the bytes as a BLOB. Public keys are written 0x05-prefixed (33 bytes) as libsignal
// writes them, skipped message keys newest first, receiver chains oldest first, archived states
// newest first. The format carries its own version per state (`sessionVersion` = 3); decoding
// validates every key length so a corrupt BLOB is an error, never a crash.

extension SessionRecord {
    public func serialized() -> [UInt8] {
        var record = Textsecure_RecordStructure()
        if let currentState { record.currentSession = currentState.structure() }
        record.previousSessions = previousStates.map { $0.structure() }
        return try! record.serializedBytes()  // encoding a populated message cannot fail
    }

    public init(serialized bytes: [UInt8]) throws(SignalError) {
        let record: Textsecure_RecordStructure
        do { record = try Textsecure_RecordStructure(serializedBytes: bytes) } catch {
            throw .invalidRecord("session record: \(error)")
        }
        self.init(
            currentState: record.hasCurrentSession ? try SessionState(structure: record.currentSession) : nil,
            previousStates: try record.previousSessions.map { (state) throws(SignalError) in try SessionState(structure: state) })
    }
}

extension SessionState {
    func structure() -> Textsecure_SessionStructure {
        var structure = Textsecure_SessionStructure()
        structure.sessionVersion = version
        structure.localIdentityPublic = Data(localIdentity.serialized)
        structure.remoteIdentityPublic = Data(remoteIdentity.serialized)
        structure.rootKey = Data(rootKey)
        structure.previousCounter = previousCounter
        var sender = Textsecure_SessionStructure.Chain()
        sender.senderRatchetKey = Data(DjbPublicKey.serialize(senderChain.ratchetKeyPair.publicKey))
        sender.senderRatchetKeyPrivate = Data(senderChain.ratchetKeyPair.privateKey)
        sender.chainKey = senderChain.chainKey.structure()
        structure.senderChain = sender
        structure.receiverChains = receiverChains.map { chain in
            var structure = Textsecure_SessionStructure.Chain()
            structure.senderRatchetKey = Data(DjbPublicKey.serialize(chain.ratchetKey))
            structure.chainKey = chain.chainKey.structure()
            structure.messageKeys = chain.skippedKeys.reversed().map { keys in
                var structure = Textsecure_SessionStructure.Chain.MessageKey()
                structure.index = keys.index
                structure.cipherKey = Data(keys.cipherKey)
                structure.macKey = Data(keys.macKey)
                structure.iv = Data(keys.iv)
                return structure
            }
            return structure
        }
        if let pendingPreKey {
            var pending = Textsecure_SessionStructure.PendingPreKey()
            if let id = pendingPreKey.preKeyId { pending.preKeyID = id }
            pending.signedPreKeyID = Int32(bitPattern: pendingPreKey.signedPreKeyId)
            pending.baseKey = Data(DjbPublicKey.serialize(pendingPreKey.baseKey))
            structure.pendingPreKey = pending
        }
        structure.remoteRegistrationID = remoteRegistrationId
        structure.localRegistrationID = localRegistrationId
        structure.aliceBaseKey = Data(DjbPublicKey.serialize(aliceBaseKey))
        return structure
    }

    init(structure: Textsecure_SessionStructure) throws(SignalError) {
        guard structure.sessionVersion == 3 else {
            throw .invalidRecord("session version \(structure.sessionVersion), only 3 is supported")
        }
        version = 3
        localIdentity = IdentityKey(validated: try Self.key(structure.localIdentityPublic, "local identity"))
        remoteIdentity = IdentityKey(validated: try Self.key(structure.remoteIdentityPublic, "remote identity"))
        rootKey = try Self.secret(structure.rootKey, "root key")
        previousCounter = structure.previousCounter
        guard structure.hasSenderChain else { throw .invalidRecord("session without a sender chain") }
        senderChain = SenderChain(
            ratchetKeyPair: RatchetKeyPair(
                storedPublicKey: try Self.key(structure.senderChain.senderRatchetKey, "sender ratchet key"),
                privateKey: try Self.secret(structure.senderChain.senderRatchetKeyPrivate, "sender ratchet private key")),
            chainKey: try ChainKey(structure: structure.senderChain.chainKey))
        receiverChains = try structure.receiverChains.map { (chain) throws(SignalError) in
            ReceiverChain(
                ratchetKey: try Self.key(chain.senderRatchetKey, "receiver ratchet key"),
                chainKey: try ChainKey(structure: chain.chainKey),
                skippedKeys: try chain.messageKeys.reversed().map { (keys) throws(SignalError) in
                    guard keys.cipherKey.count == 32, keys.macKey.count == 32, keys.iv.count == 16 else {
                        throw .invalidRecord("message key \(keys.index): cipher key, MAC key and IV must be 32, 32 and 16 bytes")
                    }
                    return MessageKeys(cipherKey: Array(keys.cipherKey), macKey: Array(keys.macKey), iv: Array(keys.iv), index: keys.index)
                })
        }
        if structure.hasPendingPreKey {
            let pending = structure.pendingPreKey
            pendingPreKey = PendingPreKey(
                preKeyId: pending.hasPreKeyID ? pending.preKeyID : nil,
                signedPreKeyId: UInt32(bitPattern: pending.signedPreKeyID),
                baseKey: try Self.key(pending.baseKey, "pending base key"))
        } else {
            pendingPreKey = nil
        }
        remoteRegistrationId = structure.remoteRegistrationID
        localRegistrationId = structure.localRegistrationID
        aliceBaseKey = try Self.key(structure.aliceBaseKey, "alice base key")
    }

    private static func key(_ data: Data, _ what: String) throws(SignalError) -> [UInt8] {
        guard data.count == DjbPublicKey.serializedLength, data.first == DjbPublicKey.typeByte else {
            throw .invalidRecord("\(what) must be 33 bytes starting 05, got \(data.count) bytes")
        }
        return Array(data.dropFirst())
    }

    fileprivate static func secret(_ data: Data, _ what: String) throws(SignalError) -> [UInt8] {
        guard data.count == 32 else { throw .invalidRecord("\(what) must be 32 bytes, got \(data.count)") }
        return Array(data)
    }
}

extension ChainKey {
    func structure() -> Textsecure_SessionStructure.Chain.ChainKey {
        var structure = Textsecure_SessionStructure.Chain.ChainKey()
        structure.index = index
        structure.key = Data(key)
        return structure
    }

    init(structure: Textsecure_SessionStructure.Chain.ChainKey) throws(SignalError) {
        self.init(key: try SessionState.secret(structure.key, "chain key"), index: structure.index)
    }
}
