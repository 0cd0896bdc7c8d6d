import Synchronization
import WauseSupport

/// Faults the media host plays on its next transfers, set through the admin API
/// (`POST /media/faults`, tests/sim/README.md), so a client's retry, re-auth and crash paths can be
/// tested against the real HTTPS host (issue 13: uploads retried on 5xx/network errors with
/// backoff, `media_conn` asked again on 401/403; a crash mid-upload sends once).
///
/// Each queued fault applies to one transfer of its direction, in order: answer an HTTP `status`,
/// `drop` the connection without answering, or `hold` an upload open (its body unread, no answer)
/// until `DELETE /media/faults` releases it — the released upload is then dropped. The host also
/// counts the uploads it has begun (their head received), so a test can see an upload is under way
/// without waiting on a clock, and the `media_conn` auths it handed out. A 401 or 403 played on an
/// upload also revokes the auth the upload carried, as a real host's stale auth would be: only a
/// client that asks `media_conn` again gets through.
final class MediaFaults: Sendable {
    /// `any` is an upload or a download; a blob's deletion (`DELETE /mms/…`) plays only faults `on: delete`.
    enum Direction: String, Sendable { case upload, download, any, delete }
    enum Action: Sendable, Equatable { case status(Int), drop, hold }
    struct Fault: Sendable { var direction: Direction; var action: Action }

    private struct State {
        var queued: [Fault] = []
        var uploadsBegun = 0
        var downloadsBegun = 0
        var deletesBegun = 0
        var held = 0
        var authsIssued = 0
        var releases: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    /// Queues `count` copies of a fault.
    func add(_ fault: Fault, count: Int) {
        state.withLock { $0.queued += Array(repeating: fault, count: count) }
    }

    /// A transfer began: counted, and answered by the first queued fault for its direction, if any.
    func begin(upload: Bool) -> Action? {
        begin(upload ? .upload : .download)
    }

    /// A transfer (or a deletion) began: counted, and answered by the first queued fault for its kind, if any.
    func begin(_ kind: Direction) -> Action? {
        state.withLock { state in
            switch kind {
            case .upload: state.uploadsBegun += 1
            case .download, .any: state.downloadsBegun += 1
            case .delete: state.deletesBegun += 1
            }
            guard let index = state.queued.firstIndex(where: {
                $0.direction == kind || ($0.direction == .any && kind != .delete)
            }) else { return nil }
            return state.queued.remove(at: index).action
        }
    }

    /// A `media_conn` answer handed out an auth (counted, so a test sees a client asked again).
    func noteAuthIssued() { state.withLock { $0.authsIssued += 1 } }

    /// Parks a held upload until `clear` releases it.
    func hold() async {
        await withCheckedContinuation { continuation in
            state.withLock { state in
                state.held += 1
                state.releases.append(continuation)
            }
        }
    }

    /// Drops the faults not played yet and releases every held upload.
    func clear() -> Int {
        let (releases, dropped) = state.withLock { state in
            let taken = (state.releases, state.queued.count)
            state.releases = []
            state.queued = []
            return taken
        }
        for release in releases { release.resume() }
        return dropped
    }

    var json: JSONValue {
        state.withLock { state in
            ["pending": .int(Int64(state.queued.count)), "uploads_begun": .int(Int64(state.uploadsBegun)),
             "downloads_begun": .int(Int64(state.downloadsBegun)), "deletes_begun": .int(Int64(state.deletesBegun)),
             "held": .int(Int64(state.held)),
             "holding": .int(Int64(state.releases.count)),
             "media_conns": .int(Int64(state.authsIssued))]
        }
    }
}
