import WauseCrypto

/// The keys of one media file: HKDF-SHA256 of the 32-byte `mediaKey` (no salt, the type's info
/// string) expanded to 112 bytes and split iv(16) ‖ cipherKey(32) ‖ macKey(32) ‖ refKey(32)
/// (whatsmeow download.go getMediaKeys; Baileys messages-media.ts getMediaKeys). The sender makes
/// a random `mediaKey` per file and sends it in the message; both ends derive the rest.
public struct MediaKeys: Sendable, Equatable {
    public static let mediaKeyLength = 32
    static let expandedLength = 112

    public let mediaKey: [UInt8]
    public let type: MediaType
    public let iv: [UInt8]
    public let cipherKey: [UInt8]
    public let macKey: [UInt8]
    /// The last 32 bytes of the expansion; neither reference client uses it.
    public let refKey: [UInt8]

    public init(mediaKey: [UInt8], type: MediaType) throws(MediaCryptoError) {
        guard mediaKey.count == Self.mediaKeyLength else { throw .invalidMediaKey(length: mediaKey.count) }
        // The output length is a constant within HKDF's bound, so this cannot fail.
        let expanded = try! HKDF.sha256(inputKeyMaterial: mediaKey, info: Array(type.hkdfInfo.utf8), outputByteCount: Self.expandedLength)
        self.mediaKey = mediaKey
        self.type = type
        iv = Array(expanded[0..<16])
        cipherKey = Array(expanded[16..<48])
        macKey = Array(expanded[48..<80])
        refKey = Array(expanded[80..<112])
    }
}

extension MediaKeys: CustomStringConvertible {
    /// Names the type only: key material stays out of logs.
    public var description: String { "MediaKeys(\(type.rawValue))" }
}
