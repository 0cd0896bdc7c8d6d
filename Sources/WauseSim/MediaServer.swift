import Crypto
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import WauseProtocol
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// wause-sim's media host: HTTPS on 127.0.0.1, the host its `media_conn` answers name
/// (`MediaStore` holds the blobs and the auths it hands out).
///
/// - `POST /mms/<mms-type>/<token>?auth=…&token=…` (whatsmeow upload.go rawUpload; Baileys
///   getWAUploadToServer): the body is the encrypted file (ciphertext ‖ 10-byte MAC). It is written
///   to disk as it arrives and hashed on the way, never held whole; the auth must be one
///   `media_conn` handed out and still valid (else 401, which makes clients fetch a new one), and
///   the token base64url(SHA-256(body)) (with or without `=` padding, whatsmeow keeps it and
///   Baileys strips it), else 400 and nothing is stored. 200 answers whatsmeow's UploadResponse
///   JSON `{url, direct_path, handle, object_id}`.
/// - `GET <direct_path>&hash=…&mms-type=…&__wa-mms=` (whatsmeow download.go DownloadMediaWithPath):
///   the bytes, streamed from the file with the connection's backpressure; 404 for a path never
///   issued, 410 for one expired by the admin API.
///
/// One request per connection (`Connection: close`): clients open one per transfer anyway.
final class MediaServer: Sendable {
    let port: Int
    let store: MediaStore
    private let channel: Channel
    private let logger: Logger

    /// Bytes read from the file per body part of a download.
    static let chunkSize = 64 * 1024

    private init(port: Int, store: MediaStore, channel: Channel, logger: Logger) {
        self.port = port
        self.store = store
        self.channel = channel
        self.logger = logger
    }

    /// `https://127.0.0.1:P`: the start-up line and the base of upload answers' `url`.
    var baseURL: String { "https://127.0.0.1:\(port)" }
    /// What `media_conn` names as the host: clients put it between `https://` and the path.
    var hostname: String { "127.0.0.1:\(port)" }

