import Synchronization

/// The connection that is up now, for the features that send or query on it outside a stanza
/// handler (the outbox, logout, read receipts): the connection loop attaches each connection's
/// session while it runs and detaches it when it ends. Those features receive this rather than
/// the loop, so none of them can start, stop or redial the connection.
final class ServerLink: Sendable {
    private let session = Mutex<ConnectionSession?>(nil)

    /// The session of the connection that is up, linking or logged in, if any.
    var currentSession: ConnectionSession? { session.withLock { $0 } }

    func attach(_ current: ConnectionSession) { session.withLock { $0 = current } }

    func detach() { session.withLock { $0 = nil } }
}
