/// The tag bytes of the binary XML format (whatsmeow binary/token/token.go, identical in
/// whatsmeow `binary/token/token.go` and Baileys `src/WABinary/constants.ts`).
///
/// Every value on the wire starts with one of these bytes. Values 1...235 are single-byte
/// tokens (see `TokenDictionary`); 240...244 are unused and rejected by the decoder.
enum WireTag {
    /// Empty list, or an absent string (a JID pair without a user).
    static let listEmpty: UInt8 = 0x00
    /// `0xEC + d` followed by one index byte names an entry of double-byte dictionary `d`.
    static let dictionary0: UInt8 = 0xEC
    static let dictionary3: UInt8 = 0xEF
    /// user (string), device (u16 BE), integrator (u16 BE), server (string, must be "interop").
    static let interopJID: UInt8 = 0xF5
    /// user (string), device (u16 BE), server (string, must be "msgr").
    static let messengerJID: UInt8 = 0xF6
    /// agent/domain type (u8), device (u8), user (string). The server follows from the agent.
    static let adJID: UInt8 = 0xF7
    /// List with a u8 size.
    static let list8: UInt8 = 0xF8
    /// List with a u16 big-endian size.
    static let list16: UInt8 = 0xF9
    /// user (string, or LIST_EMPTY when there is none), server (string).
    static let jidPair: UInt8 = 0xFA
    /// Packed string of `0-9A-F`.
    static let hex8: UInt8 = 0xFB
    /// Bytes with a u8 length.
    static let binary8: UInt8 = 0xFC
    /// Bytes with a 20-bit big-endian length in three bytes (the top nibble of the first is 0).
    static let binary20: UInt8 = 0xFD
    /// Bytes with a u32 big-endian length.
    static let binary32: UInt8 = 0xFE
    /// Packed string of `0-9`, `-` and `.`.
    static let nibble8: UInt8 = 0xFF

    /// Longest string that may be nibble- or hex-packed: the length byte keeps 7 bits for the
    /// number of packed bytes and its top bit for "odd length" (whatsmeow binary/encoder.go writePackedBytes), and both reference
    /// encoders cap the character count at 127.
    static let packedMaxCharacters = 127
}

/// The leading byte of a decrypted frame (whatsmeow binary/unpack.go Unpack).
public enum FrameFlag {
    /// Set when the rest of the frame is a zlib stream (RFC 1950, with header). whatsmeow
    /// `binary/unpack.go` and Baileys `decompressingIfRequired` test `flag & 2`; the other bits
    /// carry nothing and are ignored.
    public static let zlibCompressed: UInt8 = 0x02
    /// What both reference clients write on every outgoing frame.
    public static let uncompressed: UInt8 = 0x00
}
