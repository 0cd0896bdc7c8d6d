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

/// SHA-256 fed piece by piece, for inputs that never sit whole in memory (WhatsApp media's
/// `fileSha256` and `fileEncSha256`, whatsmeow upload.go UploadReader). Same digest as
/// `Hash.sha256` of the concatenated pieces.
public struct SHA256Stream: Sendable {
    private var hasher = Crypto.SHA256()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
    }

    /// The 32-byte digest of everything fed so far (the stream itself is left as it was).
    public func finalize() -> [UInt8] {
        Array(hasher.finalize())
    }
}
