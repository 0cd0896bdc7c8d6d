import WauseCrypto

/// An `skmsg`: `0x33 ‖ protobuf(SenderKeyMessage) ‖ signature[64]`, where the signature is the
/// sender's curve25519 signature (`XEdDSA`) over everything before it, made with the private
/// half of the signing key its SKDM distributed (proto/WhisperTextProtocol.proto;
/// go.mau.fi/libsignal protocol/SenderKeyMessage.go, groups/GroupCipher.go).
public struct SenderKeyMessage: Sendable, Equatable {
    public static let signatureLength = XEdDSA.signatureLength

    public let keyId: UInt32
    public let iteration: UInt32
    /// AES-256-CBC ciphertext of the plaintext.
    public let ciphertext: [UInt8]
    /// The whole message as sent.
    public let serialized: [UInt8]

    /// Builds and signs a message.
    init(keyId: UInt32, iteration: UInt32, ciphertext: [UInt8], signer: XEdDSA.SigningKey, random: [UInt8]) throws {
        var writer = ProtobufWriter(capacity: ciphertext.count + 16 + Self.signatureLength)
        writer.varint(UInt64(MessageVersion.byte))  // one byte: 0x33 < 0x80
        writer.uint32(1, keyId)
        writer.uint32(2, iteration)
        writer.bytes(3, ciphertext)
        var bytes = writer.bytes
        bytes += try signer.signature(for: bytes, random: random)
        self.keyId = keyId
        self.iteration = iteration
        self.ciphertext = ciphertext
        serialized = bytes
    }

    /// Parses a received `skmsg`. Checks the structure only; the signature needs the sender key.
    ///
    /// - Throws: `.legacyVersion`/`.unknownVersion`; `.invalidMessage` for a message too short to
    ///   hold a signature, a truncated protobuf or a missing field.
    public init(serialized bytes: [UInt8]) throws(SignalError) {
        guard bytes.count > 1 + Self.signatureLength else {
            throw .invalidMessage("skmsg of \(bytes.count) bytes is too short")
        }
        try MessageVersion.check(bytes[0])
        var keyId: UInt32?, iteration: UInt32?, ciphertext: [UInt8]?
        do {
            var reader = ProtobufReader(Array(bytes[1..<(bytes.count - Self.signatureLength)]))
            while let (field, wireType) = try reader.next() {
                switch field {
                case 1: keyId = try reader.uint32(wireType)
                case 2: iteration = try reader.uint32(wireType)
                case 3: ciphertext = try reader.bytes(wireType)
                default: try reader.skip(wireType)
                }
            }
        } catch {
            throw .invalidMessage("skmsg protobuf: \(error)")
        }
        // libsignal-protocol-c sender_key_message_deserialize requires all three.
        guard let keyId, let iteration, let ciphertext else {
            throw .invalidMessage("skmsg lacks its id, iteration or ciphertext")
        }
        self.keyId = keyId
        self.iteration = iteration
        self.ciphertext = ciphertext
        serialized = bytes
    }

    /// Checks the signature over `0x33 ‖ protobuf`.
    func verifySignature(with key: XEdDSA.VerifyingKey) -> Bool {
        let split = serialized.count - Self.signatureLength
        return key.isValidSignature(Array(serialized[split...]), for: Array(serialized[..<split]))
    }
}