    static func start(port: Int, store: MediaStore, tls: NIOSSLContext, logger: Logger) async throws -> MediaServer {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        let media = MediaServer(port: server.channel.localAddress?.port ?? port, store: store, channel: server.channel, logger: logger)
        Task {
            try? await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await media.serve(connection) }
                    }
                }
            }
        }
        return media
    }

    /// Stops accepting; transfers under way finish on their own.
    func close() async {
        try? await channel.close()
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var parts = inbound.makeAsyncIterator()
                guard case .head(let head)? = try await parts.next() else { return }
                let (path, query) = MediaServer.split(head.uri)
                let isUpload = head.method == .POST && path.hasPrefix("/mms/")
                let isDelete = head.method == .DELETE && path.hasPrefix("/mms/")
                let kind: MediaFaults.Direction? = isUpload ? .upload : isDelete ? .delete
                    : head.method == .GET || head.method == .HEAD ? .download : nil
                if let kind, let fault = store.faults.begin(kind) {
                    switch fault {
                    case .status(let code):
                        if isUpload, code == 401 || code == 403, let auth = query["auth"] { store.revokeAuth(auth) }
                        while let part = try await parts.next() { if case .end = part { break } }
                        try await MediaServer.respond(outbound, status: HTTPResponseStatus(statusCode: code),
                                                      json: MediaServer.error("fault", "HTTP \(code) played by POST /media/faults"))
                    case .drop:
                        logger.info("media: dropping a\(kind == .upload ? "n upload" : kind == .delete ? " deletion" : " download") (POST /media/faults)")
                    case .hold:
                        logger.info("media: holding an upload open (POST /media/faults)")
                        await store.faults.hold()
                    }
                    return
                }
                switch head.method {
                case .POST where path.hasPrefix("/mms/"):
                    let (status, body) = try await upload(path: path, query: query, parts: &parts)
                    try await MediaServer.respond(outbound, status: status, json: body)
                case .DELETE where path.hasPrefix("/mms/"):
                    while let part = try await parts.next() { if case .end = part { break } }
                    let (status, body) = delete(path: path, query: query)
                    try await MediaServer.respond(outbound, status: status, json: body)
                case .GET, .HEAD:
                    while let part = try await parts.next() { if case .end = part { break } }
                    try await download(path: path, query: query, headOnly: head.method == .HEAD, outbound: outbound,
                                       channel: connection.channel)
                default:
                    while let part = try await parts.next() { if case .end = part { break } }
                    try await MediaServer.respond(outbound, status: .methodNotAllowed,
                                                  json: MediaServer.error("invalid_request", "\(head.method) \(path) is not served here"))
                }
            }
        } catch {
            // A client that went away or did not trust the certificate: nothing to answer.
            logger.debug("media: connection ended: \(error)")
        }
    }

    // MARK: Upload

    private func upload(path: String, query: [String: String],
                        parts: inout NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator) async throws
        -> (HTTPResponseStatus, JSONValue) {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // ["", "mms", type, token]
        var refusal: (HTTPResponseStatus, JSONValue)?
        if segments.count != 4 || !MediaStore.mmsTypes.contains(segments[2]) || segments[3].isEmpty {
            refusal = (.notFound, MediaServer.error("not_found", "uploads go to /mms/<mms-type>/<token>"))
        } else if !(query["auth"].map(store.isValidAuth) ?? false) {
            refusal = (.unauthorized, MediaServer.error("unauthorized", "auth is missing, unknown or expired: query media_conn again"))
        }
        let pathToken = segments.count == 4 ? MediaServer.percentDecode(segments[3]) : ""
        if refusal == nil, let given = query["token"], MediaServer.unpadded(given) != MediaServer.unpadded(pathToken) {
            refusal = (.badRequest, MediaServer.error("invalid_request", "the token in the path and in the query differ"))
        }
        if let refusal {
            // Read and drop the body so the client gets the answer rather than a reset.
            while let part = try await parts.next() { if case .end = part { break } }
            return refusal
        }

        let file = try store.beginUpload()
        var committed = false
        defer {
            if !committed { unlink(file.path) }
        }
        var hasher = SHA256()
        var size: Int64 = 0
        var failure: String?
        do {
            defer { Glibc.close(file.descriptor) }
            while let part = try await parts.next() {
                guard case .body(let buffer) = part else {
                    if case .end = part { break }
                    continue
                }
                buffer.withUnsafeReadableBytes { bytes in
                    hasher.update(bufferPointer: bytes)
                    if failure == nil, !MediaServer.writeAll(file.descriptor, bytes) {
                        failure = String(cString: strerror(errno))
                    }
                }
                size += Int64(buffer.readableBytes)
            }
        }
        if let failure { return (.internalServerError, MediaServer.error("internal", "cannot store the upload: \(failure)")) }
        let digest = Array(hasher.finalize())
        guard size > 0 else { return (.badRequest, MediaServer.error("invalid_request", "the body is empty")) }
        guard MediaServer.unpadded(pathToken) == MediaServer.unpadded(MediaServer.base64URL(digest)) else {
            return (.badRequest, MediaServer.error("invalid_request", "the token is not base64url(SHA-256(body))"))
        }
        let directPath = try store.commit(temporary: file.path, owners: query["auth"].flatMap(store.account(ofAuth:)).map { [$0] } ?? [])
        committed = true
        let handle = MediaStore.id(of: directPath) ?? ""
        logger.info("media: stored \(size) bytes at \(directPath)")
        return (.ok, ["url": .string(baseURL + directPath), "direct_path": .string(directPath), "handle": .string(handle),
                      "object_id": .string(handle)])
    }

    // MARK: Delete

    /// `DELETE /mms/<mms-type>/<token>?token=…&d_md=…&auth=…` (whatsmeow upload.go DeleteMedia; a
    /// companion deletes a history-sync blob once it has filed it): `d_md` names the blob (its
    /// direct path without the query, base64url), `token` is base64url(SHA-256) of its bytes. The
    /// auth must be valid (401) and its account one the blob belongs to — its uploader's, or the
    /// account a phone put it up for (403); 404 for a blob never issued or already deleted.
    /// 200 `{ok, direct_path, deleted: true}`: the bytes are gone and a download answers 404.
    private func delete(path: String, query: [String: String]) -> (HTTPResponseStatus, JSONValue) {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard segments.count == 4, MediaStore.mmsTypes.contains(segments[2]), !segments[3].isEmpty else {
            return (.notFound, MediaServer.error("not_found", "deletions go to /mms/<mms-type>/<token>"))
        }
        guard let auth = query["auth"], store.isValidAuth(auth) else {
            return (.unauthorized, MediaServer.error("unauthorized", "auth is missing, unknown or expired: query media_conn again"))
        }
        let pathToken = MediaServer.percentDecode(segments[3])
        guard let given = query["token"], MediaServer.unpadded(given) == MediaServer.unpadded(pathToken) else {
            return (.badRequest, MediaServer.error("invalid_request", "token is missing, or the path and query tokens differ"))
        }
        guard let encoded = query["d_md"], let directPath = MediaURLs.directPath(deleteParameter: encoded), MediaStore.id(of: directPath) != nil
        else { return (.badRequest, MediaServer.error("invalid_request", "d_md must be base64url of a direct path this host issued")) }
        guard case .found(let file, _) = store.lookup(directPath: directPath) else {
            return (.notFound, MediaServer.error("not_found", "no media at \(directPath)"))
        }
        guard let account = store.account(ofAuth: auth), store.owners(directPath: directPath).contains(account) else {
            return (.forbidden, MediaServer.error("forbidden", "the media at \(directPath) is not this account's to delete"))
        }
        guard let digest = MediaServer.sha256(file: file), MediaServer.unpadded(MediaServer.base64URL(digest)) == MediaServer.unpadded(pathToken)
        else { return (.badRequest, MediaServer.error("invalid_request", "the token is not base64url(SHA-256) of the media at \(directPath)")) }
        guard store.delete(directPath: directPath) else { return (.notFound, MediaServer.error("not_found", "no media at \(directPath)")) }
        logger.info("media: \(account) deleted \(directPath)")
        return (.ok, ["ok": true, "direct_path": .string(directPath), "deleted": true])
    }

    private static func sha256(file path: String) -> [UInt8]? {
        guard let file = MediaFile(path: path) else { return nil }
        defer { file.close() }
        var hasher = SHA256()
        while let piece = file.read(chunkSize) { piece.withUnsafeBytes { hasher.update(bufferPointer: $0) } }
        return Array(hasher.finalize())
    }

    // MARK: Download

    private func download(path: String, query: [String: String], headOnly: Bool,
                          outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, channel: any Channel) async throws {
        switch store.lookup(directPath: path) {
        case .unknown:
            try await MediaServer.respond(outbound, status: .notFound, json: MediaServer.error("not_found", "no media at \(path)"))
        case .expired:
            try await MediaServer.respond(outbound, status: .gone, json: MediaServer.error("gone", "the media at \(path) has expired"))
        case .found(let file, let size):
            let descriptor = open(file, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                // Expired between the lookup and the open.
                try await MediaServer.respond(outbound, status: .gone, json: MediaServer.error("gone", "the media at \(path) has expired"))
                return
            }
            defer { Glibc.close(descriptor) }
            // Written on the channel itself, each write's future awaited: the async writer only
            // suspends on the channel's writability, which (measured) let a 64 MB file pile up in
            // memory ahead of a slower reader. At most `window` chunks are in flight.
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: [
                "Content-Type": "application/octet-stream", "Content-Length": String(size), "Connection": "close",
            ])
            try await channel.writeAndFlush(HTTPServerResponsePart.head(head)).get()
            if !headOnly {
                let window = 4
                var inFlight: [EventLoopFuture<Void>] = []
                while true {
                    var buffer = channel.allocator.buffer(capacity: MediaServer.chunkSize)
                    let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: MediaServer.chunkSize) { space in
                        var result: Int
                        repeat { result = read(descriptor, space.baseAddress!, MediaServer.chunkSize) } while result < 0 && errno == EINTR
                        return max(result, 0)
                    }
                    if count == 0 { break }
                    inFlight.append(channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer))))
                    if inFlight.count >= window { try await inFlight.removeFirst().get() }
                }
                for future in inFlight { try await future.get() }
            }
            try await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
        }
    }

    // MARK: Helpers

    private static func respond(_ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, status: HTTPResponseStatus,
                                json: JSONValue) async throws {
        let body = Array(json.serialized.utf8)
        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: [
            "Content-Type": "application/json", "Content-Length": String(body.count), "Connection": "close",
        ])))
        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
        try await outbound.write(.end(nil))
    }

    static func error(_ code: String, _ message: String) -> JSONValue {
        ["code": .string(code), "message": .string(message)]
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            let result = write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { return false }
            done += result
        }
        return true
    }

    /// The path and the query's values (percent-decoded; `+` stays `+`, since a base64 auth holds it).
    static func split(_ uri: String) -> (path: String, query: [String: String]) {
        let halves = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if halves.count == 2 {
            for pair in halves[1].split(separator: "&") {
                let nameValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[percentDecode(String(nameValue[0]))] = nameValue.count == 2 ? percentDecode(String(nameValue[1])) : ""
            }
        }
        return (String(halves[0]), query)
    }

    static func percentDecode(_ text: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func unpadded(_ token: String) -> String {
        var token = Substring(token)
        while token.hasSuffix("=") { token = token.dropLast() }
        return String(token)
    }

    /// URL-safe base64 with padding, as whatsmeow writes the token (`base64.URLEncoding`).
    static func base64URL(_ bytes: [UInt8]) -> String {
        String(Base64.encode(bytes).map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }
}
