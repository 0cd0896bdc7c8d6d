import WauseProtocol
import WauseSupport
import WauseTransport

/// Uploads an encrypted file (whatsmeow upload.go Upload, rawUpload): POST to
/// `https://<host>/mms/<mms-type>/<token>?auth=…&token=…` on the hosts `media_conn` named, each in
/// order, the body streamed from the encrypted file on disk. A 5xx or a network error is tried
/// again on the same host with backoff (`attemptsPerHost`), then on the next host; a 401/403 means
/// the auth went stale: `media_conn` is asked again once. The answer's `url` and `direct_path` go
/// into the message.
struct MediaUpload: Sendable {
    let connection: MediaConnection
    let http: MediaHTTP
    let environment: Environment
    let logger: Logger

    static let attemptsPerHost = 3
    static let firstBackoff: Duration = .milliseconds(500)

    struct Uploaded: Sendable, Equatable { var url: String; var directPath: String }

    func upload(encryptedPath: String, length: Int64, type: WauseProtocol.MediaType, fileEncSha256: [UInt8]) async throws -> Uploaded {
        var lastProblem = "no media host answered"
        for round in 0..<2 {
            let conn = try await connection.current()
            var refused = false
            hosts: for host in conn.hosts {
                if let limit = host.maxContentLengthBytes, limit > 0, length > limit { continue }
                let url = "https://\(host.hostname)\(MediaURLs.uploadPath(type: type, fileEncSha256: fileEncSha256))?"
                    + MediaURLs.uploadQuery(auth: conn.auth, fileEncSha256: fileEncSha256)
                for attempt in 0..<MediaUpload.attemptsPerHost {
                    if attempt > 0 { try await environment.sleep(MediaUpload.firstBackoff * (1 << (attempt - 1))) }
                    let status: Int, body: [UInt8]
                    do { (status, body) = try await http.upload(url, encryptedPath, length) } catch {
                        lastProblem = "upload to \(host.hostname) failed: \(error)"
                        logger.warning("media: \(lastProblem)")
                        continue
                    }
                    switch status {
                    case 200..<300:
                        guard let answer = try? JSONValue.parse(String(decoding: body, as: UTF8.self)),
                              let url = answer["url"]?.stringValue, let directPath = answer["direct_path"]?.stringValue
                        else { throw WauseError(.internal, "\(host.hostname) answered the upload without url and direct_path") }
                        return Uploaded(url: url, directPath: directPath)
                    case 401, 403:
                        lastProblem = "\(host.hostname) refused the media auth (HTTP \(status))"
                        refused = true
                        break hosts
                    case 500...:
                        lastProblem = "\(host.hostname) answered HTTP \(status)"
                        logger.warning("media: \(lastProblem)")
                    default:
                        throw WauseError(.internal, "\(host.hostname) refused the upload (HTTP \(status))")
                    }
                }
            }
            guard refused, round == 0 else { break }
            connection.invalidate()
        }
        throw WauseError(.notConnected, "the file could not be uploaded: \(lastProblem)")
    }
}
