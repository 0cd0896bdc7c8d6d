import WauseSupport

/// A mutation's index: a JSON array of strings, the action name first and its parameters after
/// (`["mute","123@s.whatsapp.net"]`). The index MAC is over the exact bytes, so a sender must
/// produce what WhatsApp's own clients produce — compact `JSON.stringify` output: no spaces, `/`
/// and non-ASCII left as they are, only `"`, `\` and control characters escaped (Baileys
/// chat-utils.ts `JSON.stringify(index)`; whatsmeow's `json.Marshal` also escapes `<>&`, which no
/// index of ours contains). A receiver keeps the raw bytes it decrypted and never re-encodes them.
public enum AppStateIndex {
    public static func encode(_ parts: [String]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (position, part) in parts.enumerated() {
            if position > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            for byte in part.utf8 {
                switch byte {
                case UInt8(ascii: "\""): out += Array("\\\"".utf8)
                case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
                case 0x08: out += Array("\\b".utf8)
                case 0x0C: out += Array("\\f".utf8)
                case 0x0A: out += Array("\\n".utf8)
                case 0x0D: out += Array("\\r".utf8)
                case 0x09: out += Array("\\t".utf8)
                case 0..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
                default: out.append(byte)
                }
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// The strings of an index; nil unless the bytes are a JSON array of strings.
    public static func decode(_ bytes: [UInt8]) -> [String]? {
        guard let array = (try? JSONValue.parse(bytes: bytes, maximumDepth: 2))?.arrayValue else { return nil }
        var parts: [String] = []
        for element in array {
            guard let text = element.stringValue else { return nil }
            parts.append(text)
        }
        return parts
    }
}
