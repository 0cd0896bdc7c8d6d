import Testing
@testable import WauseCore
@testable import WauseMCPHost
import WauseHTTP
import WauseTestSupport
import WauseSupport

/// `/qr.json`, `/qr.txt` and the page's start button (`POST /qr/start`, issue 11), request by
/// request through `MCPServer.handle`. The engine is real; its server is a closed port on
/// 127.0.0.1, so starting to link fails at once with `not_connected` (never dials anywhere else).
@Suite struct QRPagesTests {
    final class Fixture {
        let directory = TemporaryDirectory(prefix: "wause-qr-test")
        let client: WauseClient
        let server: MCPServer

        init(token: String? = nil) throws {
            var config = ClientConfig(dataDirectory: directory.path)
            config.serverURL = "ws://127.0.0.1:1/ws/chat"
            config.logLevel = .error
            client = try WauseClient(config: config)
            server = MCPServer(client: client, options: .init(token: token, maximumBodySize: 1024, keepAliveMilliseconds: 50),
                               logger: Logger(label: "test", level: .error))
        }

        deinit {
            server.shutdown()
            client.close()
        }

        func handle(_ method: String, _ path: String, headers: [String: String] = [:], query: [String: String] = [:],
                    body: String = "") async -> HTTPResponse {
            let server = self.server
            var all = ["Host": "127.0.0.1:8790"]
            for (key, value) in headers { all[key] = value }
            let request = HTTPRequest(method: method, path: path, headers: all, query: query, body: Array(body.utf8))
            return await onPlainThread { server.handle(request) }
        }
    }

    static func text(_ response: HTTPResponse) -> String {
        guard case .bytes(let bytes) = response.body else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func qrJSONAndTextGiveTheCurrentQRString() async throws {
        let fixture = try Fixture()
        let idle = await fixture.handle("GET", "/qr.json")
        #expect(idle.status == 200)
        #expect(MCPServerTests.json(idle) == ["state": "stopped", "qr": .null, "code": .null, "expires_at": .null])
        let noText = await fixture.handle("GET", "/qr.txt")
        #expect(noText.status == 404)
        #expect(Self.text(noText).contains("Not linking"))

        // The state a QR rotation sets (QRRotation.show), so the pages can be read without a server.
        let qr = "https://wa.me/settings/linked_devices#ref,a,b,c,1"
        fixture.client.status.setPairingQR(qr, expiresAt: UnixTime(milliseconds: 1_700_000_060_000))
        fixture.client.status.transition(to: .qr)
        let json = MCPServerTests.json(await fixture.handle("GET", "/qr.json"))
        #expect(json == ["state": "qr", "qr": .string(qr), "code": .null, "expires_at": "2023-11-14T22:14:20.000Z"])
        let text = await fixture.handle("GET", "/qr.txt")
        #expect(text.status == 200 && Self.text(text) == qr + "\n")
        #expect(text.header("Content-Type")?.hasPrefix("text/plain") == true)
    }

    @Test func qrJSONNeedsTheTokenLikeThePage() async throws {
        let fixture = try Fixture(token: "s3cret")
        #expect(await fixture.handle("GET", "/qr.json").status == 401)
        #expect(await fixture.handle("GET", "/qr.txt", query: ["token": "s3cret"]).status == 404)
        #expect(await fixture.handle("GET", "/qr.json", headers: ["Authorization": "Bearer s3cret"]).status == 200)
        #expect(await fixture.handle("GET", "/qr.json", headers: ["Origin": "http://evil.example"]).status == 403)
    }

    @Test func thePageOffersAButtonThatPostsToQRStart() async throws {
        let fixture = try Fixture(token: "s&cret")
        let page = Self.text(await fixture.handle("GET", "/qr", query: ["token": "s&cret"]))
        #expect(page.contains("<form method=\"post\" action=\"/qr/start\">"))
        #expect(page.contains("<input type=\"hidden\" name=\"token\" value=\"s&amp;cret\">"))
        // A page on another local port is another origin; a cross-site fetch without Origin too.
        #expect(await fixture.handle("POST", "/qr/start", headers: ["Origin": "http://127.0.0.1:3000"], body: "token=s%26cret").status == 403)
        #expect(await fixture.handle("POST", "/qr/start", headers: ["Sec-Fetch-Site": "cross-site"], body: "token=s%26cret").status == 403)
        #expect(await fixture.handle("POST", "/qr/start", headers: ["Origin": "http://evil.example"], body: "token=s%26cret").status == 403)
        // The token is required, from the form or as a bearer token.
        #expect(await fixture.handle("POST", "/qr/start", headers: ["Origin": "http://127.0.0.1:8790"]).status == 401)
        #expect(await fixture.handle("POST", "/qr/start", headers: ["Origin": "http://127.0.0.1:8790"], body: "token=wrong").status == 401)
        #expect(await fixture.handle("GET", "/qr/start", query: ["token": "s&cret"]).status == 405)
        // Accepted: linking starts; this server is unreachable, so it fails at once and says why.
        let started = await fixture.handle("POST", "/qr/start", headers: ["Origin": "http://127.0.0.1:8790", "Accept": "application/json"],
                                           body: "token=s%26cret")
        #expect(started.status == 503)
        #expect(MCPServerTests.json(started)["code"] == "not_connected")
        let browser = await fixture.handle("POST", "/qr/start", headers: ["Origin": "http://127.0.0.1:8790"], body: "token=s%26cret")
        #expect(browser.status == 303)
        #expect(browser.header("Location") == "/qr?token=s%26cret")
        let after = Self.text(await fixture.handle("GET", "/qr", query: ["token": "s&cret"]))
        #expect(after.contains("cannot reach the server at ws://127.0.0.1:1/ws/chat (connection refused)"))
    }
}
