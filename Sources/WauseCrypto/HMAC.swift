import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials  // UnsafeRawBufferPointer as DataProtocol, for HMAC.update(data:)
#else
import Foundation
#endif

/// HMAC-SHA256 (RFC 2104), used by the Signal chain-key ratchet (`HMAC(chainKey, 0x01/0x02)`),
/// Signal message MACs and media MACs; HMAC-SHA512 for the app-state value MAC.
public enum HMAC {
    /// HMAC-SHA256 of `message` under `key` (any key length; 32-byte output).
    public static func sha256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(Crypto.HMAC<Crypto.SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// HMAC-SHA512 of `message` under `key` (64-byte output): the app-state value MAC, which keeps
    /// the first 32 bytes (whatsmeow appstate/hash.go generateContentMAC).
    public static func sha512(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(Crypto.HMAC<Crypto.SHA512>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// Checks `mac` in constant time against the HMAC-SHA256 of `message`. `mac` may be a prefix of
    /// the full tag (Signal messages carry 8 bytes, WhatsApp media 10), but never shorter than
    /// `minimumLength`, so an empty or tiny tag cannot pass.
    public static func sha256IsValid(mac: [UInt8], key: [UInt8], message: [UInt8], minimumLength: Int = 8) -> Bool {
        guard mac.count >= minimumLength, mac.count <= 32 else { return false }
        let expected = sha256(key: key, message: message)
        return ConstantTime.equal(Array(expected.prefix(mac.count)), mac)
    }
}

/// HMAC-SHA256 fed piece by piece: the MAC over `iv ‖ ciphertext` of a media file that is
/// encrypted or checked as it streams (whatsmeow util/cbcutil EncryptStream, download.go
/// validateMedia). Same tag as `HMAC.sha256` over the concatenated pieces.
public struct HMACSHA256Stream: Sendable {
    private var authenticator: Crypto.HMAC<Crypto.SHA256>

    public init(key: [UInt8]) {
        authenticator = Crypto.HMAC<Crypto.SHA256>(key: SymmetricKey(data: key))
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        authenticator.update(data: bytes)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { authenticator.update(data: $0) }
    }

    /// The 32-byte tag of everything fed so far (the stream itself is left as it was).
    public func finalize() -> [UInt8] {
        Array(authenticator.finalize())
    }
}
