import WauseSupport
import WauseTransport

/// What a catalogue method works with, handed to its handler at call time: the store and event
/// log, the configuration and catalogue, the injected clock and randomness, the connection state,
/// and the features a method drives (the connection loop for linking, the live connection for
/// read receipts, the outbox, logout). Built once by `WauseClient`; a method never sees the
/// client, so it cannot close it or call other methods through it. Public only as the opaque
/// parameter of `MethodDefinition.Handler`.
public struct MethodContext: Sendable {
    let config: ClientConfig
    let store: Store
    let events: EventLog
    let catalogue: MethodCatalogue
    let environment: Environment
    let logger: Logger
    let status: ConnectionStatus
    /// Starts and cancels linking, issues pairing codes.
    let connectionLoop: ConnectionLoop
    /// The connection that is up now (read receipts go on it).
    let serverLink: ServerLink
    let outbox: Outbox
    let logout: Logout
    /// Media uploads and downloads (`whatsapp_download_media`).
    let media: MediaTransfers
    /// Approval requests: their expiry timer and answers (Approvals/).
    let approvals: Approvals
    /// `allowed_recipients` and `send_rate_per_minute`, checked by every method that queues a message.
    let sendGuard: SendGuard
    /// History sync from our phone, and on-demand requests for older messages (History/HistorySync.swift).
    let historySync: HistorySync
    /// App state (AppState/): our chat settings sent as patches.
    let appState: AppStateSync
    /// Signed webhooks' worker (Webhooks/): kicked when a webhook or test is added.
    let webhooks: Webhooks
}

extension MethodContext {
    /// A page of the event log for a consumer catching up: `{events, next_cursor, has_more}`.
    func replayEvents(after cursor: Int64, limit: Int) throws(WauseError) -> JSONObject {
        guard cursor >= 0 else { throw .invalidRequest("after_cursor must be 0 or more") }
        guard (1...1000).contains(limit) else { throw .invalidRequest("limit must be between 1 and 1000") }
        let page = try events.events(after: cursor, limit: limit + 1)
        let shown = page.prefix(limit)
        return [
            "events": .array(shown.map(\.json)),
            "next_cursor": .int(shown.last?.cursor ?? cursor),
            "has_more": .bool(page.count > limit),
        ]
    }
}
