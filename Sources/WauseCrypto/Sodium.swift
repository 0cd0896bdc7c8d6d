import CSodium

/// libsodium must be initialised once before use (it selects CPU-specific implementations and seeds
/// its RNG). `sodium_init` is itself idempotent and thread-safe; the lazily evaluated constant just
/// avoids calling it on every operation. This is an immutable, once-computed value, not mutable state.
enum Sodium {
    private static let initialized: Bool = sodium_init() >= 0

    static func ensureInitialized() throws {
        guard initialized else { throw WauseCryptoError.primitiveFailure("sodium_init failed") }
    }
}

/// The operating system's CSPRNG, via libsodium's `randombytes_buf`. Production code passes
/// `SystemRandom.bytes` wherever a random generator is injected; tests pass a deterministic one.
public enum SystemRandom {
    /// Returns `count` cryptographically secure random bytes.
    @Sendable
    public static func bytes(_ count: Int) -> [UInt8] {
        // sodium_init only fails when the system has no usable entropy source; there is nothing a
        // caller could do about that, and returning predictable bytes would be far worse.
        precondition((try? Sodium.ensureInitialized()) != nil, "libsodium could not be initialised")
        guard count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        buffer.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return buffer
    }
}
