/// Where an --accounts-dir GET stream resumes (issue 16). Each account has its own log and
/// cursors, so one SSE id cannot say how far every account was read; the ids stay
/// `<account>:<cursor>` (as webhook deliveries are named) and the session remembers what its
/// streams sent, in order. A `Last-Event-ID: ada:12` then means "everything this session sent up
/// to and including ada's event 12", which gives a position for every account: the stream's start
/// positions, moved on by each event sent before that one.
///
/// One segment per stream opened: a client resuming from an id of an earlier stream gets that
/// stream's view, not the events a later stream sent but it never received. What is kept is
/// bounded (`entryLimit` ids over at most `segmentLimit` streams); an id that fell out (or was
/// never sent) resumes from the oldest start kept, with that account at the id's cursor: events
/// may come twice, none are skipped unless the client lagged more than `entryLimit` events.
struct AccountsResumeLog: Sendable {
    typealias Positions = [String: Int64]

    static let entryLimit = 4096
    static let segmentLimit = 4

    private struct Segment: Sendable {
        var start: Positions
        var sent: [(account: String, cursor: Int64)] = []

        /// `start` moved on by the first `count` ids sent.
        func positions(through count: Int) -> Positions {
            var positions = start
            for (account, cursor) in sent.prefix(count) { positions[account] = max(positions[account] ?? 0, cursor) }
            return positions
        }
    }

    private var segments: [Segment]

    /// A session opened when each account's log stood at `start` (accounts not in it: from their first event).
    init(start: Positions) { segments = [Segment(start: start)] }

    /// The SSE id of an account's event.
    static func id(account: String, cursor: Int64) -> String { "\(account):\(cursor)" }

    /// `<account>:<cursor>`, split at the last colon (account ids are `[a-z0-9-]`).
    static func parse(_ id: String) -> (account: String, cursor: Int64)? {
        guard let colon = id.lastIndex(of: ":"), let cursor = Int64(id[id.index(after: colon)...]), cursor >= 0 else { return nil }
        let account = String(id[..<colon])
        return account.isEmpty ? nil : (account, cursor)
    }

    /// Where the last stream got to: the start of a stream opened without `Last-Event-ID`.
    var latest: Positions {
        let last = segments[segments.count - 1]
        return last.positions(through: last.sent.count)
    }

    /// The positions after the event `lastEventID` names, as this session sent it.
    func positions(resumingAfter lastEventID: String) -> Positions? {
        guard let (account, cursor) = AccountsResumeLog.parse(lastEventID) else { return nil }
        for segment in segments.reversed() {
            if let index = segment.sent.lastIndex(where: { $0.account == account && $0.cursor == cursor }) {
                return segment.positions(through: index + 1)
            }
        }
        // Not (or no longer) known: the oldest start kept, with the account where the client says.
        var positions = segments[0].start
        positions[account] = cursor
        return positions
    }

    /// A stream opens from `start`.
    mutating func begin(from start: Positions) {
        segments.append(Segment(start: start))
        if segments.count > AccountsResumeLog.segmentLimit { segments.removeFirst(segments.count - AccountsResumeLog.segmentLimit) }
    }

    /// The current stream sent an account's event.
    mutating func record(account: String, cursor: Int64) {
        let last = segments.count - 1
        segments[last].sent.append((account, cursor))
        var total = segments.reduce(0) { $0 + $1.sent.count }
        while total > AccountsResumeLog.entryLimit {
            if segments.count > 1 {
                total -= segments.removeFirst().sent.count
            } else {
                // One long stream: fold its oldest ids into its start, a quarter at a time.
                let fold = total - AccountsResumeLog.entryLimit * 3 / 4
                segments[0].start = segments[0].positions(through: fold)
                segments[0].sent.removeFirst(fold)
                total -= fold
            }
        }
    }
}
