import Synchronization
import WauseBinary
import WauseProtocol
import WauseSupport
import WauseTransport

/// The `media_conn` answer in use (whatsmeow mediaconn.go refreshMediaConn): asked of the server
/// on the live connection (MediaConnStanzas), kept until its `ttl` runs out, and dropped when a
/// media host answers 401/403 (the auth is no longer good) so the next transfer asks again.
final class MediaConnection: Sendable {
    private struct Cached { var conn: MediaConnStanzas.MediaConn; var fetchedAt: UnixTime }
    private let cached = Mutex<Cached?>(nil)
    private let link: ServerLink
    private let environment: Environment

    init(link: ServerLink, environment: Environment) {
        self.link = link
        self.environment = environment
    }

    /// The cached answer while its ttl lasts, else a fresh one from the server.
    func current() async throws(WauseError) -> MediaConnStanzas.MediaConn {
        let now = environment.now()
        if let held = cached.withLock({ $0 }), now < held.fetchedAt + .seconds(held.conn.ttl) { return held.conn }
        guard let session = link.currentSession, session.loggedIn else {
            throw WauseError(.notConnected, "not connected: media hosts are asked of the server on the live connection")
        }
        let connection = session.connection
        let answer = try await connection.query(MediaConnStanzas.query(id: connection.nextID()), timeout: ServerConnection.queryTimeout,
                                                environment: environment)
        let conn: MediaConnStanzas.MediaConn
        do { conn = try MediaConnStanzas.MediaConn(parsing: answer) } catch {
            throw WauseError(.internal, "the server's media_conn answer is unusable: \(error.reason)")
        }
        guard !conn.hosts.isEmpty else { throw WauseError(.internal, "the server's media_conn answer names no host") }
        cached.withLock { $0 = Cached(conn: conn, fetchedAt: now) }
        return conn
    }

    /// A host refused the auth: ask again next time.
    func invalidate() { cached.withLock { $0 = nil } }

    /// Whether `host` is one the server named (a message's `url` is only followed to those).
    func names(host: String) -> Bool {
        cached.withLock { $0?.conn.hosts.contains { $0.hostname == host } ?? false }
    }
}
