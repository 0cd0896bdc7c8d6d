import WauseCrypto

/// Everything the Signal layer reports about a message, a bundle or a record. Store
/// implementations throw their own errors, which pass through unchanged.
///
/// The cases follow libsignal's `SignalProtocolError` where one exists, so a caller's policy
/// (whatsmeow: a duplicate is ignored, a bad MAC earns a retry receipt, an untrusted identity
/// raises `contact.identity_changed`) can be written against the same distinctions.
public enum SignalError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes are not a well-formed message: truncated, undecodable protobuf, a missing field,
    /// a key of the wrong length or type, a message too far in the future.
    case invalidMessage(String)
    /// The 8-byte MAC of a `msg` did not verify under any session state: wrong keys, a
    /// tampered message, or a session the peer no longer has.
    case badMac
    /// The message key for this counter was already used (or dropped as too old): libsignal's
    /// `DuplicatedMessage`. whatsmeow ignores these instead of asking for a retry.
    case duplicateMessage(chainIndex: UInt32, counter: UInt32)
    /// There is no session with this address to encrypt to or to decrypt a `msg` with.
    case noSession(SignalAddress)
    /// A `pkmsg` named a prekey or signed prekey we do not have (already consumed, rotated away,
    /// or never ours).
    case invalidKeyId(kind: PreKeyKind, id: UInt32)
    /// The peer's identity key differs from the one we trust. `trusted` is the stored key (nil if
    /// the store distrusts without one), `received` the new key. The engine decides: surface
    /// `contact.identity_changed`, then `IdentityKeyStore.saveIdentity(received, ...)` to accept.
    case untrustedIdentity(address: SignalAddress, trusted: IdentityKey?, received: IdentityKey)
    /// A message of a pre-v3 protocol version (high nibble of the version byte below 3), which
    /// libsignal rejects as `LegacyMessage`.
    case legacyVersion(UInt8)
    /// A message of a newer version than 3 (libsignal's v4 PQXDH messages, for instance).
    case unknownVersion(UInt8)
    /// A bundle's signed prekey signature did not verify under its identity key.
    case invalidSignature
    /// A stored record could not be decoded or is inconsistent.
    case invalidRecord(String)
    /// We hold no sender key for this group and sender: none at all, or none with the key id an
    /// `skmsg` names (`keyId`; nil when encrypting without a sender key of our own). libsignal's
    /// `NoSenderKeyState`; the engine answers it with a retry receipt so the sender distributes
    /// its key again (whatsmeow message.go decryptGroupMsg → sendRetryReceipt).
    case noSenderKey(name: SenderKeyName, keyId: UInt32?)
    /// An `skmsg`'s signature did not verify under the signing key of the sender key it names:
    /// forged, corrupted, or the sender changed its signing key without our seeing the new SKDM.
    case invalidSenderKeySignature(name: SenderKeyName)

    public enum PreKeyKind: String, Sendable, Equatable {
        case preKey = "prekey"
        case signedPreKey = "signed prekey"
    }

    /// A stable snake_case name for the case, for logs, the CLI and the engine's error details.
    public var code: String {
        switch self {
        case .invalidMessage: return "invalid_message"
        case .badMac: return "bad_mac"
        case .duplicateMessage: return "duplicate_message"
        case .noSession: return "no_session"
        case .invalidKeyId: return "invalid_key_id"
        case .untrustedIdentity: return "untrusted_identity"
        case .legacyVersion: return "legacy_version"
        case .unknownVersion: return "unknown_version"
        case .invalidSignature: return "invalid_signature"
        case .invalidRecord: return "invalid_record"
        case .noSenderKey: return "no_sender_key"
        case .invalidSenderKeySignature: return "invalid_sender_key_signature"
        }
    }

    public var description: String {
        switch self {
        case let .invalidMessage(reason): return "invalid message: \(reason)"
        case .badMac: return "bad MAC: the message does not verify under any session state"
        case let .duplicateMessage(chainIndex, counter):
            return "duplicate message: counter \(counter) is behind the chain (next \(chainIndex)) and its key is gone"
        case let .noSession(address): return "no session with \(address)"
        case let .invalidKeyId(kind, id): return "no \(kind.rawValue) with id \(id)"
        case let .untrustedIdentity(address, trusted, received):
            return "untrusted identity for \(address): trusted \(trusted.map { Hex.encode($0.serialized) } ?? "none"), received \(Hex.encode(received.serialized))"
        case let .legacyVersion(version): return "legacy message version \(version) (v3 required)"
        case let .unknownVersion(version): return "unknown message version \(version) (v3 supported)"
        case .invalidSignature: return "signed prekey signature does not verify"
        case let .invalidRecord(reason): return "invalid record: \(reason)"
        case let .noSenderKey(name, keyId):
            if let keyId { return "no sender key with id \(keyId) for \(name)" }
            return "no sender key of our own for \(name)"
        case let .invalidSenderKeySignature(name): return "skmsg signature does not verify under the sender key of \(name)"
        }
    }
}
