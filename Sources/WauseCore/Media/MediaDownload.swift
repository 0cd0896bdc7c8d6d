import Synchronization
import WauseCrypto
import WauseProtocol
import WauseSupport
import WauseTransport
#if canImport(Glibc)
import Glibc
#endif

/// Downloads a received file (whatsmeow download.go DownloadMediaWithPath, downloadAndDecrypt):
/// GET `<direct_path>&hash=…&mms-type=…` from a host `media_conn` named (the message's `url` only
/// as a fallback, and only when its host is one of those: a remote party never chooses where we
/// dial), streamed through MediaDecryptor into `<name>.part` (0600) and renamed to its final name
/// only after every check (enc hash, MAC, padding, plaintext hash) passed, so a failed download
/// leaves nothing that looks whole. Files live under `<data_dir>/media/<chat>/`, named by message
/// id, so two chats cannot collide.
struct MediaDownload: Sendable {
    let connection: MediaConnection
    let http: MediaHTTP
    let environment: Environment
    let logger: Logger
    /// `<data_dir>/media`.
    let mediaDirectory: String
    let maxBytes: Int64

    struct Downloaded: Sendable, Equatable { var path: String; var size: Int64; var sha256: [UInt8] }

    func download(_ stored: Store.StoredMedia) async throws(WauseError) -> Downloaded {
        let media = stored.media
        guard let type = media.cryptoType, let key = media.mediaKey, let encSha256 = media.encSha256 else {
            throw .invalidRequest("message \(stored.messageID) has no file to download", details: ["message_id": .string(stored.messageID)])
        }
        if let size = media.size, size > maxBytes {
            throw WauseError(.mediaTooLarge, "the file is \(size) bytes; media_max_bytes allows \(maxBytes)",
                             details: ["size": .int(size), "limit": .int(maxBytes)])
        }
        let folder = mediaDirectory + "/" + MediaDownload.safeName(stored.chatJID)
        let final = folder + "/" + MediaDownload.safeName(stored.messageID) + MediaDownload.fileExtension(media.mimetype)
        try MediaDownload.makeDirectory(mediaDirectory)
        try MediaDownload.makeDirectory(folder)
        var lastProblem = "no media host answered"
        // The host answered but the file failed its checks (or a 4xx): asking again will not help,
        // which app state (AppStateSync) treats as a bad blob rather than a network problem.
        var unusable = false
        for round in 0..<2 {
            let conn = try await connection.current()
            var urls: [String] = []
            if let directPath = media.directPath,
               let pathAndQuery = MediaURLs.downloadPathAndQuery(directPath: directPath, type: type, fileEncSha256: encSha256) {
                urls = conn.hosts.map { "https://\($0.hostname)\(pathAndQuery)" }
            }
            if let url = media.url, let host = MediaDownload.host(of: url), conn.hosts.contains(where: { $0.hostname == host }) {
                urls.append(url)
            }
            guard !urls.isEmpty else {
                throw .invalidRequest("message \(stored.messageID) names no usable download location", details: ["message_id": .string(stored.messageID)])
            }
            var refused = false
            urls: for url in urls {
                // A 5xx or a network error is tried again on the same URL with backoff, as uploads
                // are (MediaUpload; whatsmeow download.go retries retryable download errors).
                for retry in 0..<MediaUpload.attemptsPerHost {
                    if retry > 0 {
                        do { try await environment.sleep(MediaUpload.firstBackoff * (1 << (retry - 1))) } catch {
                            throw WauseError(.internal, "the download was cancelled")
                        }
                    }
                    let outcome = try await attempt(url: url, final: final, key: key, type: type, encSha256: encSha256, expected: media.sha256)
                    switch outcome {
                    case .done(let result): return result
                    case .refused(let problem): lastProblem = problem; refused = true; break urls
                    case .expired:
                        throw WauseError(.notFound, "the media of message \(stored.messageID) has expired on the server",
                                         details: ["message_id": .string(stored.messageID), "reason": "media_expired"])
                    case .failed(let problem): lastProblem = problem; unusable = true; continue urls
                    case .retryable(let problem):
                        lastProblem = problem
                        logger.warning("media: \(problem)")
                    }
                }
            }
            guard refused, round == 0 else { break }
            connection.invalidate()
        }
        throw WauseError(.notConnected, "the file could not be downloaded: \(lastProblem)",
                         details: ["reason": unusable ? "unusable" : "unreachable"])
    }

