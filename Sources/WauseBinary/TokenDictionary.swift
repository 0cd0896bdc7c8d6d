/// Lookups over the generated v3 token tables (`Generated/Tokens.swift`, from whatsmeow binary/token/token.go).
///
/// The encoder needs string → bytes; the decoder needs bytes → string. The lists contain no
/// duplicates within or across dictionaries (checked by scripts/gen-tokens.py), so the reverse
/// map is unambiguous and lookup order between single- and double-byte tokens does not matter.
enum TokenDictionary {
    static var singleByte: [String] { TokenTables.singleByte }
    static var doubleByte: [[String]] { TokenTables.doubleByte }

    /// String → wire bytes, built once from the generated tables.
    static let reverse = TokenReverseMap()
}

/// String → token bytes, keyed by UTF-8 bytes.
///
/// Every string the encoder writes is looked up here first (whatsmeow binary/encoder.go writeString), so this is the
/// encoder's hottest path. A `[String: …]` dictionary spends most of its time in SipHash and
/// String bridging; this open-addressing table hashes the bytes with FNV-1a and compares them
/// directly. It is immutable after construction, so sharing it across threads is safe.
struct TokenReverseMap: Sendable {
    /// How a token is written: values below 0x100 are one byte; otherwise the high byte is the
    /// dictionary tag (0xEC...0xEF) and the low byte the index.
    typealias Encoding = UInt16

    /// No token is longer than this, so longer strings skip the lookup entirely.
    let longestToken: Int
    private let slotMask: Int
    /// Per slot: index + 1 into `entries`, 0 when empty.
    private let slots: [Int32]
    private let entries: [(start: Int32, length: Int32, encoding: Encoding)]
    private let tokenBytes: [UInt8]

    init() {
        var entries: [(start: Int32, length: Int32, encoding: Encoding)] = []
        var tokenBytes: [UInt8] = []
        func add(_ token: String, _ encoding: Encoding) {
            entries.append((Int32(tokenBytes.count), Int32(token.utf8.count), encoding))
            tokenBytes.append(contentsOf: token.utf8)
        }
        // Index 0 is the empty token; byte 0x00 means LIST_EMPTY, so it is never written.
        for (index, token) in TokenTables.singleByte.enumerated() where index > 0 {
            add(token, Encoding(index))
        }
        for (dictionary, tokens) in TokenTables.doubleByte.enumerated() {
            let tag = Encoding(0xEC) + Encoding(dictionary)
            for (index, token) in tokens.enumerated() {
                add(token, tag << 8 | Encoding(index))
            }
        }
        // A power of two above 3× the entry count keeps probe sequences short.
        var capacity = 1
        while capacity < entries.count * 3 { capacity <<= 1 }
        var slots = [Int32](repeating: 0, count: capacity)
        for (entryIndex, entry) in entries.enumerated() {
            let hash = tokenBytes.withUnsafeBufferPointer {
                Self.hash(UnsafeBufferPointer(rebasing: $0[Int(entry.start)..<Int(entry.start + entry.length)]))
            }
            var slot = hash & (capacity - 1)
            while slots[slot] != 0 { slot = (slot + 1) & (capacity - 1) }
            slots[slot] = Int32(entryIndex + 1)
        }
        self.slotMask = capacity - 1
        self.slots = slots
        self.entries = entries
        self.tokenBytes = tokenBytes
        self.longestToken = entries.map { Int($0.length) }.max() ?? 0
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt32 = 0x811C_9DC5
        for byte in bytes { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return Int(hash)
    }

    /// The token encoding of the string whose UTF-8 is `utf8`, if it is a token.
    @inline(__always)
    func encoding(of utf8: UnsafeBufferPointer<UInt8>) -> Encoding? {
        guard utf8.count <= longestToken, utf8.count > 0 else { return nil }
        var slot = Self.hash(utf8) & slotMask
        return slots.withUnsafeBufferPointer { slots in
            entries.withUnsafeBufferPointer { entries in
                tokenBytes.withUnsafeBufferPointer { tokenBytes in
                    while true {
                        let entryIndex = Int(slots[slot])
                        if entryIndex == 0 { return nil }
                        let entry = entries[entryIndex - 1]
                        if Int(entry.length) == utf8.count
                            && memoryEqual(tokenBytes.baseAddress! + Int(entry.start), utf8.baseAddress!, utf8.count) {
                            return entry.encoding
                        }
                        slot = (slot + 1) & slotMask
                    }
                }
            }
        }
    }

    @inline(__always)
    private func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        for index in 0..<count where a[index] != b[index] { return false }
        return true
    }
}
