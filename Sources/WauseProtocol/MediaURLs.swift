import WauseSupport

/// The names media transfers go by: the upload token and path, and the query of a download by
/// direct path (whatsmeow upload.go rawUpload, download.go DownloadMediaWithPath). Strings only;
/// the engine's Media/ area and the simulator's media server do the HTTP.
public enum MediaURLs {
    /// base64url of `fileEncSha256`, *with* `=` padding (44 characters), as whatsmeow sends it
    /// (`base64.URLEncoding`). Baileys strips the padding; `uploadToken(_:padded: false)` gives
    /// that form, for a server that must accept both.
    public static func uploadToken(fileEncSha256: [UInt8], padded: Bool = true) -> String {
        base64URL(fileEncSha256, padded: padded)
    }

    /// `/mms/<mmsType>/<token>`, the path an upload is POSTed to.
    public static func uploadPath(type: MediaType, fileEncSha256: [UInt8]) -> String {
        "/mms/\(type.mmsType)/\(uploadToken(fileEncSha256: fileEncSha256))"
    }

    /// The upload's query items: `auth` (media_conn's, percent-encoded here) and `token`.
    public static func uploadQuery(auth: String, fileEncSha256: [UInt8]) -> String {
        "auth=\(percentEncoded(auth))&token=\(uploadToken(fileEncSha256: fileEncSha256))"
    }

    /// The query items whatsmeow appends to a direct path: `hash` (the upload token), `mms-type`
    /// and an empty `__wa-mms`.
    public static func downloadQueryItems(type: MediaType, fileEncSha256: [UInt8]) -> [(name: String, value: String)] {
        [("hash", uploadToken(fileEncSha256: fileEncSha256)), ("mms-type", type.mmsType), ("__wa-mms", "")]
    }

    /// The path and query of a download from a media host: the direct path (which normally carries
    /// its own `?…` query already; whatsmeow requires it to start with `/`) with the download
    /// items appended. Nil when the direct path does not start with `/`, so a remote party's
    /// value cannot name another host.
    public static func downloadPathAndQuery(directPath: String, type: MediaType, fileEncSha256: [UInt8]) -> String? {
        guard directPath.hasPrefix("/"), !directPath.hasPrefix("//") else { return nil }
        let items = downloadQueryItems(type: type, fileEncSha256: fileEncSha256)
            .map { "\($0.name)=\(percentEncoded($0.value))" }.joined(separator: "&")
        return directPath + (directPath.contains("?") ? "&" : "?") + items
    }

    /// The path and query of a blob's deletion (whatsmeow upload.go DeleteMedia, used after a
    /// history-sync blob is filed): `DELETE /mms/<mms-type>/<token>?token=<token>&d_md=<d_md>&auth=<auth>`,
    /// where `d_md` is the unpadded base64url of the direct path without its query.
    public static func deletePathAndQuery(type: MediaType, directPath: String, fileEncSha256: [UInt8], auth: String) -> String {
        let token = uploadToken(fileEncSha256: fileEncSha256)
        return "/mms/\(type.mmsType)/\(token)?token=\(token)&d_md=\(deleteDirectPathParameter(directPath))&auth=\(percentEncoded(auth))"
    }

    /// `d_md`: the direct path without its query, unpadded base64url.
    public static func deleteDirectPathParameter(_ directPath: String) -> String {
        let path = directPath.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return base64URL(Array(path.utf8), padded: false)
    }

    /// The direct path a `d_md` names (a server reads it back); nil when it is not base64url text.
    public static func directPath(deleteParameter value: String) -> String? {
        var text = String(value.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        while text.utf8.count % 4 != 0 { text += "=" }
        guard let bytes = Base64.decode(text) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// RFC 4648 §5 base64url.
    public static func base64URL(_ bytes: [UInt8], padded: Bool = true) -> String {
        var text = Array(Base64.encode(bytes).utf8)
        for index in text.indices {
            if text[index] == UInt8(ascii: "+") { text[index] = UInt8(ascii: "-") }
            if text[index] == UInt8(ascii: "/") { text[index] = UInt8(ascii: "_") }
        }
        if !padded { while text.last == UInt8(ascii: "=") { text.removeLast() } }
        return String(decoding: text, as: UTF8.self)
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters and `=` (which base64url
    /// tokens end in and whatsmeow sends as is).
    static func percentEncoded(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "="):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%\(hex[Int(byte >> 4)])\(hex[Int(byte & 15)])"
            }
        }
        return out
    }
}
