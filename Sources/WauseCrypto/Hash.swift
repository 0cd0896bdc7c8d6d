import Crypto

/// One-shot message digests (swift-crypto). SHA-256 is WhatsApp's hash everywhere (Noise, HKDF,
/// media hashes); SHA-512 is what Ed25519/XEdDSA hash with.
public enum Hash {
    /// SHA-256 of `message` (32 bytes).
    public static func sha256(_ message: [UInt8]) -> [UInt8] {
        Array(Crypto.SHA256.hash(data: message))
    }

    /// SHA-512 of `message` (64 bytes).
    public static func sha512(_ message: [UInt8]) -> [UInt8] {
        Array(Crypto.SHA512.hash(data: message))
    }
}

/// Comparisons whose running time does not depend on where two secret values differ.
public enum ConstantTime {
    /// True when both arrays have the same length and contents. The length itself is not secret
    /// (MACs have fixed lengths), so a length mismatch returns early.
    public static func equal(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
