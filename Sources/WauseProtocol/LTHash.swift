import WauseCrypto

/// The app-state integrity hash (whatsmeow appstate/lthash/lthash.go, "WhatsApp Patch Integrity"):
/// a 128-byte state read as 64 little-endian UInt16 words. Each value MAC is expanded with
///
///     HKDF-SHA256(ikm: valueMAC, salt: none, info: "WhatsApp Patch Integrity", 128 bytes)
///
/// and added to (a SET) or subtracted from (the value a SET or REMOVE replaces) the state word by
/// word, wrapping at 2^16. Addition commutes, so the hash names the set of live values whatever the
/// order they arrived in, and both sides of the wire can check it against the snapshot MAC.
public struct LTHash: Sendable, Hashable {
    public static let info = "WhatsApp Patch Integrity"
    public static let byteCount = 128

    public private(set) var bytes: [UInt8]

    /// All zeros: the hash of an empty collection.
    public init() { bytes = [UInt8](repeating: 0, count: Self.byteCount) }

    /// A stored state; nil unless it is exactly 128 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Subtracts every removed value MAC first, then adds every added one (whatsmeow
    /// `SubtractThenAdd`); the order does not change the result, only mirrors the reference.
    public mutating func subtractThenAdd(removing removed: [[UInt8]], adding added: [[UInt8]]) {
        for item in removed { combine(item, subtracting: true) }
        for item in added { combine(item, subtracting: false) }
    }

    public mutating func add(_ valueMAC: [UInt8]) { combine(valueMAC, subtracting: false) }
    public mutating func subtract(_ valueMAC: [UInt8]) { combine(valueMAC, subtracting: true) }

    private mutating func combine(_ item: [UInt8], subtracting: Bool) {
        // HKDF only fails for an output length out of range, and 128 is in range.
        let expanded = (try? HKDF.sha256(inputKeyMaterial: item, info: Array(Self.info.utf8), outputByteCount: Self.byteCount))
            ?? [UInt8](repeating: 0, count: Self.byteCount)
        for word in stride(from: 0, to: Self.byteCount, by: 2) {
            let current = UInt16(bytes[word]) | UInt16(bytes[word + 1]) << 8
            let other = UInt16(expanded[word]) | UInt16(expanded[word + 1]) << 8
            let result = subtracting ? current &- other : current &+ other
            bytes[word] = UInt8(truncatingIfNeeded: result)
            bytes[word + 1] = UInt8(truncatingIfNeeded: result >> 8)
        }
    }
}
