/// SplitMix64 (Steele, Lea and Flood): a tiny seeded generator for the places that need the same
/// "random" data on every run — test corpora, randomized tests reproducible from their seed, and
/// the benchmark's corpora. Not for secrets: those come from the environment's CSPRNG.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` bytes: each 64-bit output, least significant byte first.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            var word = next()
            for _ in 0..<min(8, count - result.count) {
                result.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return result
    }

    /// A value in `0..<bound` (modulo bias is irrelevant for tests and corpora).
    public mutating func next(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
