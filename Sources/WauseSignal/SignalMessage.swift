#if canImport(FoundationEssentials)
import FoundationEssentials  // Data, for the generated protobuf types
#else
import Foundation
#endif
import SwiftProtobuf
import WauseCrypto
import WauseProto

/// The version byte every v3 message starts with: (message version << 4) | current version =
/// 0x33 (protocol-messaging.md §1.6). Readers take the message version from the high nibble.
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
/// (protocol-messaging.md §1.6, libsignal `SignalMessage`).
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
        var message = Textsecure_SignalMessage()
        message.ratchetKey = Data(DjbPublicKey.serialize(ratchetKey))
        message.counter = counter
        message.previousCounter = previousCounter
        message.ciphertext = Data(ciphertext)
        var bytes: [UInt8] = [MessageVersion.byte]
        bytes += try! message.serializedBytes() as [UInt8]  // encoding a populated message cannot fail
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
        let message: Textsecure_SignalMessage
        do { message = try Textsecure_SignalMessage(serializedBytes: Array(bytes[1..<(bytes.count - Self.macLength)])) } catch {
            throw .invalidMessage("msg protobuf: \(error)")
        }
        guard message.hasRatchetKey, message.hasCounter, message.hasCiphertext else {
            throw .invalidMessage("msg lacks its ratchet key, counter or ciphertext")
        }
        ratchetKey = try RecordCoding.messageKey(message.ratchetKey, "msg ratchet key")
        counter = message.counter
        previousCounter = message.previousCounter
        ciphertext = Array(message.ciphertext)
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
/// recipient needs for X3DH and, in `message`, a complete `msg` (protocol-messaging.md §1.6).
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
        var structure = Textsecure_PreKeySignalMessage()
        structure.registrationID = registrationId
        if let preKeyId { structure.preKeyID = preKeyId }
        structure.signedPreKeyID = signedPreKeyId
        structure.baseKey = Data(DjbPublicKey.serialize(baseKey))
        structure.identityKey = Data(identityKey.serialized)
        structure.message = Data(message.serialized)
        self.registrationId = registrationId
        self.preKeyId = preKeyId
        self.signedPreKeyId = signedPreKeyId
        self.baseKey = baseKey
        self.identityKey = identityKey
        self.message = message
        serialized = [MessageVersion.byte] + (try! structure.serializedBytes() as [UInt8])
    }

    public init(serialized bytes: [UInt8]) throws(SignalError) {
        guard bytes.count > 1 else { throw .invalidMessage("pkmsg of \(bytes.count) bytes is too short") }
        try MessageVersion.check(bytes[0])
        let structure: Textsecure_PreKeySignalMessage
        do { structure = try Textsecure_PreKeySignalMessage(serializedBytes: Array(bytes[1...])) } catch {
            throw .invalidMessage("pkmsg protobuf: \(error)")
        }
        // libsignal-protocol-c requires these four; the registration id defaults to 0.
        guard structure.hasSignedPreKeyID, structure.hasBaseKey, structure.hasIdentityKey, structure.hasMessage else {
            throw .invalidMessage("pkmsg lacks its signed prekey id, base key, identity key or message")
        }
        registrationId = structure.registrationID
        preKeyId = structure.hasPreKeyID && structure.preKeyID != 0 ? structure.preKeyID : nil
        signedPreKeyId = structure.signedPreKeyID
        baseKey = try RecordCoding.messageKey(structure.baseKey, "pkmsg base key")
        identityKey = IdentityKey(validated: try RecordCoding.messageKey(structure.identityKey, "pkmsg identity key"))
        message = try SignalMessage(serialized: Array(structure.message))
        serialized = bytes
    }
}

/// What `SessionCipher.encrypt` returns: WhatsApp puts `type="pkmsg"` or `type="msg"` on the
/// `<enc>` node (protocol-messaging.md §1.6).
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
