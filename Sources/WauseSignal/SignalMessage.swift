import WauseCrypto

/// The version byte every v3 message starts with: (message version << 4) | current version =
/// 0x33 (go.mau.fi/libsignal protocol/SignalMessage.go). Readers take the message version from the high nibble.
enum MessageVersion {
    static let current: UInt8 = 3
    static let byte: UInt8 = current << 4 | current

    static func check(_ byte: UInt8) throws(SignalError) {
        let version = byte >> 4
        // libsignal-protocol-c: below 3 is SG_ERR_LEGACY_MESSAGE, above 3 SG_ERR_INVALID_VERSION.
        if version < current { throw .legacyVersion(version) }
        if version > current { throw .unknownVersion(version) }
    }
}

/// A `msg`: `0x33 ‖ protobuf(SignalMessage) ‖ MAC[8]`, where the MAC is
/// HMAC-SHA256(macKey, senderIdentity33 ‖ receiverIdentity33 ‖ 0x33 ‖ protobuf) cut to 8 bytes
/// (go.mau.fi/libsignal protocol/SignalMessage.go, libsignal `SignalMessage`). The protobuf is WhisperTextProtocol's
/// `SignalMessage` (proto/WhisperTextProtocol.proto), coded with ProtobufWire; tests check the
/// bytes against the generated type.
public struct SignalMessage: Sendable, Equatable {
    public static let macLength = 8

    /// The sender's current ratchet public key (raw 32 bytes).
    public let ratchetKey: [UInt8]
    /// Index of this message in the sender's current chain.
    public let counter: UInt32
    /// Index of the last message on the sender's previous chain.
    public let previousCounter: UInt32
    /// AES-256-CBC ciphertext of the plaintext.
    public let ciphertext: [UInt8]
    /// The whole message as sent.
    public let serialized: [UInt8]

    /// Builds and MACs a message.
    init(macKey: [UInt8], senderIdentity: IdentityKey, receiverIdentity: IdentityKey,
         ratchetKey: [UInt8], counter: UInt32, previousCounter: UInt32, ciphertext: [UInt8]) {
        var writer = ProtobufWriter(capacity: ciphertext.count + 64)
        writer.varint(UInt64(MessageVersion.byte))  // one byte: 0x33 < 0x80
        writer.djbKey(1, ratchetKey)
        writer.uint32(2, counter)
        writer.uint32(3, previousCounter)
        writer.bytes(4, ciphertext)
        let bytes = writer.bytes
        let mac = Self.mac(key: macKey, senderIdentity: senderIdentity, receiverIdentity: receiverIdentity, versionAndProtobuf: bytes)
        self.ratchetKey = ratchetKey
        self.counter = counter
        self.previousCounter = previousCounter
        self.ciphertext = ciphertext
        serialized = bytes + mac
    }

    /// Parses a received `msg`. Checks the structure only; the MAC needs the session's keys.
    public init(serialized bytes: [UInt8]) throws(SignalError) {
        guard bytes.count > 1 + Self.macLength else {
            throw .invalidMessage("msg of \(bytes.count) bytes is too short")
        }
        try MessageVersion.check(bytes[0])
        var ratchetKey: [UInt8]?, counter: UInt32?, previousCounter: UInt32 = 0, ciphertext: [UInt8]?
        do {
            var reader = ProtobufReader(Array(bytes[1..<(bytes.count - Self.macLength)]))
            while let (field, wireType) = try reader.next() {
                switch field {
                case 1: ratchetKey = try reader.bytes(wireType)
                case 2: counter = try reader.uint32(wireType)
                case 3: previousCounter = try reader.uint32(wireType)
                case 4: ciphertext = try reader.bytes(wireType)
                default: try reader.skip(wireType)
                }
            }
        } catch {
            throw .invalidMessage("msg protobuf: \(error)")
        }
        // libsignal-protocol-c requires these three.
        guard let ratchetKey, let counter, let ciphertext else {
            throw .invalidMessage("msg lacks its ratchet key, counter or ciphertext")
        }
        self.ratchetKey = try RecordCoding.messageKey(ratchetKey, "msg ratchet key")
        self.counter = counter
        self.previousCounter = previousCounter
        self.ciphertext = ciphertext
        serialized = bytes
    }

    /// Checks the 8-byte MAC in constant time.
    func verifyMac(senderIdentity: IdentityKey, receiverIdentity: IdentityKey, macKey: [UInt8]) -> Bool {
        let body = Array(serialized[0..<(serialized.count - Self.macLength)])
        let expected = Self.mac(key: macKey, senderIdentity: senderIdentity, receiverIdentity: receiverIdentity, versionAndProtobuf: body)
        return ConstantTime.equal(expected, Array(serialized.suffix(Self.macLength)))
    }

