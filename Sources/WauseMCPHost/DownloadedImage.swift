import WauseSupport

#if canImport(Glibc)
import Glibc
#endif

/// `whatsapp_download_media` over MCP: a downloaded image small enough for a model to look at
/// also comes back as an MCP `image` content block (base64 with its mimeType; MCP 2025-06-18
/// server/tools.mdx "Image Content"), beside the JSON result that names the file.
///
/// Why a content block and not media as MCP resources: every MCP client that calls tools shows
/// tool content, while resource support (listing, reading, subscriptions) varies from client to
/// client; and an agent already names media by message id, so a parallel resource namespace would
/// add a second way to the same bytes. Larger files, and media that are not images, stay a path
/// in the result, which the host reads from its own data directory only.
enum DownloadedImage {
    /// Above this a base64 block costs a model more context than a glance is worth (and some
    /// clients refuse large blocks); the file is still downloaded and named in the result.
    static let maxBytes = 1 << 20

    /// The image types MCP clients render.
    static let mimetypes: Set<String> = ["image/jpeg", "image/png", "image/webp", "image/gif"]

    /// The `image` block for a `whatsapp_download_media` result, nil for any other result, a
    /// type models are not shown, a file over `maxBytes`, or a file that cannot be read whole.
    static func contentBlock(method: String, result: JSONObject) -> JSONValue? {
        guard method == "whatsapp_download_media",
              let path = result["path"]?.stringValue,
              let mimetype = result["mimetype"]?.stringValue.map({ String($0.split(separator: ";")[0]).lowercased() }),
              mimetypes.contains(mimetype),
              let bytes = read(path, limit: maxBytes)
        else { return nil }
        return ["type": "image", "data": .string(Base64.encode(bytes)), "mimeType": .string(mimetype)]
    }

    /// The whole file if it is a regular file of at most `limit` bytes (checked on the open
    /// descriptor), else nil.
    private static func read(_ path: String, limit: Int) -> [UInt8]? {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { return nil }
        defer { Glibc.close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size <= limit else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + done, $0.count - done) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            done += count
        }
        return bytes
    }
}
