import Crypto

/// HMAC-SHA256 (RFC 2104), used by the Signal chain-key ratchet (`HMAC(chainKey, 0x01/0x02)`),
/// Signal message MACs and media MACs.
public enum HMAC {
    /// HMAC-SHA256 of `message` under `key` (any key length; 32-byte output).
    public static func sha256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(Crypto.HMAC<Crypto.SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
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
