import WauseBinary
import WauseSupport

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
    private var links: [Int: DeviceLink] = [:]
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

    public func remove(_ id: Int) {
        lock.withLock {
            entries.removeValue(forKey: id)
            links.removeValue(forKey: id)
        }
    }

    /// A logged-in device's connection starts taking queued stanzas.
    func attach(_ link: DeviceLink) { lock.withLock { links[link.connectionID] = link } }

    var allLinks: [DeviceLink] { lock.withLock { links.values.sorted { $0.connectionID < $1.connectionID } } }

    /// The live connections of one device (normally one).
    func links(phone: String, device: Int) -> [DeviceLink] {
        lock.withLock { links.values.filter { $0.phone == phone && $0.device == device }.sorted { $0.connectionID < $1.connectionID } }
    }

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

/// A logged-in device's connection, through which its queue is delivered in order. Every
/// stanza goes out at most once per connection (`lastSeq`); it stays queued until the device
/// answers it, so the next connection delivers it again (the device dedupes by id).
final class DeviceLink: @unchecked Sendable {
    let connectionID: Int
    let phone: String
    let device: Int
    private let send: @Sendable (Node) throws -> Void
    private let lock = ConditionLock()
    private var lastSeq: Int64 = 0

    init(connectionID: Int, phone: String, device: Int, send: @escaping @Sendable (Node) throws -> Void) {
        self.connectionID = connectionID
        self.phone = phone
        self.device = device
        self.send = send
    }

    /// Sends what was queued since the last pump; answers how many stanzas went out. One pump at
    /// a time per connection, so the order on the wire is the queue's.
    @discardableResult
    func pump(_ state: SimState) -> Int {
        lock.withLock {
            var sent = 0
            while true {
                guard let batch = try? state.queued(phone: phone, device: device, after: lastSeq), !batch.isEmpty else { return sent }
                // Marked before it goes out: the device may answer before this loop moves on, and
                // an answer only removes what was delivered (MessageStore `dequeue`).
                try? state.markDelivered(batch.map(\.seq))
                for entry in batch {
                    do { try send(entry.node) } catch { return sent }
                    lastSeq = entry.seq
                    sent += 1
                }
            }
        }
    }

    /// A stanza that is not queued (a notification): now or never.
    func sendNow(_ node: Node) { lock.withLock { try? send(node) } }
}
