import Synchronization
import Testing
import WauseBinary
@testable import WauseTransport

/// `WireSocket` over a real WebSocket on 127.0.0.1 with a Noise transport cipher on each side.
@Suite struct WireSocketTests {
    /// Each stanza takes the next nonce, and the receiver opens frames with nonces in arrival
    /// order, so a frame must enter the connection in the order its nonce was taken. Many tasks
    /// sending at once (the outbox, receipts, keepalives, a retry answer) once sent a later nonce
    /// first: the peer could not decrypt it ("noise: cannot decrypt frame") and dropped the link.
    @Test func stanzasSentFromManyTasksAtOnceAllDecryptInOrder() async throws {
        let clientKey = [UInt8](repeating: 1, count: 32), serverKey = [UInt8](repeating: 2, count: 32)
        let senders = 8, perSender = 300
        let (results, report) = AsyncStream<(opened: Int, failure: String?)>.makeStream()
        let server = try await WebSocketServer.start(host: "127.0.0.1", port: 0, path: "/ws/chat") { connection, _ in
            let socket = WireSocket(connection: connection, role: .server)
            socket.encrypt(with: try! NoiseTransportCipher(sendKey: serverKey, receiveKey: clientKey))
            var opened = 0
            do {
                while opened < senders * perSender, try await socket.nextNode() != nil { opened += 1 }
                report.yield((opened, nil))
            } catch {
                report.yield((opened, "\(error)"))
            }
            socket.close()
        }
        let socket = WireSocket(connection: try await WebSocketClient().connect(to: "ws://127.0.0.1:\(server.port)/ws/chat"), role: .client)
        socket.encrypt(with: try NoiseTransportCipher(sendKey: clientKey, receiveKey: serverKey))
        await withTaskGroup(of: Void.self) { group in
            for sender in 0..<senders {
                group.addTask {
                    for index in 0..<perSender {
                        try? socket.send(node: Node(tag: "iq", attributes: ["id": .text("\(sender).\(index)")], bytes: [UInt8](repeating: 7, count: 64)))
                    }
                }
            }
        }
        var iterator = results.makeAsyncIterator()
        let result = try #require(await iterator.next())
        #expect(result.failure == nil && result.opened == senders * perSender, "\(result)")
        socket.close()
        await server.close()
    }
}
