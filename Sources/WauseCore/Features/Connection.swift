import WauseBinary
import WauseCrypto
import WauseTransport

/// The engine's connection to WhatsApp: dials when asked to link (and, with the login feature,
/// when linked), keeps the socket alive, reconnects with backoff and jitter, and moves the
/// connection state as DESIGN.md's state table says. One loop runs at a time.
final class ConnectionLoop: @unchecked Sendable {
    /// How long one linking attempt may take in all, reconnects included (6 QR refs last 160 s).
    static let linkingDeadline: Int64 = 5 * 60 * 1000
    /// Reconnect delays: doubling from 1 s up to 30 s, with ±25 % jitter.
    static let firstBackoff: Int64 = 1000
    static let longestBackoff: Int64 = 30_000

    private unowned let client: WauseClient
    private let lock = ConditionLock()
    private var task: Task<Void, Never>?
    private var connection: ServerConnection?

    init(client: WauseClient) { self.client = client }

    var isRunning: Bool { lock.withLock { task != nil } }

    /// Starts linking by QR unless a loop is already running.
    func startLinking() {
        lock.withLock {
            guard task == nil else { return }
            client.transition(to: .starting, lastError: .some(nil))
            task = Task { [self] in
                await runLinking()
                lock.withLock {
                    task = nil
                    connection = nil
                }
            }
        }
    }

    /// Stops the loop and drops the connection (client closing).
    func stop() {
        let (running, live) = lock.withLock { (task, connection) }
        running?.cancel()
        live?.close()
    }

    // MARK: Linking

    private func runLinking() async {
        let environment = client.environment
        let deadline = environment.now() + ConnectionLoop.linkingDeadline
        var failures = 0
        while !Task.isCancelled {
            if environment.now() >= deadline {
                failLinking("linking did not complete within \(ConnectionLoop.linkingDeadline / 60000) minutes")
                return
            }
            client.transition(to: .starting)
            let payload: [UInt8]
            do {
                payload = try ClientPayloads.registration(identity: client.identity, config: client.config)
            } catch {
                failLinking(error.message)
                return
            }
            let connection: ServerConnection
            do {
                connection = try await ServerConnection.open(url: client.config.serverURL, noiseKey: client.identity.noiseKey,
                                                             payload: payload, rootKey: client.config.serverRootKey,
                                                             environment: environment)
            } catch {
                failures += 1
                client.transition(to: .starting, lastError: .some(error.message))
                client.logger.warning("linking: \(error.message); retrying")
                if !(await backoff(failures)) { return }
                continue
            }
            failures = 0
            lock.withLock { self.connection = connection }
            client.publish(.accountConnected, ["phase": "linking"])
            let session = LinkingSession(client: client, connection: connection)
            let keepAlive = KeepAlive.start(connection: connection, environment: environment, logger: client.logger)
            let reason = await connection.run { node in await session.handle(node) }
            keepAlive.cancel()
            session.end()
            lock.withLock { self.connection = nil }
            let outcome = session.outcome
            let willReconnect = outcome == nil && !Task.isCancelled
            // The state moves before the event goes out, so a listener reacting to the event
            // reads the new state.
            if willReconnect { client.transition(to: .starting, lastError: .some(reason)) }
            client.publish(.accountDisconnected, ["reason": .string(outcome?.message ?? reason),
                                                  "will_reconnect": .bool(willReconnect)])
            if let outcome {
                switch outcome {
                case .failed(let message): failLinking(message)
                case .terminal(let state, let message): client.transition(to: state, lastError: .some(message))
                }
                return
            }
            if Task.isCancelled { return }
            failures += 1
            if !(await backoff(failures)) { return }
        }
    }

    private func failLinking(_ message: String) {
        client.setPairingQR(nil)
        client.transition(to: .authFailure, lastError: .some(message))
        client.publish(.pairingFailed, ["reason": .string(message)])
    }

    /// Waits before reconnect number `attempt`; false if the loop was cancelled meanwhile.
    private func backoff(_ attempt: Int) async -> Bool {
        let base = min(ConnectionLoop.longestBackoff, ConnectionLoop.firstBackoff << min(attempt - 1, 5))
        let random = client.environment.randomBytes(2)
        let jitter = (Int64(random[0]) << 8 | Int64(random[1])) % (base / 2 + 1) - base / 4
        do {
            try await client.environment.sleep(base + jitter)
            return true
        } catch {
            return false
        }
    }
}

/// How a connection ended, when it was not just a dropped link.
enum ConnectionOutcome: Equatable {
    /// Linking failed for good (refs ran out, bad pairing data): `auth_failure`.
    case failed(String)
    /// The server said something final: logged out, replaced, outdated client.
    case terminal(ConnectionState, String)

    var message: String {
        switch self {
        case .failed(let message), .terminal(_, let message): return message
        }
    }
}

/// What the server's stream errors and failures mean (DESIGN.md state table; transport
/// reference §8.3). Nil: the link is lost and the loop reconnects.
enum StreamVerdict {
    static func outcome(of node: Node) -> ConnectionOutcome? {
        switch node.tag {
        case "stream:error":
            let code = node[attribute: "code"]
            let conflict = node.child("conflict")?[attribute: "type"]
            if code == "401" || conflict == "device_removed" {
                return .terminal(.loggedOut, "logged out from the phone (stream error 401)")
            }
            if conflict == "replaced" { return .terminal(.disconnected, "replaced") }
            return nil
        case "failure":
            switch node[attribute: "reason"] {
            case "401", "403", "406":
                return .terminal(.loggedOut, "the server refused the login (failure \(node[attribute: "reason"] ?? ""))")
            case "405":
                return .terminal(.clientOutdated, "the server refused client version (failure 405)")
            default:
                return nil
            }
        default:
            return nil
        }
    }
}

/// Acknowledges the stanzas the server expects acks for (`message`, `receipt`, `notification`,
/// `call`), as whatsmeow's `sendAck` does: `<ack id class to [type] [participant]/>`.
enum Acknowledgement {
    static func ack(for node: Node) -> Node? {
        guard ["message", "receipt", "notification", "call"].contains(node.tag), let id = node[attribute: "id"],
            let from = node.attributes["from"]
        else { return nil }
        var attributes: Attributes = ["id": .text(id), "class": .text(node.tag), "to": from]
        if let participant = node.attributes["participant"] { attributes.append(Attribute(name: "participant", value: participant)) }
        if node.tag != "message", let type = node[attribute: "type"] { attributes.append(Attribute(name: "type", value: .text(type))) }
        return Node(tag: "ack", attributes: attributes)
    }
}
