import Synchronization
import WauseBinary
import WauseSupport
import WauseTransport

/// The live WebSocket connections the simulator is serving, for `GET /connections` and for
/// reaching a device (e.g. to log it out).
public final class SimConnections: Sendable {
    public struct Entry: Sendable {
        public let id: Int
        /// `phone:device@s.whatsapp.net` once a linked device logged in; nil while unpaired.
        public var device: String?
        public var state: String
        public let since: UnixTime
        /// Ends the connection, optionally after sending a last stanza (built by the caller).
        public let disconnect: @Sendable (_ reason: DisconnectReason) -> Void
    }

    public enum DisconnectReason: Sendable {
        /// The device was unlinked from the phone: it gets the logout stream error.
        case deviceRemoved
        /// The same device logged in on another connection: this one gets `conflict type="replaced"`.
        case replaced
        case shutdown
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        var links: [Int: DeviceLink] = [:]
        /// Connections that were sent a stream error, with the timer that closes them if the client
        /// does not close first.
        var ended: [Int: Task<Void, Never>] = [:]
        var nextID = 1
        var losing = false
    }
    private let state = Mutex(State())

    public init() {}

    /// `disconnect` is called with the new connection's id.
    public func add(state: String, since: UnixTime, disconnect: @escaping @Sendable (Int, DisconnectReason) -> Void) -> Int {
        self.state.withLock { connections in
            let id = connections.nextID
            connections.nextID += 1
            connections.entries[id] = Entry(id: id, device: nil, state: state, since: since, disconnect: { reason in disconnect(id, reason) })
            return id
        }
    }

    /// How long the server leaves a connection open after a stream error before it closes it.
    /// The stream error is the server's last word, but closing at once races it: a client whose
    /// reader stops at the close frame would never read the error. whatsmeow closes by itself on
    /// 515 and waits for the server's close after `device_removed`, `replaced` and 503
    /// (connectionevents.go `handleStreamError`: `Disconnect()` vs `expectDisconnect()`).
    static let streamErrorGrace: Duration = .seconds(3)

    /// A test knob: stream errors are lost as a close racing them would lose them (the connection
    /// closes at once and the error never goes out), so tests can see a client cope.
    var losesStreamErrors: Bool {
        get { state.withLock { $0.losing } }
        set { state.withLock { $0.losing = newValue } }
    }

    /// Ends the stream of connection `id` with `error` (`<stream:error …/>`): from now on it gets
    /// no queued stanzas and what it sends is ignored; the client closes, or the server does after
    /// `streamErrorGrace`.
    func endStream(_ id: Int, socket: WireSocket, environment: Environment, error: Node) {
        let first = state.withLock { state -> Bool in
            guard state.ended[id] == nil else { return false }
            if state.losing {
                state.links.removeValue(forKey: id)
                state.ended[id] = Task {}
                socket.close()
                return false
            }
            state.links.removeValue(forKey: id)
            state.ended[id] = Task {
                try? await environment.sleep(SimConnections.streamErrorGrace)
                if !Task.isCancelled { socket.close() }
            }
            return true
        }
        if first { try? socket.send(node: error) }
    }

    /// Whether connection `id` was sent a stream error (its stanzas are no longer served).
    func hasEnded(_ id: Int) -> Bool { state.withLock { $0.ended[id] != nil } }

    public func update(_ id: Int, device: String?, state: String) {
        self.state.withLock {
            $0.entries[id]?.device = device
            $0.entries[id]?.state = state
        }
    }

    public func remove(_ id: Int) {
        let timer = state.withLock { state -> Task<Void, Never>? in
            state.entries.removeValue(forKey: id)
            state.links.removeValue(forKey: id)
            return state.ended.removeValue(forKey: id)
        }
        timer?.cancel()
    }

    /// A logged-in device's connection starts taking queued stanzas (unless its stream ended).
    func attach(_ link: DeviceLink) { state.withLock { if $0.ended[link.connectionID] == nil { $0.links[link.connectionID] = link } } }

    var allLinks: [DeviceLink] { state.withLock { $0.links.values.sorted { $0.connectionID < $1.connectionID } } }

    /// The live connections of one device (normally one).
    func links(phone: String, device: Int) -> [DeviceLink] {
        state.withLock { $0.links.values.filter { $0.phone == phone && $0.device == device }.sorted { $0.connectionID < $1.connectionID } }
    }

    public var all: [Entry] { state.withLock { $0.entries.values.sorted { $0.id < $1.id } } }

    /// Disconnects every live connection of `device` and returns how many there were.
    @discardableResult
    public func disconnect(device: String, reason: DisconnectReason) -> Int {
        let matches = state.withLock { $0.entries.values.filter { $0.device == device } }
        for entry in matches { entry.disconnect(reason) }
        return matches.count
    }

    public var json: JSONValue {
        .array(all.map { entry in
            ["id": .int(Int64(entry.id)), "device": JSONValue(entry.device), "state": .string(entry.state),
             "since": .string(entry.since.iso8601)]
        })
    }
}

/// A logged-in device's connection, through which its queue is delivered in order. Every
/// stanza goes out at most once per connection (`lastSeq`); it stays queued until the device
/// answers it, so the next connection delivers it again (the device dedupes by id).
final class DeviceLink: Sendable {
    let connectionID: Int
    let phone: String
    let device: Int
    private let send: @Sendable (Node) throws -> Void
    /// The last queue sequence number sent on this connection; holding it also makes one pump
    /// (or one `sendNow`) at a time, so the order on the wire is the queue's.
    private let lastSeq = Mutex<Int64>(0)

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
        lastSeq.withLock { lastSeq in
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
    func sendNow(_ node: Node) { lastSeq.withLock { _ in try? send(node) } }
}