    static func mac(key: [UInt8], senderIdentity: IdentityKey, receiverIdentity: IdentityKey, versionAndProtobuf: [UInt8]) -> [UInt8] {
        Array(SignalHMAC(key: key).authenticate(senderIdentity.serialized, receiverIdentity.serialized, versionAndProtobuf).prefix(macLength))
    }
}

/// A `pkmsg`: `0x33 ‖ protobuf(PreKeySignalMessage)`, no MAC of its own; it carries what the
/// recipient needs for X3DH and, in `message`, a complete `msg` (go.mau.fi/libsignal protocol/SignalMessage.go).
public struct PreKeySignalMessage: Sendable, Equatable {
    public let registrationId: UInt32
    /// The one-time prekey used, if any. An id of 0 is read as absent, as go.mau.fi/libsignal
    /// does (we never issue prekey id 0).
    public let preKeyId: UInt32?
    public let signedPreKeyId: UInt32
    /// The sender's X3DH base key (raw 32 bytes).
    public let baseKey: [UInt8]
    public let identityKey: IdentityKey
    public let message: SignalMessage
    public let serialized: [UInt8]

    init(registrationId: UInt32, preKeyId: UInt32?, signedPreKeyId: UInt32, baseKey: [UInt8],
         identityKey: IdentityKey, message: SignalMessage) {
        // PreKeySignalMessage, fields in number order as protoc writes them.
        var writer = ProtobufWriter(capacity: message.serialized.count + 96)
        writer.varint(UInt64(MessageVersion.byte))
        if let preKeyId { writer.uint32(1, preKeyId) }
        writer.djbKey(2, baseKey)
        writer.bytes(3, identityKey.serialized)
        writer.bytes(4, message.serialized)
        writer.uint32(5, registrationId)
        writer.uint32(6, signedPreKeyId)
        self.registrationId = registrationId
        self.preKeyId = preKeyId
        self.signedPreKeyId = signedPreKeyId
        self.baseKey = baseKey
        self.identityKey = identityKey
        self.message = message
        serialized = writer.bytes
    }

    public init(serialized bytes: [UInt8]) throws(SignalError) {
        guard bytes.count > 1 else { throw .invalidMessage("pkmsg of \(bytes.count) bytes is too short") }
        try MessageVersion.check(bytes[0])
        var registrationId: UInt32 = 0, preKeyId: UInt32?, signedPreKeyId: UInt32?
        var baseKey: [UInt8]?, identityKey: [UInt8]?, message: [UInt8]?
        do {
            var reader = ProtobufReader(Array(bytes[1...]))
            while let (field, wireType) = try reader.next() {
                switch field {
                case 1: preKeyId = try reader.uint32(wireType)
                case 2: baseKey = try reader.bytes(wireType)
                case 3: identityKey = try reader.bytes(wireType)
                case 4: message = try reader.bytes(wireType)
                case 5: registrationId = try reader.uint32(wireType)
                case 6: signedPreKeyId = try reader.uint32(wireType)
                default: try reader.skip(wireType)
                }
            }
        } catch {
            throw .invalidMessage("pkmsg protobuf: \(error)")
        }
        // libsignal-protocol-c requires these four; the registration id defaults to 0.
        guard let signedPreKeyId, let baseKey, let identityKey, let message else {
            throw .invalidMessage("pkmsg lacks its signed prekey id, base key, identity key or message")
        }
        self.registrationId = registrationId
        self.preKeyId = preKeyId == 0 ? nil : preKeyId
        self.signedPreKeyId = signedPreKeyId
        self.baseKey = try RecordCoding.messageKey(baseKey, "pkmsg base key")
        self.identityKey = IdentityKey(validated: try RecordCoding.messageKey(identityKey, "pkmsg identity key"))
        self.message = try SignalMessage(serialized: message)
        serialized = bytes
    }
}

/// What `SessionCipher.encrypt` returns: WhatsApp puts `type="pkmsg"` or `type="msg"` on the
/// `<enc>` node (go.mau.fi/libsignal protocol/SignalMessage.go).
public enum CiphertextMessage: Sendable, Equatable {
    case preKeySignalMessage(PreKeySignalMessage)
    case signalMessage(SignalMessage)

    /// The `<enc type>` value: "pkmsg" or "msg".
    public var type: String {
        switch self {
        case .preKeySignalMessage: return "pkmsg"
        case .signalMessage: return "msg"
        }
    }

    public var serialized: [UInt8] {
        switch self {
        case let .preKeySignalMessage(message): return message.serialized
        case let .signalMessage(message): return message.serialized
        }
    }
}
