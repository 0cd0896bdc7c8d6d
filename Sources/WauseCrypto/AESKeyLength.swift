/// AES accepts 128-, 192- and 256-bit keys; WhatsApp uses 256-bit keys everywhere, but the
/// wrappers accept all three so the NIST vectors for each can be run.
enum AESKeyLength {
    static func validate(_ key: [UInt8], _ what: String) throws {
        guard [16, 24, 32].contains(key.count) else {
            throw WauseCryptoError.invalidLength(what: what, expected: "16, 24 or 32", actual: key.count)
        }
    }
}
