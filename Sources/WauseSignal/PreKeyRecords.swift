import WauseCrypto
import WauseProto
import SwiftProtobuf

/// A one-time prekey we published: consumed by the first `pkmsg` that names it
/// (go.mau.fi/libsignal ratchet/Ratchet.go; whatsmeow prekeys.go uploadPreKeys).
public struct PreKeyRecord: Sendable, Equatable {
    public let id: UInt32
    public let keyPair: Curve25519KeyPair

    public init(id: UInt32, keyPair: Curve25519KeyPair) {
        self.id = id
        self.keyPair = keyPair
    }

    /// libsignal's `PreKeyRecordStructure` (proto/LocalStorageProtocol.proto).
    public func serialized() -> [UInt8] {
        var structure = Textsecure_PreKeyRecordStructure()
        structure.id = id
        structure.publicKey = .init(keyPair.serializedPublicKey)
        structure.privateKey = .init(keyPair.privateKey)
        return try! Array(structure.serializedBytes() as [UInt8])  // encoding a populated message cannot fail
    }

    public init(serialized bytes: [UInt8]) throws(SignalError) {
        let structure: Textsecure_PreKeyRecordStructure
        do { structure = try .init(serializedBytes: bytes) } catch { throw .invalidRecord("prekey record: \(error)") }
        guard structure.hasID else { throw .invalidRecord("prekey record without id") }
        id = structure.id
        keyPair = try RecordCoding.keyPair(private: structure.privateKey, public: structure.publicKey, "prekey")
    }
}

/// Our signed prekey: the medium-term key every bundle carries, signed by the identity key over
/// its 33-byte `0x05 ‖ pub` form (go.mau.fi/libsignal ecc/SignCurve25519.go).
public struct SignedPreKeyRecord: Sendable, Equatable {
    public let id: UInt32
    public let keyPair: Curve25519KeyPair
    public let signature: [UInt8]
    /// Milliseconds since the Unix epoch when it was made (libsignal rotates by age).
    public let timestamp: UInt64

    public init(id: UInt32, keyPair: Curve25519KeyPair, signature: [UInt8], timestamp: UInt64) {
        self.id = id
        self.keyPair = keyPair
        self.signature = signature
        self.timestamp = timestamp
    }

    /// libsignal's `SignedPreKeyRecordStructure` (proto/LocalStorageProtocol.proto).
    public func serialized() -> [UInt8] {
        var structure = Textsecure_SignedPreKeyRecordStructure()
        structure.id = id
        structure.publicKey = .init(keyPair.serializedPublicKey)
        structure.privateKey = .init(keyPair.privateKey)
        structure.signature = .init(signature)
        structure.timestamp = timestamp
        return try! Array(structure.serializedBytes() as [UInt8])
    }

    public init(serialized bytes: [UInt8]) throws(SignalError) {
        let structure: Textsecure_SignedPreKeyRecordStructure
        do { structure = try .init(serializedBytes: bytes) } catch { throw .invalidRecord("signed prekey record: \(error)") }
        guard structure.hasID else { throw .invalidRecord("signed prekey record without id") }
        guard structure.signature.count == XEdDSA.signatureLength else {
            throw .invalidRecord("signed prekey signature must be \(XEdDSA.signatureLength) bytes, got \(structure.signature.count)")
        }
        id = structure.id
        keyPair = try RecordCoding.keyPair(private: structure.privateKey, public: structure.publicKey, "signed prekey")
        signature = Array(structure.signature)
        timestamp = structure.timestamp
    }
}

/// What a peer publishes so others can start a session without it being online: libsignal's
/// `PreKeyBundle`, filled from WhatsApp's `<user>` prekey answer (whatsmeow prekeys.go fetchPreKeys).
public struct PreKeyBundle: Sendable, Equatable {
    public let registrationId: UInt32
    public let deviceId: UInt32
    /// The one-time prekey (id and raw 32-byte public key), when the server still had one.
    public let preKeyId: UInt32?
    public let preKeyPublic: [UInt8]?
    public let signedPreKeyId: UInt32
    /// Raw 32-byte public key.
    public let signedPreKeyPublic: [UInt8]
    public let signedPreKeySignature: [UInt8]
    public let identityKey: IdentityKey

