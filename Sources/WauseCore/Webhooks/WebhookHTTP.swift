import AsyncHTTPClient
import NIOCore
import WauseSupport

/// The POSTs of webhook attempts, injected into `Webhooks` as a value (tests hand in their own).
/// `live` is one async-http-client `HTTPClient` for the engine's webhooks (not one per attempt):
/// its pool keeps connections alive between deliveries and opens at most `Webhooks.concurrency`
/// to one host (the worker never has more in flight, and at most `Webhooks.perWebhook` to one
/// webhook; two webhooks on one host must not wait on each other's connections), and `shutdown`
/// — at the engine's close, after the worker stopped — closes them. One per engine, not one per
/// process: with many accounts, each account's worker keeps its own bound. As `MediaHTTP` does: TLS verified against the
/// system roots, redirects not followed (a 3xx is an answer, and fails the delivery: the signed
/// body must not be replayed at a place the operator did not name), the answer's body read only
/// up to a bound and dropped, and one deadline over the whole exchange so a slow endpoint holds a
/// slot for at most `timeout`.
struct WebhookHTTP: Sendable {
    /// POSTs `body` with `headers`; answers the status and the `Retry-After` header, or throws
    /// when there is no answer (timeout, connection refused or dropped, TLS).
    var post: @Sendable (_ url: String, _ headers: [(String, String)], _ body: [UInt8]) async throws -> (status: Int, retryAfter: String?)
    /// Lets the connections go; a `post` after it throws. Blocks until done (never called on an
    /// event loop: the engine closes from its caller's thread or a task).
    var shutdown: @Sendable () -> Void = {}

    /// Most of an answer's body read (and thrown away) before the connection is let go.
    static let answerLimit = 64 * 1024
    static let timeout: Duration = .seconds(10)
    /// Idle keep-alive connections are closed after this.
    static let idleTimeout: Duration = .seconds(60)

    static func live(timeout: Duration = WebhookHTTP.timeout) -> WebhookHTTP {
        var configuration = HTTPClient.Configuration(tlsConfiguration: .makeClientConfiguration(), redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .milliseconds(timeout.milliseconds), read: .milliseconds(timeout.milliseconds))
        configuration.connectionPool = .init(idleTimeout: .milliseconds(idleTimeout.milliseconds),
                                             concurrentHTTP1ConnectionsPerHostSoftLimit: Webhooks.concurrency)
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        return WebhookHTTP(post: { url, headers, body in
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "wause-webhooks")
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await http.execute(request, timeout: .milliseconds(timeout.milliseconds))
            let retryAfter = response.headers.first(name: "Retry-After")
            var read = 0
            for try await piece in response.body {
                read += piece.readableBytes
                if read > answerLimit { break }
            }
            return (Int(response.status.code), retryAfter)
        }, shutdown: {
            // Idempotent in effect: a second shutdown only reports that it already happened.
            try? http.syncShutdown()
        })
    }

    /// A short reason for a failed exchange, for `last_error` (no URL: it may carry a token).
    static func describe(_ error: any Error) -> String {
        if let client = error as? HTTPClientError {
            switch client {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "timeout"
            case .remoteConnectionClosed: return "connection closed by the endpoint"
            default: return "HTTP client error: \(client)"
            }
        }
        let text = "\(error)"
        if text.contains("connectTimeout") || text.contains("Timeout") { return "timeout" }
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return "connection failed: \(text.prefix(200))"
    }
}
