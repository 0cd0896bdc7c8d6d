import WauseCore

/// The live WebSocket connections the simulator is serving, for `GET /connections` and for
/// reaching a device (e.g. to log it out).
public final class SimConnections: @unchecked Sendable {
    public struct Entry: Sendable {
        public let id: Int
        /// `phone:device@s.whatsapp.net` once a linked device logged in; nil while unpaired.
        public var device: String?
        public var state: String
        public let since: Int64
        /// Ends the connection, optionally after sending a last stanza (built by the caller).
        public let disconnect: @Sendable (_ reason: DisconnectReason) -> Void
    }

    public enum DisconnectReason: Sendable {
        /// The device was unlinked from the phone: it gets the logout stream error.
        case deviceRemoved
        case shutdown
    }

    private let lock = ConditionLock()
    private var entries: [Int: Entry] = [:]
    private var nextID = 1

    public init() {}

    public func add(state: String, since: Int64, disconnect: @escaping @Sendable (DisconnectReason) -> Void) -> Int {
        lock.withLock {
            let id = nextID
            nextID += 1
            entries[id] = Entry(id: id, device: nil, state: state, since: since, disconnect: disconnect)
            return id
        }
    }

    public func update(_ id: Int, device: String?, state: String) {
        lock.withLock {
            entries[id]?.device = device
            entries[id]?.state = state
        }
    }

    public func remove(_ id: Int) { _ = lock.withLock { entries.removeValue(forKey: id) } }

    public var all: [Entry] { lock.withLock { entries.values.sorted { $0.id < $1.id } } }

    /// Disconnects every live connection of `device` and returns how many there were.
    @discardableResult
    public func disconnect(device: String, reason: DisconnectReason) -> Int {
        let matches = lock.withLock { entries.values.filter { $0.device == device } }
        for entry in matches { entry.disconnect(reason) }
        return matches.count
    }

    public var json: JSONValue {
        .array(all.map { entry in
            ["id": .int(Int64(entry.id)), "device": JSONValue(entry.device), "state": .string(entry.state),
             "since": .string(ISO8601.string(fromUnixMilliseconds: entry.since))]
        })
    }
}
