import WauseCrypto

// Session records serialise as libsignal's `RecordStructure` (proto/LocalStorageProtocol.proto,
// the format libsignal-protocol-c 2.3.3 writes and signalapp/libsignal still reads): the engine
// stores the bytes as a BLOB. Public keys are written 0x05-prefixed (33 bytes) as libsignal
// writes them, skipped message keys newest first, receiver chains oldest first, archived states
// newest first. Each state carries its version (`sessionVersion` = 3). Decoding validates every
// key length, so a corrupt BLOB is an error, never a crash. The codec is ProtobufWire's; tests
// check the bytes against the generated `Textsecure_RecordStructure`.

extension SessionRecord {
    public func serialized() -> [UInt8] {
        var writer = ProtobufWriter(capacity: 512)
        if let currentState { writer.message(1) { currentState.write(to: &$0) } }
        for state in previousStates { writer.message(2) { state.write(to: &$0) } }
        return writer.bytes
    }

    public init(serialized bytes: [UInt8]) throws(SignalError) {
        do {
            var reader = ProtobufReader(bytes)
            var current: SessionState?
            var previous: [SessionState] = []
            while let (field, wireType) = try reader.next() {
                switch field {
                case 1:
                    var nested = try reader.message(wireType)
                    current = try SessionState(reading: &nested)
                case 2:
                    var nested = try reader.message(wireType)
                    previous.append(try SessionState(reading: &nested))
                default: try reader.skip(wireType)
                }
            }
            self.init(currentState: current, previousStates: previous)
        } catch let error as SignalError {
            throw error
        } catch {
            throw .invalidRecord("session record: \(error)")
        }
    }
}

extension SessionState {
    // SessionStructure field numbers (proto/LocalStorageProtocol.proto).
    func write(to writer: inout ProtobufWriter) {
        writer.uint32(1, version)
        writer.bytes(2, localIdentity.serialized)
        writer.bytes(3, remoteIdentity.serialized)
        writer.bytes(4, rootKey)
        writer.uint32(5, previousCounter)
        writer.message(6) { chain in
            chain.djbKey(1, senderChain.ratchetKeyPair.publicKey)
            chain.bytes(2, senderChain.ratchetKeyPair.privateKey)
            chain.message(3) { senderChain.chainKey.write(to: &$0) }
        }
        for receiver in receiverChains {
            writer.message(7) { chain in
                chain.djbKey(1, receiver.ratchetKey)
                chain.message(3) { receiver.chainKey.write(to: &$0) }
                for keys in receiver.skippedKeys.reversed() {
                    chain.message(4) { key in
                        key.uint32(1, keys.index)
                        key.bytes(2, keys.cipherKey)
                        key.bytes(3, keys.macKey)
                        key.bytes(4, keys.iv)
                    }
                }
            }
        }
        if let pendingPreKey {
            writer.message(9) { pending in
                if let id = pendingPreKey.preKeyId { pending.uint32(1, id) }
                pending.djbKey(2, pendingPreKey.baseKey)
                pending.int32(3, Int32(bitPattern: pendingPreKey.signedPreKeyId))
            }
        }
        writer.uint32(10, remoteRegistrationId)
        writer.uint32(11, localRegistrationId)
        writer.djbKey(13, aliceBaseKey)
    }

    init(reading reader: inout ProtobufReader) throws {
        var version: UInt32?
        var localIdentity: [UInt8]?, remoteIdentity: [UInt8]?, rootKey: [UInt8]?, aliceBaseKey: [UInt8]?
        var previousCounter: UInt32 = 0, remoteRegistrationId: UInt32 = 0, localRegistrationId: UInt32 = 0
        var sender: Chain?
        var receivers: [Chain] = []
        var pending: PendingPreKey?
        while let (field, wireType) = try reader.next() {
            switch field {
            case 1: version = try reader.uint32(wireType)
            case 2: localIdentity = try reader.bytes(wireType)
            case 3: remoteIdentity = try reader.bytes(wireType)
            case 4: rootKey = try reader.bytes(wireType)
            case 5: previousCounter = try reader.uint32(wireType)
            case 6:
                var nested = try reader.message(wireType)
                sender = try Chain(reading: &nested)
            case 7:
                var nested = try reader.message(wireType)
                receivers.append(try Chain(reading: &nested))
            case 9:
                var nested = try reader.message(wireType)
                pending = try Self.pendingPreKey(reading: &nested)
            case 10: remoteRegistrationId = try reader.uint32(wireType)
            case 11: localRegistrationId = try reader.uint32(wireType)
            case 13: aliceBaseKey = try reader.bytes(wireType)
            default: try reader.skip(wireType)
            }
        }
        guard version == 3 else { throw SignalError.invalidRecord("session version \(version.map(String.init) ?? "missing"), only 3 is supported") }
        guard let sender else { throw SignalError.invalidRecord("session without a sender chain") }
        self.version = 3
        self.localIdentity = IdentityKey(validated: try Self.key(localIdentity, "local identity"))
        self.remoteIdentity = IdentityKey(validated: try Self.key(remoteIdentity, "remote identity"))
        self.rootKey = try Self.secret(rootKey, "root key")
        self.previousCounter = previousCounter
        senderChain = SenderChain(
            ratchetKeyPair: RatchetKeyPair(storedPublicKey: try Self.key(sender.ratchetKey, "sender ratchet key"),
                                           privateKey: try Self.secret(sender.privateKey, "sender ratchet private key")),
            chainKey: try sender.validChainKey())
        receiverChains = try receivers.map { chain in
            ReceiverChain(ratchetKey: try Self.key(chain.ratchetKey, "receiver ratchet key"), chainKey: try chain.validChainKey(),
                          skippedKeys: chain.messageKeysNewestFirst.reversed())
        }
        pendingPreKey = pending
        self.remoteRegistrationId = remoteRegistrationId
        self.localRegistrationId = localRegistrationId
        self.aliceBaseKey = try Self.key(aliceBaseKey, "alice base key")
    }

