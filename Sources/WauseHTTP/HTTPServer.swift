import CMicroHTTPD
import Synchronization
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP request as the handlers see it: the whole body has been read (up to the size limit).
public struct HTTPRequest: Sendable {
    public let method: String
    public let path: String
    public let body: [UInt8]
    /// Set when the body was larger than the server's limit (the body is then empty).
    public let bodyTooLarge: Bool
    fileprivate let headerLookup: @Sendable (String) -> String?
    fileprivate let queryLookup: @Sendable (String) -> String?

    /// A request header, case-insensitively.
    public func header(_ name: String) -> String? { headerLookup(name) }
    /// A query-string argument.
    public func query(_ name: String) -> String? { queryLookup(name) }

    /// For tests and tools that build requests without a socket.
    public init(method: String, path: String, headers: [String: String] = [:], query: [String: String] = [:],
                body: [UInt8] = [], bodyTooLarge: Bool = false) {
        self.method = method
        self.path = path
        self.body = body
        self.bodyTooLarge = bodyTooLarge
        var lowered: [String: String] = [:]
        for (key, value) in headers { lowered[key.lowercased()] = value }
        let frozen = lowered
        headerLookup = { frozen[$0.lowercased()] }
        queryLookup = { query[$0] }
    }

    fileprivate init(method: String, path: String, body: [UInt8], bodyTooLarge: Bool,
                     header: @escaping @Sendable (String) -> String?, query: @escaping @Sendable (String) -> String?) {
        self.method = method
        self.path = path
        self.body = body
        self.bodyTooLarge = bodyTooLarge
        headerLookup = header
        queryLookup = query
    }
}

/// A source of bytes for a streamed response. `next()` runs on the connection's own thread and
/// may block until it has something; nil ends the stream. `cancel()` makes a blocked `next()`
/// return nil (server shutdown).
public protocol HTTPStreamSource: AnyObject, Sendable {
    func next() -> [UInt8]?
    func cancel()
    /// Called once when the connection is finished with the stream (closed by either side).
    func finished()
}

public struct HTTPResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        case stream(HTTPStreamSource)
    }

    public var status: Int
    public var headers: [(String, String)]
    public var body: Body

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = .bytes(body)
    }

    public init(status: Int, headers: [(String, String)], stream: HTTPStreamSource) {
        self.status = status
        self.headers = headers
        self.body = .stream(stream)
    }

    public static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(value.serialized.utf8))
    }

    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// libmicrohttpd in thread-per-connection mode: each connection has its own thread, so a handler
/// or an SSE stream may block without holding up other requests (no busy-waiting callbacks).
/// Bodies are gathered up to `maximumBodySize`; larger ones are drained and answered by the
/// handler (which sees `bodyTooLarge`), normally with 413.
public final class HTTPServer: Sendable {
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    let handler: Handler
    let maximumBodySize: Int
    /// The MHD daemon handle. Only `start` and `stop` take this lock (so `stop` may hold it while
    /// MHD joins the connection threads); the port has a lock of its own.
    private let daemon = Mutex<OpaquePointer?>(nil)
    private let boundPort = Mutex<UInt16>(0)
    private struct Streams {
        var open: [ObjectIdentifier: HTTPStreamSource] = [:]
        var stopping = false
    }
    private let streams = Mutex(Streams())
    public var port: UInt16 { boundPort.withLock { $0 } }

    public init(maximumBodySize: Int, handler: @escaping Handler) {
        self.maximumBodySize = maximumBodySize
        self.handler = handler
    }

    /// Binds `host` (an IP literal) and `port` (0 picks a free one) and starts serving.
    public func start(host: String, port: UInt16, connectionLimit: UInt32 = 256) throws(WauseError) {
        // poll(2), not select(2): select cannot watch a descriptor at or past FD_SETSIZE (1024), and
        // MHD refuses to start when its listening socket is one — which happens in any process
        // holding many sockets and databases (many accounts, or the test runner's parallel suites).
        let flags = MHD_USE_THREAD_PER_CONNECTION.rawValue | MHD_USE_INTERNAL_POLLING_THREAD.rawValue
            | MHD_USE_POLL.rawValue | MHD_USE_ERROR_LOG.rawValue
        try daemon.withLock { (current: inout OpaquePointer?) throws(WauseError) in
            let context = Unmanaged.passUnretained(self).toOpaque()
            guard let daemon = wause_mhd_start(UInt32(flags), host, port, httpAccessHandler, context,
                                               httpRequestCompleted, context, connectionLimit)
            else {
                throw WauseError(.internal, "cannot listen on \(host):\(port) (address in use, or not a local IP address?)")
            }
            current = daemon
            let bound = wause_mhd_bound_port(daemon)
            boundPort.withLock { $0 = bound }
        }
    }

    /// Ends every open stream, then stops the daemon (which joins the connection threads).
    public func stop() {
        let active = streams.withLock { streams -> [HTTPStreamSource] in
            streams.stopping = true
            return Array(streams.open.values)
        }
        for stream in active { stream.cancel() }
        daemon.withLock { daemon in
            if let handle = daemon {
                MHD_stop_daemon(handle)
                daemon = nil
            }
        }
    }

    fileprivate func register(_ stream: HTTPStreamSource) -> Bool {
        streams.withLock { streams in
            guard !streams.stopping else { return false }
            streams.open[ObjectIdentifier(stream)] = stream
            return true
        }
    }

    fileprivate func unregister(_ stream: HTTPStreamSource) {
        _ = streams.withLock { $0.open.removeValue(forKey: ObjectIdentifier(stream)) }
    }
}

