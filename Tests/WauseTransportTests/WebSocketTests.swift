import NIOHTTP1
import Testing
@testable import WauseTransport

@Suite struct WebSocketURLTests {
    @Test func parsesSchemesHostsPortsAndPaths() throws {
        let secure = try WebSocketURL("wss://web.whatsapp.com/ws/chat")
        #expect(secure.secure && secure.host == "web.whatsapp.com" && secure.port == 443 && secure.path == "/ws/chat")
        #expect(secure.hostHeader == "web.whatsapp.com")
        let local = try WebSocketURL("ws://127.0.0.1:8791/ws/chat")
        #expect(!local.secure && local.port == 8791 && local.hostHeader == "127.0.0.1:8791")
        let v6 = try WebSocketURL("ws://[::1]:9/x")
        #expect(v6.host == "::1" && v6.hostHeader == "[::1]:9")
        #expect(try WebSocketURL("ws://h").path == "/")
        for bad in ["http://x/", "ws://", "ws://h:0/", "ws://h:70000/", "ws://[::1/", "ws://user@h/", "ws://h:x/"] {
            #expect(throws: WebSocketError.self) { try WebSocketURL(bad) }
        }
    }
}

/// A real client and a real server on 127.0.0.1.
@Suite struct WebSocketLoopbackTests {
    /// Echoes every message back, and records the upgrade request's headers.
    final class EchoServer: Sendable {
        let server: WebSocketServer
        let headers: AsyncStream<HTTPHeaders>

        init() async throws {
            let (headers, continuation) = AsyncStream<HTTPHeaders>.makeStream()
            self.headers = headers
            server = try await WebSocketServer.start(host: "127.0.0.1", port: 0, path: "/ws/chat") { connection, requestHeaders in
                continuation.yield(requestHeaders)
                do {
                    for try await message in connection.messages { try connection.send(message) }
                } catch {}
            }
        }

        var url: String { "ws://127.0.0.1:\(server.port)/ws/chat" }
    }

    @Test func messagesOfAnySizeGoBothWaysAndTheUpgradeCarriesOriginAndHost() async throws {
        let echo = try await EchoServer()
        let connection = try await WebSocketClient().connect(to: echo.url)
        var headersSeen = echo.headers.makeAsyncIterator()
        let headers = try #require(await headersSeen.next())
        #expect(headers["Origin"] == ["https://web.whatsapp.com"])
        #expect(headers["Host"] == ["127.0.0.1:\(echo.server.port)"])

        let payloads: [[UInt8]] = [[0x57, 0x41, 0x06, 0x03], [], Array(repeating: 0xAB, count: 200_000), (0..<255).map { UInt8($0) }]
        for payload in payloads { try connection.send(payload) }
        var replies = connection.messages.makeAsyncIterator()
        for payload in payloads {
            #expect(try await replies.next() == payload)
        }
        connection.close()
        #expect(try await replies.next() == nil)
        await echo.server.close()
    }

    @Test func anotherPathIsRefused() async throws {
        let echo = try await EchoServer()
        await #expect(throws: WebSocketError.upgradeRefused) {
            _ = try await WebSocketClient().connect(to: "ws://127.0.0.1:\(echo.server.port)/elsewhere")
        }
        await echo.server.close()
    }

    @Test func aClosedPortFailsToConnect() async throws {
        let echo = try await EchoServer()
        let port = echo.server.port
        await echo.server.close()
        await #expect(throws: WebSocketError.self) {
            _ = try await WebSocketClient().connect(to: "ws://127.0.0.1:\(port)/ws/chat")
        }
    }

    @Test func anAbortedConnectionEndsThePeersMessages() async throws {
        let (ended, signal) = AsyncStream<Void>.makeStream()
        let server = try await WebSocketServer.start(host: "127.0.0.1", port: 0, path: "/ws/chat") { connection, _ in
            do { for try await _ in connection.messages {} } catch {}
            signal.yield()
        }
        let connection = try await WebSocketClient().connect(to: "ws://127.0.0.1:\(server.port)/ws/chat")
        connection.abort()
        var iterator = ended.makeAsyncIterator()
        #expect(await iterator.next() != nil)
        #expect(throws: WebSocketError.closed) { try connection.send([1]) }
        await server.close()
    }
}
