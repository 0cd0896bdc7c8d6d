import WauseCrypto

/// An SKDM: `0x33 ‖ protobuf(SenderKeyDistributionMessage)`, no signature of its own (it travels
/// inside a pairwise-encrypted `msg`/`pkmsg`): the key id, the iteration the chain key is at, the
/// 32-byte chain key and the 33-byte `0x05`-prefixed signing public key
/// (proto/WhisperTextProtocol.proto; go.mau.fi/libsignal protocol/SenderKeyDistributionMessage.go).
/// WhatsApp carries the bytes in `Message.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage`.
public struct SenderKeyDistributionMessage: Sendable, Equatable {
    public let keyId: UInt32
    public let iteration: UInt32
    /// The 32-byte chain key at `iteration`.
    public let chainKey: [UInt8]
    /// The signing public key (raw 32 bytes).
    public let signingKey: [UInt8]
    /// The whole message as sent.
    public let serialized: [UInt8]

    init(keyId: UInt32, iteration: UInt32, chainKey: [UInt8], signingKey: [UInt8]) {
        var writer = ProtobufWriter(capacity: 96)
        writer.varint(UInt64(MessageVersion.byte))  // one byte: 0x33 < 0x80
        writer.uint32(1, keyId)
        writer.uint32(2, iteration)
        writer.bytes(3, chainKey)
        writer.djbKey(4, signingKey)
        self.keyId = keyId
        self.iteration = iteration
        self.chainKey = chainKey
        self.signingKey = signingKey
        serialized = writer.bytes
    }

    /// Parses a received SKDM.
    ///
    /// - Throws: `.legacyVersion`/`.unknownVersion` for a version other than 3; `.invalidMessage`
    ///   for a truncated protobuf, a missing field, a chain key that is not 32 bytes or a signing
    ///   key that is not `0x05 ‖ 32 bytes`.
    public init(serialized bytes: [UInt8]) throws(SignalError) {
        guard bytes.count > 1 else { throw .invalidMessage("sender key distribution message of \(bytes.count) bytes is too short") }
        try MessageVersion.check(bytes[0])
        var keyId: UInt32?, iteration: UInt32?, chainKey: [UInt8]?, signingKey: [UInt8]?
        do {
            var reader = ProtobufReader(Array(bytes[1...]))
            while let (field, wireType) = try reader.next() {
                switch field {
                case 1: keyId = try reader.uint32(wireType)
                case 2: iteration = try reader.uint32(wireType)
                case 3: chainKey = try reader.bytes(wireType)
                case 4: signingKey = try reader.bytes(wireType)
                default: try reader.skip(wireType)
                }
            }
        } catch {
            throw .invalidMessage("sender key distribution message protobuf: \(error)")
        }
        // libsignal-protocol-c sender_key_distribution_message_deserialize requires all four.
        guard let keyId, let iteration, let chainKey, let signingKey else {
            throw .invalidMessage("sender key distribution message lacks its id, iteration, chain key or signing key")
        }
        guard chainKey.count == 32 else {
            throw .invalidMessage("sender key distribution message chain key must be 32 bytes, got \(chainKey.count)")
        }
        self.keyId = keyId
        self.iteration = iteration
        self.chainKey = chainKey
        self.signingKey = try RecordCoding.messageKey(signingKey, "sender key distribution message signing key")
        serialized = bytes
    }
}