/// Per-request state kept in MHD's `con_cls` between calls of the access handler.
private final class PendingRequest {
    var body: [UInt8] = []
    var tooLarge = false
}

/// Keeps a stream (and the server) alive while MHD reads from it.
private final class StreamContext {
    let server: HTTPServer
    let source: HTTPStreamSource
    var pending: [UInt8] = []

    init(server: HTTPServer, source: HTTPStreamSource) {
        self.server = server
        self.source = source
    }
}

private func lookup(_ connection: OpaquePointer?, _ kind: MHD_ValueKind, _ key: String) -> String? {
    guard let value = MHD_lookup_connection_value(connection, kind, key) else { return nil }
    return String(decoding: UnsafeRawBufferPointer(start: value, count: strlen(value)), as: UTF8.self)
}

/// Header and query values are read eagerly: MHD's connection pointer is only valid on this
/// thread during this callback, and the handlers may pass the request elsewhere.
private func snapshot(_ connection: OpaquePointer?, kind: MHD_ValueKind, names: [String]) -> [String: String] {
    var values: [String: String] = [:]
    for name in names { if let value = lookup(connection, kind, name) { values[name.lowercased()] = value } }
    return values
}

/// Every header any handler reads. Reading a fixed list keeps lookups O(1) and explicit.
let interestingHeaders = [
    "Host", "Origin", "Authorization", "Accept", "Content-Type", "Content-Length", "Mcp-Session-Id",
    "MCP-Protocol-Version", "Last-Event-ID", "User-Agent",
]
// `direct_path`: wause-sim's `DELETE /media?direct_path=…`.
let interestingQueryArguments = ["token", "format", "after", "limit", "direct_path", "account"]

private let httpAccessHandler: MHD_AccessHandlerCallback = {
    context, connection, url, method, _, uploadData, uploadDataSize, connectionContext in
    let server = Unmanaged<HTTPServer>.fromOpaque(context!).takeUnretainedValue()
    guard let connectionContext, let uploadDataSize else { return .NO }

    if connectionContext.pointee == nil {
        let pending = PendingRequest()
        // Refuse an announced oversize body before reading it.
        if let length = lookup(connection, .HEADER_KIND, "Content-Length").flatMap({ Int($0) }), length > server.maximumBodySize {
            pending.tooLarge = true
        }
        connectionContext.pointee = Unmanaged.passRetained(pending).toOpaque()
        return .YES
    }
    let pending = Unmanaged<PendingRequest>.fromOpaque(connectionContext.pointee!).takeUnretainedValue()
    if uploadDataSize.pointee > 0 {
        if !pending.tooLarge, let uploadData {
            if pending.body.count + uploadDataSize.pointee > server.maximumBodySize {
                pending.tooLarge = true
                pending.body = []
            } else {
                pending.body.append(contentsOf: UnsafeRawBufferPointer(start: uploadData, count: uploadDataSize.pointee))
            }
        }
        uploadDataSize.pointee = 0
        return .YES
    }

    let headers = snapshot(connection, kind: .HEADER_KIND, names: interestingHeaders)
    let query = snapshot(connection, kind: .GET_ARGUMENT_KIND, names: interestingQueryArguments)
    let request = HTTPRequest(
        method: method.map { String(cString: $0) } ?? "GET",
        path: url.map { String(cString: $0) } ?? "/",
        body: pending.body, bodyTooLarge: pending.tooLarge,
        header: { headers[$0.lowercased()] }, query: { query[$0] })
    return queue(server.handler(request), on: connection, server: server)
}

private func queue(_ response: HTTPResponse, on connection: OpaquePointer?, server: HTTPServer) -> MHD_Result {
    let mhdResponse: OpaquePointer?
    switch response.body {
    case .bytes(let bytes):
        mhdResponse = bytes.withUnsafeBytes {
            MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: $0.baseAddress), .RESPMEM_MUST_COPY)
        }
    case .stream(let source):
        guard server.register(source) else {
            source.finished()
            return queue(.text(503, "server is shutting down\n"), on: connection, server: server)
        }
        let streamContext = Unmanaged.passRetained(StreamContext(server: server, source: source)).toOpaque()
        mhdResponse = MHD_create_response_from_callback(wause_mhd_size_unknown, 16 * 1024, streamReader, streamContext, streamFinished)
    }
    guard let mhdResponse else { return .NO }
    for (name, value) in response.headers { MHD_add_response_header(mhdResponse, name, value) }
    let result = MHD_queue_response(connection, UInt32(response.status), mhdResponse)
    MHD_destroy_response(mhdResponse)
    return result
}

private let streamReader: MHD_ContentReaderCallback = { context, _, buffer, maximum in
    let stream = Unmanaged<StreamContext>.fromOpaque(context!).takeUnretainedValue()
    if stream.pending.isEmpty {
        guard let chunk = stream.source.next() else { return wause_mhd_end_of_stream }
        stream.pending = chunk
    }
    let count = min(maximum, stream.pending.count)
    stream.pending.withUnsafeBytes { buffer!.update(from: $0.baseAddress!.assumingMemoryBound(to: CChar.self), count: count) }
    stream.pending.removeFirst(count)
    return count
}

private let streamFinished: MHD_ContentReaderFreeCallback = { context in
    let stream = Unmanaged<StreamContext>.fromOpaque(context!).takeRetainedValue()
    stream.server.unregister(stream.source)
    stream.source.finished()
}

private let httpRequestCompleted: MHD_RequestCompletedCallback = { _, _, connectionContext, _ in
    guard let connectionContext, let pointer = connectionContext.pointee else { return }
    Unmanaged<PendingRequest>.fromOpaque(pointer).release()
    connectionContext.pointee = nil
}