    /// SessionStructure.Chain as read, before validation.
    private struct Chain {
        var ratchetKey: [UInt8]?
        var privateKey: [UInt8]?
        var chainKey: [UInt8]?
        var chainIndex: UInt32 = 0
        var messageKeysNewestFirst: [MessageKeys] = []

        init(reading reader: inout ProtobufReader) throws {
            while let (field, wireType) = try reader.next() {
                switch field {
                case 1: ratchetKey = try reader.bytes(wireType)
                case 2: privateKey = try reader.bytes(wireType)
                case 3:
                    var nested = try reader.message(wireType)
                    while let (field, wireType) = try nested.next() {
                        switch field {
                        case 1: chainIndex = try nested.uint32(wireType)
                        case 2: chainKey = try nested.bytes(wireType)
                        default: try nested.skip(wireType)
                        }
                    }
                case 4:
                    var nested = try reader.message(wireType)
                    messageKeysNewestFirst.append(try Self.messageKeys(reading: &nested))
                default: try reader.skip(wireType)
                }
            }
        }

        func validChainKey() throws -> ChainKey {
            ChainKey(key: try SessionState.secret(chainKey, "chain key"), index: chainIndex)
        }

        private static func messageKeys(reading reader: inout ProtobufReader) throws -> MessageKeys {
            var index: UInt32 = 0
            var cipherKey: [UInt8] = [], macKey: [UInt8] = [], iv: [UInt8] = []
            while let (field, wireType) = try reader.next() {
                switch field {
                case 1: index = try reader.uint32(wireType)
                case 2: cipherKey = try reader.bytes(wireType)
                case 3: macKey = try reader.bytes(wireType)
                case 4: iv = try reader.bytes(wireType)
                default: try reader.skip(wireType)
                }
            }
            guard cipherKey.count == 32, macKey.count == 32, iv.count == 16 else {
                throw SignalError.invalidRecord("message key \(index): cipher key, MAC key and IV must be 32, 32 and 16 bytes")
            }
            return MessageKeys(cipherKey: cipherKey, macKey: macKey, iv: iv, index: index)
        }
    }

    private static func pendingPreKey(reading reader: inout ProtobufReader) throws -> PendingPreKey {
        var preKeyId: UInt32?, signedPreKeyId: UInt32 = 0
        var baseKey: [UInt8]?
        while let (field, wireType) = try reader.next() {
            switch field {
            case 1: preKeyId = try reader.uint32(wireType)
            case 2: baseKey = try reader.bytes(wireType)
            case 3: signedPreKeyId = try reader.uint32(wireType)
            default: try reader.skip(wireType)
            }
        }
        return PendingPreKey(preKeyId: preKeyId, signedPreKeyId: signedPreKeyId, baseKey: try key(baseKey, "pending base key"))
    }

    private static func key(_ bytes: [UInt8]?, _ what: String) throws(SignalError) -> [UInt8] {
        guard let bytes, bytes.count == DjbPublicKey.serializedLength, bytes[0] == DjbPublicKey.typeByte else {
            throw .invalidRecord("\(what) must be 33 bytes starting 05, got \(bytes?.count ?? 0) bytes")
        }
        return Array(bytes[1...])
    }

    fileprivate static func secret(_ bytes: [UInt8]?, _ what: String) throws(SignalError) -> [UInt8] {
        guard let bytes, bytes.count == 32 else { throw .invalidRecord("\(what) must be 32 bytes, got \(bytes?.count ?? 0)") }
        return bytes
    }
}

extension ChainKey {
    func write(to writer: inout ProtobufWriter) {
        writer.uint32(1, index)
        writer.bytes(2, key)
    }
}
