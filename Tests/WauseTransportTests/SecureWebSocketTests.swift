import NIOSSL
#if canImport(Glibc)
import Glibc
#endif
import Testing
import WauseTestSupport
@testable import WauseTransport

/// `wss://`: the client's TLS (NIOSSL, trust roots from a file) against a TLS server on 127.0.0.1
/// with a throwaway self-signed certificate for IP 127.0.0.1, made by the system's openssl.
@Suite struct SecureWebSocketTests {
    @Test func wssCarriesMessagesAndRefusesAnUntrustedCertificate() async throws {
        let directory = TemporaryDirectory(prefix: "wause-tls-test")
        let key = directory.path + "/key.pem", certificate = directory.path + "/cert.pem"
        let status = system("""
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
            -addext subjectAltName=IP:127.0.0.1 -keyout '\(key)' -out '\(certificate)' 2>/dev/null
            """)
        try #require(status == 0, "openssl could not make a test certificate")
        let tls = try NIOSSLContext(configuration: .makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
            privateKey: .file(key)))
        let server = try await WebSocketServer.start(host: "127.0.0.1", port: 0, path: "/ws/chat", tls: tls) { connection, _ in
            do { for try await message in connection.messages { try connection.send(message) } } catch {}
        }
        let url = "wss://127.0.0.1:\(server.port)/ws/chat"

        let trusted = try await WebSocketClient(trustRootsFile: certificate).connect(to: url)
        try trusted.send([1, 2, 3])
        var replies = trusted.messages.makeAsyncIterator()
        #expect(try await replies.next() == [1, 2, 3])
        trusted.close()

        // The system store does not know this certificate: the TLS handshake must fail.
        await #expect(throws: (any Error).self) {
            let untrusted = try await WebSocketClient().connect(to: url)
            var iterator = untrusted.messages.makeAsyncIterator()
            _ = try await iterator.next()
        }
        await server.close()
    }
}
