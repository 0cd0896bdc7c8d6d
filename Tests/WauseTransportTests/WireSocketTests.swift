import Dispatch
import Synchronization
import Testing
import WauseBinary
@testable import WauseTransport

/// WireSocket over a real WebSocket on 127.0.0.1, with a transport cipher set directly (the
/// handshake has its own tests in NoiseHandshakeTests).
@Suite struct WireSocketTests {
    static let clientToServer = (0..<32).map { UInt8($0) }
    static let serverToClient = (0..<32).map { UInt8(255 - $0) }

    /// Many threads sending on one socket at once: every stanza reaches the peer and opens, as
    /// the nonces are used in wire order. The sim and the engine both send from several tasks
    /// on one connection (routed receipts beside acks, keepalive pings beside sends); frames
    /// swapped on the wire made the peer fail "cannot decrypt frame" and drop the connection,
    /// seen in bench/accounts_bench.py with 100 account pairs sending at once.
    @Test func concurrentSendersKeepNonceOrderOnTheWire() async throws {
        let threads = 4, perThread = 2_000
        let (received, report) = AsyncStream<Result<Int, WireSocket.Failure>>.makeStream()
        let server = try await WebSocketServer.start(host: "127.0.0.1", port: 0, path: "/ws/chat") { connection, _ in
            let socket = WireSocket(connection: connection, role: .server)
            do {
                socket.encrypt(with: try NoiseTransportCipher(sendKey: Self.serverToClient, receiveKey: Self.clientToServer))
                var count = 0
                while count < threads * perThread, try await socket.nextNode() != nil { count += 1 }
                report.yield(.success(count))
            } catch let error as WireSocket.Failure {
                report.yield(.failure(error))
            } catch {
                report.yield(.failure(.closed))
            }
        }
        let connection = try await WebSocketClient().connect(to: "ws://127.0.0.1:\(server.port)/ws/chat")
        let socket = WireSocket(connection: connection, role: .client)
        socket.encrypt(with: try NoiseTransportCipher(sendKey: Self.clientToServer, receiveKey: Self.serverToClient))
        let failures = Mutex(0)
        // Real threads (not the cooperative pool) so sends truly overlap.
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for index in 0..<perThread {
                do {
                    try socket.send(node: Node(tag: "iq", attributes: ["id": .text("\(thread)-\(index)")]))
                } catch {
                    failures.withLock { $0 += 1 }
                }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        var results = received.makeAsyncIterator()
        let result = try #require(await results.next())
        switch result {
        case .success(let count): #expect(count == threads * perThread)
        case .failure(let error): Issue.record("the server could not read every stanza: \(error)")
        }
        socket.close()
        await server.close()
    }
}