    /// Keys may be given raw (32 bytes, as in WhatsApp's XMPP nodes) or `0x05`-prefixed (33).
    public init(registrationId: UInt32, deviceId: UInt32, preKeyId: UInt32?, preKeyPublic: [UInt8]?,
                signedPreKeyId: UInt32, signedPreKeyPublic: [UInt8], signedPreKeySignature: [UInt8],
                identityKey: IdentityKey) throws(SignalError) {
        guard (preKeyId == nil) == (preKeyPublic == nil) else {
            throw .invalidMessage("bundle: a one-time prekey needs both its id and its public key")
        }
        guard signedPreKeySignature.count == XEdDSA.signatureLength else {
            throw .invalidMessage("bundle: signed prekey signature must be 64 bytes, got \(signedPreKeySignature.count)")
        }
        self.registrationId = registrationId
        self.deviceId = deviceId
        self.preKeyId = preKeyId
        self.preKeyPublic = try preKeyPublic.map { (key) throws(SignalError) in try RecordCoding.publicKey(key, "bundle prekey") }
        self.signedPreKeyId = signedPreKeyId
        self.signedPreKeyPublic = try RecordCoding.publicKey(signedPreKeyPublic, "bundle signed prekey")
        self.signedPreKeySignature = signedPreKeySignature
        self.identityKey = identityKey
    }
}

/// Key generation as libsignal's `KeyHelper` does it.
public enum SignalKeyHelper {
    /// WhatsApp sends prekey ids as 3 bytes (whatsmeow prekeys.go preKeyToNode), libsignal wraps at
    /// `Medium.MAX_VALUE` = 0xFFFFFF.
    public static let maxPreKeyId: UInt32 = 0xFF_FFFF

    public static func generateIdentityKeyPair(random: SignalRandom = SystemRandom.bytes) -> Curve25519KeyPair {
        Curve25519KeyPair.generate(random: random)
    }

    /// 1...16380, libsignal's range (`KeyHelper.generateRegistrationId`: random % 16380 + 1); it fits
    /// Baileys' 14 bits and whatsmeow's 32.
    public static func generateRegistrationId(random: SignalRandom = SystemRandom.bytes) -> UInt32 {
        let bytes = random(4)
        let value = bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return value % 16380 + 1
    }

    /// `count` prekeys with consecutive ids from `start`, wrapping from 0xFFFFFF back to 1.
    public static func generatePreKeys(start: UInt32, count: Int, random: SignalRandom = SystemRandom.bytes) -> [PreKeyRecord] {
        (0..<UInt32(count)).map { offset in
            let id = (start &- 1 &+ offset) % maxPreKeyId + 1
            return PreKeyRecord(id: id, keyPair: .generate(random: random))
        }
    }

    /// A signed prekey: a fresh pair and the identity's signature over `0x05 ‖ pub`.
    public static func generateSignedPreKey(identity: Curve25519KeyPair, id: UInt32, timestamp: UInt64,
                                            random: SignalRandom = SystemRandom.bytes) throws -> SignedPreKeyRecord {
        let pair = Curve25519KeyPair.generate(random: random)
        let signature = try XEdDSA.sign(message: pair.serializedPublicKey, privateKey: identity.privateKey,
                                        random: random(XEdDSA.randomLength))
        return SignedPreKeyRecord(id: id, keyPair: pair, signature: signature, timestamp: timestamp)
    }
}

/// Shared checks for decoding keys out of records and bundles.
enum RecordCoding {
    static func publicKey(_ bytes: some Collection<UInt8>, _ what: String) throws(SignalError) -> [UInt8] {
        do { return try DjbPublicKey.parseRawOrSerialized(Array(bytes)) } catch { throw .invalidMessage("\(what): \(error)") }
    }

    /// A key inside a Signal message: exactly `0x05 ‖ key` (libsignal `DecodePoint` rejects
    /// anything else).
    static func messageKey(_ bytes: some Collection<UInt8>, _ what: String) throws(SignalError) -> [UInt8] {
        do { return try DjbPublicKey.parse(Array(bytes)) } catch { throw .invalidMessage("\(what): \(error)") }
    }

    /// A stored key pair: the private key must be 32 bytes and agree with the stored public key.
    static func keyPair(private privateKey: some Collection<UInt8>, public publicKey: some Collection<UInt8>, _ what: String) throws(SignalError) -> Curve25519KeyPair {
        guard privateKey.count == Curve25519KeyPair.keyLength, let pair = try? Curve25519KeyPair(privateKey: Array(privateKey)) else {
            throw .invalidRecord("\(what) private key must be 32 bytes, got \(privateKey.count)")
        }
        guard let stored = try? DjbPublicKey.parseRawOrSerialized(Array(publicKey)), stored == pair.publicKey else {
            throw .invalidRecord("\(what) public key does not match its private key")
        }
        return pair
    }
}