    /// `retryable`: a 5xx or a network error, worth another try; `failed`: the host answered but
    /// nothing better will come from asking it again (a 4xx, a file failing its checks).
    private enum Outcome { case done(Downloaded), refused(String), expired, failed(String), retryable(String) }

    private func attempt(url: String, final: String, key: [UInt8], type: WauseProtocol.MediaType, encSha256: [UInt8],
                         expected: [UInt8]?) async throws(WauseError) -> Outcome {
        let part = final + ".part"
        let descriptor = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw .internal("cannot create \(part): \(String(cString: strerror(errno)))") }
        var keep = false
        defer {
            close(descriptor)
            if !keep { unlink(part) }
        }
        let decryptor: Mutex<MediaDecryptor>
        do { decryptor = Mutex(try MediaDecryptor(mediaKey: key, type: type)) } catch {
            throw .invalidRequest("the message's media key is unusable: \(error)")
        }
        let limit = MediaCrypto.encryptedLength(plaintextLength: UInt64(maxBytes))
        let status: Int
        do {
            status = try await http.download(url) { piece in
                try decryptor.withLock { decryptor in
                    guard decryptor.bytesReceived + UInt64(piece.count) <= limit else {
                        throw WauseError(.mediaTooLarge, "the download is larger than media_max_bytes allows")
                    }
                    let plain = decryptor.update(piece)
                    try MediaDownload.writeAll(descriptor, plain, path: part)
                }
            }
        } catch let error as WauseError {
            if error.code == .mediaTooLarge || error.code == .internal { throw error }
            return .retryable(error.message)
        } catch {
            return .retryable("download from \(MediaDownload.host(of: url) ?? url) failed: \(error)")
        }
        switch status {
        case 200: break
        case 401, 403: return .refused("HTTP \(status) from \(MediaDownload.host(of: url) ?? url)")
        case 404, 410: return .expired
        case 500...: return .retryable("HTTP \(status) from \(MediaDownload.host(of: url) ?? url)")
        default: return .failed("HTTP \(status) from \(MediaDownload.host(of: url) ?? url)")
        }
        let result: MediaDecryptionResult
        do {
            let (tail, checked) = try decryptor.withLock { decryptor throws(MediaCryptoError) in
                try decryptor.finish(expectedFileEncSha256: encSha256, expectedFileSha256: expected)
            }
            try MediaDownload.writeAll(descriptor, tail, path: part)
            result = checked
        } catch let error as WauseError {
            throw error
        } catch {
            return .failed("the downloaded file failed its check: \(error)")
        }
        guard fsync(descriptor) == 0, rename(part, final) == 0 else {
            throw .internal("cannot keep \(final): \(String(cString: strerror(errno)))")
        }
        keep = true
        return .done(Downloaded(path: final, size: Int64(result.fileLength), sha256: result.fileSha256))
    }

    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(WauseError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            guard written > 0 else { throw .internal("writing \(path) failed: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    static func makeDirectory(_ path: String) throws(WauseError) {
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw .internal("cannot create \(path): \(String(cString: strerror(errno)))") }
    }

    /// A remote-chosen name (message id, chat JID) as one safe path component: letters, digits,
    /// `-`, `_`, `.` and `@` kept, anything else as `_XX`, never `.` or `..` alone.
    static func safeName(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "@"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: "."): out += "_2E"
            default: out += "_" + Hex.encode([byte]).uppercased()
            }
        }
        return out.isEmpty ? "_" : out
    }

    /// The file extension for a mimetype the media types use; `.bin` for others.
    static func fileExtension(_ mimetype: String?) -> String {
        let base = mimetype?.split(separator: ";").first.map { $0.trimmingSpaces().lowercased() } ?? ""
        let known: [String: String] = [
            "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif", "video/mp4": ".mp4",
            "video/quicktime": ".mov", "video/3gpp": ".3gp", "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a",
            "audio/aac": ".aac", "application/pdf": ".pdf", "text/plain": ".txt", "application/zip": ".zip",
        ]
        return known[base] ?? ".bin"
    }

    /// The host (with port) of an `https://` URL; nil for any other scheme.
    static func host(of url: String) -> String? {
        guard url.hasPrefix("https://") else { return nil }
        let rest = url.dropFirst("https://".count)
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return host.isEmpty || host.contains("@") ? nil : String(host)
    }
}
