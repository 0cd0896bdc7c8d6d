import AsyncHTTPClient
import NIOCore
import WauseSupport

/// The POST of one webhook attempt, injected into `Webhooks` as a value (tests hand in their own).
/// `live` uses async-http-client as `MediaHTTP` does: TLS verified against the system roots,
/// redirects not followed (a 3xx is an answer, and fails the delivery: the signed body must not be
/// replayed at a place the operator did not name), the answer's body read only up to a bound and
/// dropped, and one deadline over the whole exchange so a slow endpoint holds a slot for at most
/// `timeout`.
struct WebhookHTTP: Sendable {
    /// POSTs `body` with `headers`; answers the status and the `Retry-After` header, or throws
    /// when there is no answer (timeout, connection refused or dropped, TLS).
    var post: @Sendable (_ url: String, _ headers: [(String, String)], _ body: [UInt8]) async throws -> (status: Int, retryAfter: String?)

    /// Most of an answer's body read (and thrown away) before the connection is let go.
    static let answerLimit = 64 * 1024
    static let timeout: Duration = .seconds(10)

    static func live(timeout: Duration = WebhookHTTP.timeout) -> WebhookHTTP {
        WebhookHTTP(post: { url, headers, body in
            var configuration = HTTPClient.Configuration(tlsConfiguration: .makeClientConfiguration(), redirectConfiguration: .disallow)
            configuration.timeout = .init(connect: .milliseconds(timeout.milliseconds), read: .milliseconds(timeout.milliseconds))
            // One client per attempt, shut down after it (an HTTPClient must be shut down before it
            // is released); webhooks are few and far between next to the engine's own traffic.
            let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            do {
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
                try await http.shutdown()
                return (Int(response.status.code), retryAfter)
            } catch {
                try? await http.shutdown()
                throw error
            }
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
