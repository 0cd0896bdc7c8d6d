import WauseBinary
import WauseSupport
import WauseTransport

/// whatsmeow's keepalive (keepalive.go keepAliveLoop): a `w:p` ping every 20–30 s with 10 s to
/// answer; after 3 minutes without a successful ping the link is considered dead and dropped,
/// which sends the connection loop into its reconnect path.
enum KeepAlive {
    static let shortestInterval: Duration = .seconds(20)
    static let longestInterval: Duration = .seconds(30)
    static let answerDeadline: Duration = .seconds(10)
    static let deadAfter: Duration = .seconds(3 * 60)

    /// Pings until cancelled or the link is dead. Run as the connection's follow-up work
    /// (`ConnectionSession.spawn`), so it ends with the connection like the rest of it.
    static func run(connection: ServerConnection, environment: Environment, logger: Logger) async {
        var lastSuccess = environment.now()
        while !Task.isCancelled {
            let random = environment.randomBytes(2)
            let range = (longestInterval - shortestInterval).milliseconds + 1
            let spread = Duration.milliseconds((Int64(random[0]) << 8 | Int64(random[1])) % range)
            do { try await environment.sleep(shortestInterval + spread) } catch { return }
            let ping = Node(tag: "iq", attributes: [
                "id": .text(connection.nextID()), "to": .jid(.whatsAppServer), "type": "get", "xmlns": "w:p",
            ], children: [Node(tag: "ping")])
            do {
                _ = try await connection.query(ping, timeout: answerDeadline, environment: environment)
                lastSuccess = environment.now()
            } catch {
                if Task.isCancelled { return }
                logger.warning("keepalive ping failed: \(error)")
                if environment.now() - lastSuccess >= deadAfter {
                    logger.warning("no successful keepalive for 3 minutes; dropping the connection")
                    connection.close()
                    return
                }
            }
        }
    }
}
