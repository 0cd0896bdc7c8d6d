import Testing
@testable import WauseCore
@testable import WauseMCPHost
import WauseHTTP
import WauseTestSupport
import WauseSupport

/// The MCP host driven request by request through `MCPServer.handle`, without sockets: each
/// rule of the conformance checklist as a deterministic check. (The same server over real HTTP
/// is tested by tests/mcp with the official SDK.)
@Suite struct MCPServerTests {
    final class Fixture {
        let directory = TemporaryDirectory(prefix: "wause-mcp-test")
        let client: WauseClient
        let server: MCPServer

        init(token: String? = nil, toolsets: Set<String>? = nil, catalogue: MethodCatalogue = .standard) throws {
            var config = ClientConfig(dataDirectory: directory.path)
            config.toolsets = toolsets
            client = try WauseClient(config: config, catalogue: catalogue)
            server = MCPServer(client: client, options: .init(token: token, maximumBodySize: 1024, keepAliveMilliseconds: 50),
                               logger: Logger(label: "test", level: .error))
        }

        deinit {
            server.shutdown()
            client.close()
        }

        /// Handles a request on a thread of its own, as libmicrohttpd would: `handle` blocks its
        /// thread on engine tasks, which a test's cooperative thread must not do.
        /// The test awaits (never blocks) meanwhile, so engine tasks always find a free thread.
        func handle(_ request: HTTPRequest) async -> HTTPResponse {
            let server = self.server
            return await onPlainThread { server.handle(request) }
        }

        func post(_ body: String, session: String? = nil, headers: [String: String] = [:]) async -> HTTPResponse {
            var all = ["Content-Type": "application/json", "Accept": "application/json, text/event-stream", "Host": "127.0.0.1:8790"]
            if let session { all["Mcp-Session-Id"] = session }
            for (key, value) in headers { all[key] = value }
            return await handle(HTTPRequest(method: "POST", path: "/mcp", headers: all, body: Array(body.utf8)))
        }

        func initialize(version: String = "2025-11-25") async throws -> String {
            let response = await post(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"\#(version)","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#)
            try #require(response.status == 200)
            return try #require(response.header("Mcp-Session-Id"))
        }
    }

    static func json(_ response: HTTPResponse) -> JSONValue {
        guard case .bytes(let bytes) = response.body else { return .null }
        return (try? JSONValue.parse(bytes: bytes)) ?? .null
    }

    @Test func initializeNegotiatesAVersionAndIssuesASession() async throws {
        let fixture = try Fixture()
        for (requested, expected) in [("2025-03-26", "2025-03-26"), ("2025-06-18", "2025-06-18"), ("2025-11-25", "2025-11-25"), ("2099-01-01", "2025-11-25")] {
            let response = await fixture.post(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"\#(requested)"}}"#)
            #expect(response.status == 200)
            let result = Self.json(response)["result"]
            #expect(result?["protocolVersion"] == .string(expected))
            #expect(result?["capabilities"]?["tools"] != nil && result?["capabilities"]?["logging"] != nil)
            let session = try #require(response.header("Mcp-Session-Id"))
            #expect(session.count == 32 && session.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E })
        }
    }

    @Test func requestsNeedALiveSession() async throws {
        let fixture = try Fixture()
        #expect(await fixture.post(#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#).status == 400)
        #expect(await fixture.post(#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#, session: "deadbeef").status == 404)
        let session = try await fixture.initialize()
        let pong = await fixture.post(#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#, session: session)
        #expect(pong.status == 200)
        #expect(Self.json(pong)["result"] == .object([:]))
        let delete = await fixture.handle(HTTPRequest(method: "DELETE", path: "/mcp", headers: ["Mcp-Session-Id": session]))
        #expect(delete.status == 200)
        #expect(await fixture.post(#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#, session: session).status == 404)
    }

    @Test func notificationsAndResponsesGet202() async throws {
        let fixture = try Fixture()
        let session = try await fixture.initialize()
        let response = await fixture.post(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, session: session)
        #expect(response.status == 202)
        guard case .bytes(let body) = response.body else { Issue.record("streamed"); return }
        #expect(body.isEmpty)
        #expect(await fixture.post(#"{"jsonrpc":"2.0","id":"s1","result":{}}"#, session: session).status == 202)
    }

    @Test func malformedBodiesAreRefusedWithTheRightStatus() async throws {
        let fixture = try Fixture()
        let session = try await fixture.initialize()
        let parse = await fixture.post("{nope", session: session)
        #expect(parse.status == 400)
        #expect(Self.json(parse)["error"]?["code"] == .int(-32700))
        #expect(Self.json(parse)["id"] == .null)
        #expect(await fixture.post("[]", session: session).status == 400)
        #expect(await fixture.post(#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, session: session).status == 400)
        #expect(await fixture.post(#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, session: session).status == 400)
        #expect(await fixture.post(#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#, session: session).status == 400)
        #expect(await fixture.post(#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[]}"#, session: session).status == 400)
        #expect(await fixture.post("\"just a string\"", session: session).status == 400)
        let tooLarge = await fixture.handle(HTTPRequest(method: "POST", path: "/mcp", headers: ["Mcp-Session-Id": session], bodyTooLarge: true))
        #expect(tooLarge.status == 413)
        #expect(await fixture.post(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, session: session, headers: ["Accept": "text/html"]).status == 406)
        #expect(await fixture.post(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, session: session, headers: ["Content-Type": "text/plain"]).status == 415)
        #expect(await fixture.post(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, session: session, headers: ["MCP-Protocol-Version": "2026-07-28"]).status == 400)
    }

    @Test func batchesAreAnsweredOnlyUnder20250326() async throws {
        let fixture = try Fixture()
        let session = try await fixture.initialize(version: "2025-03-26")
        let response = await fixture.post(#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]"#, session: session)
        #expect(response.status == 200)
        let answers = Self.json(response).arrayValue ?? []
        #expect(answers.compactMap { $0["id"]?.intValue } == [1, 2])
        let mixed = Self.json(await fixture.post(#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"1.0","id":2,"method":"ping"},5]"#, session: session))
        #expect(mixed.arrayValue?.count == 3)
        #expect(mixed.arrayValue?[0]["result"] == .object([:]))
        #expect(mixed.arrayValue?[1]["error"]?["code"] == .int(-32600))
        #expect(mixed.arrayValue?[2]["error"]?["code"] == .int(-32600))
        #expect(await fixture.post(#"[{"jsonrpc":"2.0","method":"notifications/initialized"}]"#, session: session).status == 202)
    }

    @Test func serverDiscoverAndUnknownMethodsAreJSONRPCErrors() async throws {
        let fixture = try Fixture()
        let discover = await fixture.post(#"{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{}}"#)
        #expect(Self.json(discover)["error"]?["code"] == .int(-32601))
        let session = try await fixture.initialize()
        let unknown = await fixture.post(#"{"jsonrpc":"2.0","id":1,"method":"resources/list"}"#, session: session)
        #expect(Self.json(unknown)["error"]?["code"] == .int(-32601))
    }

    @Test func toolsListDescribesTheCatalogue() async throws {
        let fixture = try Fixture()
        let session = try await fixture.initialize()
        let list = Self.json(await fixture.post(#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, session: session))["result"]
        let tools = list?["tools"]?.arrayValue ?? []
        #expect(tools.map { $0["name"] } == fixture.client.catalogue.methods.map { .string($0.name) })
        let status = try #require(tools.first { $0["name"] == "whatsapp_status" })
        #expect(status["inputSchema"]?["type"] == "object")
        #expect(status["outputSchema"]?["properties"]?["state"] != nil)
        #expect(status["annotations"]?["readOnlyHint"] == .bool(true))
        #expect(status["annotations"]?["openWorldHint"] == .bool(false))
        #expect(list?["nextCursor"] == nil)
        let badCursor = Self.json(await fixture.post(#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":"zzz"}}"#, session: session))
        #expect(badCursor["error"]?["code"] == .int(-32602))
    }

    @Test func toolsCallReturnsStructuredContentAndTextOrIsError() async throws {
        let fixture = try Fixture()
        let session = try await fixture.initialize()
        let ok = Self.json(await fixture.post(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whatsapp_status","arguments":{}}}"#, session: session))["result"]
        #expect(ok?["isError"] == .bool(false))
        let structured = try #require(ok?["structuredContent"])
        #expect(structured["state"] == "stopped")
        #expect(ok?["content"]?.arrayValue?.first?["text"] == .string(structured.prettyPrinted))
        let invalid = Self.json(await fixture.post(#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whatsapp_status","arguments":{"x":1}}}"#, session: session))["result"]
        #expect(invalid?["isError"] == .bool(true))
        #expect(invalid?["content"]?.arrayValue?.first?["text"]?.stringValue?.contains("invalid_request") == true)
        let unknown = Self.json(await fixture.post(#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"nope"}}"#, session: session))
        #expect(unknown["error"]?["code"] == .int(-32602))
    }

    @Test func aProgressTokenTurnsTheAnswerIntoAnSSEStream() async throws {
        let fixture = try Fixture()
        let session = try await fixture.initialize()
        let response = await fixture.post(#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"whatsapp_status","_meta":{"progressToken":"p"}}}"#, session: session)
        #expect(response.header("Content-Type") == "text/event-stream")
        guard case .stream(let stream) = response.body else { Issue.record("not streamed"); return }
        // The answer is produced by an engine task: read it from a plain thread, as MHD does.
        let text = await onPlainThread {
            var text = ""
            while let chunk = stream.next() { text += String(decoding: chunk, as: UTF8.self) }
            return text
        }
        stream.finished()
        #expect(text.hasPrefix("event: message\ndata: "))
        let data = try JSONValue.parse(String(text.split(separator: "\n")[1].dropFirst(6)))
        #expect(data["id"] == .int(9))
        #expect(data["result"]?["structuredContent"]?["state"] == "stopped")
    }

    @Test func loggingSetLevelValidatesTheLevel() async throws {
        let fixture = try Fixture()
        let session = try await fixture.initialize()
        #expect(Self.json(await fixture.post(#"{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"debug"}}"#, session: session))["result"] == .object([:]))
        #expect(Self.json(await fixture.post(#"{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"loud"}}"#, session: session))["error"]?["code"] == .int(-32602))
    }

    @Test func getStreamsEventsOfItsSessionOnly() async throws {
        let fixture = try Fixture()
        #expect(await fixture.handle(HTTPRequest(method: "GET", path: "/mcp")).status == 405)
        #expect(await fixture.handle(HTTPRequest(method: "GET", path: "/mcp")).header("Allow")?.contains("POST") == true)
        #expect(await fixture.handle(HTTPRequest(method: "GET", path: "/mcp", headers: ["Mcp-Session-Id": "nope"])).status == 404)
        let session = try await fixture.initialize()
        let response = await fixture.handle(HTTPRequest(method: "GET", path: "/mcp", headers: ["Mcp-Session-Id": session, "Accept": "text/event-stream"]))
        #expect(response.status == 200)
        guard case .stream(let stream) = response.body else { Issue.record("not streamed"); return }
        #expect(stream.next() == ServerSentEvents.keepAlive)
        let event = try fixture.client.events.publish(.accountConnected, ["n": 1])
        let chunk = String(decoding: try #require(stream.next()), as: UTF8.self)
        #expect(chunk.hasPrefix("id: \(event.cursor)\nevent: message\ndata: "))
        #expect(chunk.contains(#""method":"notifications/wause/event""#))
        #expect(chunk.contains(#""name":"account.connected""#))
        // Nothing new: a keep-alive comment after the interval.
        #expect(stream.next() == ServerSentEvents.keepAlive)
        // A second GET of the session ends the first stream.
        let second = await fixture.handle(HTTPRequest(method: "GET", path: "/mcp", headers: ["Mcp-Session-Id": session]))
        #expect(stream.next() == nil)
        stream.finished()
        guard case .stream(let replacement) = second.body else { Issue.record("not streamed"); return }
        _ = replacement.next()
        let later = try fixture.client.events.publish(.accountDisconnected, [:])
        #expect(String(decoding: try #require(replacement.next()), as: UTF8.self).hasPrefix("id: \(later.cursor)\n"))
        // DELETE ends the session and its stream.
        #expect(await fixture.handle(HTTPRequest(method: "DELETE", path: "/mcp", headers: ["Mcp-Session-Id": session])).status == 200)
        #expect(replacement.next() == nil)
        replacement.finished()
    }

    @Test func foreignHostOriginAndMissingTokenAreRefused() async throws {
        let fixture = try Fixture(token: "s3cret")
        func get(_ path: String, _ headers: [String: String], query: [String: String] = [:]) async -> Int {
            await fixture.handle(HTTPRequest(method: "GET", path: path, headers: headers, query: query)).status
        }
        #expect(await get("/healthz", ["Host": "evil.example:8790"]) == 421)
        #expect(await get("/qr", ["Host": "evil.example"]) == 421)
        #expect(await get("/healthz", ["Host": "localhost:8790", "Origin": "http://evil.example"]) == 403)
        #expect(await get("/healthz", ["Host": "localhost:8790", "Origin": "null"]) == 403)
        #expect(await get("/healthz", ["Host": "[::1]:8790", "Origin": "http://127.0.0.1:3000"]) == 200)
        #expect(await get("/mcp", ["Host": "127.0.0.1:8790"]) == 401)
        #expect(await get("/mcp", ["Host": "127.0.0.1:8790", "Authorization": "Bearer wrong"]) == 401)
        #expect(await get("/mcp", ["Host": "127.0.0.1:8790", "Authorization": "Bearer s3cret"]) == 405)
        #expect(await get("/qr", ["Host": "127.0.0.1:8790"]) == 401)
        #expect(await get("/qr", ["Host": "127.0.0.1:8790"], query: ["token": "s3cret"]) == 200)
        #expect(await get("/nowhere", [:]) == 404)
        #expect(await get("/healthz", ["Host": "LOCALHOST:8790"]) == 200)
    }

    /// The bytes of the `tools/list` result an agent's context pays for.
    static func toolsListBytes(_ fixture: Fixture) async throws -> (Int, [JSONValue]) {
        let session = try await fixture.initialize()
        let response = await fixture.post(#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, session: session)
        let result = try #require(Self.json(response)["result"])
        #expect(result["nextCursor"] == nil)
        return (Array(result.serialized.utf8).count, result["tools"]?.arrayValue ?? [])
    }

    @Test func toolsListIsSmallEnoughForAnAgent() async throws {
        // Issue 11's budget: core ≤ 16 KB, all ≤ 64 KB (the goal for the end of milestone 2).
        let (core, coreTools) = try await Self.toolsListBytes(try Fixture(toolsets: ["core"]))
        #expect(core <= 16 * 1024, "core tools/list is \(core) bytes")
        let (all, allTools) = try await Self.toolsListBytes(try Fixture(toolsets: ["all"]))
        #expect(all <= 64 * 1024, "all tools/list is \(all) bytes")
        #expect(allTools.count >= coreTools.count)
        // Compact, still real: no descriptions in output schemas, the summary as the description.
        for tool in coreTools {
            let name = try #require(tool["name"]?.stringValue)
            let method = try #require(MethodCatalogue.standard.method(named: name))
            #expect(tool["description"] == .string(method.shortDescription))
            #expect(tool["outputSchema"] == Schema.compact(method.outputSchema))
            #expect(tool["inputSchema"] == method.inputSchema)
        }
    }

    @Test func toolsOutsideTheEnabledToolsetsAreNotListedAndTheirCallsSayWhichToolsetEnablesThem() async throws {
        let groupThing = MethodDefinition(
            name: "whatsapp_test_group_thing", title: "t", description: "A group tool for this test.", inputSchema: Schema.object([]),
            outputSchema: Schema.object([("ok", Schema.boolean())], required: ["ok"]), annotations: .readOnlyLocal,
            handler: { _, _ in ["ok": true] }).inToolset("groups")
        let catalogue = MethodCatalogue(MethodCatalogue.standard.methods + [groupThing])
        let core = try Fixture(toolsets: ["core"], catalogue: catalogue)
        let (_, listed) = try await Self.toolsListBytes(core)
        #expect(!listed.contains { $0["name"] == "whatsapp_test_group_thing" })
        #expect(listed.contains { $0["name"] == "whatsapp_get_tool_info" })
        let session = try await core.initialize()
        let call = Self.json(await core.post(#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whatsapp_test_group_thing","arguments":{}}}"#, session: session))["result"]
        #expect(call?["isError"] == .bool(true))
        let text = call?["content"]?.arrayValue?.first?["text"]?.stringValue ?? ""
        #expect(text.contains("toolset 'groups'") && text.contains("--toolsets core,groups"), "\(text)")

        let all = try Fixture(toolsets: ["core", "groups"], catalogue: catalogue)
        let (_, everything) = try await Self.toolsListBytes(all)
        #expect(everything.contains { $0["name"] == "whatsapp_test_group_thing" })
    }

    @Test func theQRPageAsksABrowserWithoutTheTokenForItInHTML() async throws {
        let fixture = try Fixture(token: "s3cret")
        let page = await fixture.handle(HTTPRequest(method: "GET", path: "/qr", headers: ["Host": "127.0.0.1:8790"]))
        #expect(page.status == 401)
        #expect(page.header("Content-Type")?.hasPrefix("text/html") == true)
        guard case .bytes(let html) = page.body else { return }
        let text = String(decoding: html, as: UTF8.self)
        #expect(text.contains("/qr?token=") && !text.contains("s3cret"))
    }

    @Test func qrPagesSayWhyThereIsNothingToScan() async throws {
        let fixture = try Fixture()
        let page = await fixture.handle(HTTPRequest(method: "GET", path: "/qr"))
        #expect(page.status == 200)
        #expect(page.header("Content-Type")?.hasPrefix("text/html") == true)
        guard case .bytes(let html) = page.body else { return }
        #expect(String(decoding: html, as: UTF8.self).contains("Not linking"))
        let png = await fixture.handle(HTTPRequest(method: "GET", path: "/qr.png"))
        #expect(png.status == 404)
        #expect(Self.json(png)["code"] == "not_found")
    }
}

@Suite struct HostCommandLineTests {
    func settings(_ arguments: [String], _ environment: [String: String] = ["HOME": "/home/u"]) -> HostSettings? {
        if case .run(let settings) = HostCommandLine.parse(arguments, environment: environment, version: "0") { return settings }
        return nil
    }

    @Test func defaultsAreLoopback8790AndTheUsersDataDirectory() throws {
        let parsed = try #require(settings([]))
        #expect(parsed.host == "127.0.0.1")
        #expect(parsed.port == 8790)
        #expect(parsed.token == nil)
        #expect(parsed.client.dataDirectory == "/home/u/.local/share/wause")
        #expect(parsed.client.logLevel == .info)
        #expect(parsed.client.toolsets == ["core"])
    }

    @Test func toolsetsComeFromTheFlagOrTheEnvironmentAndUnknownNamesStopTheStart() throws {
        #expect(settings(["--toolsets", "core,groups"])?.client.toolsets == ["core", "groups"])
        #expect(settings([], ["WAUSE_TOOLSETS": "all", "HOME": "/h"])?.client.toolsets == ["all"])
        #expect(settings(["--toolsets=core"], ["WAUSE_TOOLSETS": "all", "HOME": "/h"])?.client.toolsets == ["core"])
        guard case .exit(2, let output) = HostCommandLine.parse(["--toolsets", "core,bogus"], environment: [:], version: "0") else {
            Issue.record("accepted an unknown toolset")
            return
        }
        #expect(output.contains("unknown toolset 'bogus'") && output.contains("core, groups"))
    }

    @Test func flagsOverrideEnvironmentVariables() throws {
        let parsed = try #require(settings(["--port", "9000", "--data-dir=/d", "--push-name", "Bot"],
                                           ["WAUSE_PORT": "1", "WAUSE_TOKEN": "t", "WAUSE_SERVER_URL": "ws://127.0.0.1:1/ws/chat", "HOME": "/h"]))
        #expect(parsed.port == 9000)
        #expect(parsed.token == "t")
        #expect(parsed.client.dataDirectory == "/d")
        #expect(parsed.client.serverURL == "ws://127.0.0.1:1/ws/chat")
        #expect(parsed.client.pushName == "Bot")
    }

    @Test func mediaKeysComeFromFlagsAndTheEnvironment() throws {
        let parsed = try #require(settings(["--data-dir", "/d", "--media-dirs", "/srv/out, /tmp", "--media-max-bytes", "1000"],
                                           ["WAUSE_MEDIA_AUTO_DOWNLOAD": "image,voice", "WAUSE_MEDIA_CA_FILE": "/etc/ca.pem", "HOME": "/h"]))
        #expect(parsed.client.mediaDirectories == ["/srv/out", "/tmp"])
        #expect(parsed.client.mediaMaxBytes == 1000)
        #expect(parsed.client.mediaAutoDownload == .only([.image, .voice]))
        #expect(parsed.client.mediaCAFile == "/etc/ca.pem")
        let defaults = try #require(settings(["--data-dir", "/d"]))
        #expect(defaults.client.mediaDirectories.first == "/d/outbox-media")
        #expect(defaults.client.mediaAutoDownload == .never)
    }

    @Test(arguments: [["--port", "x"], ["--bogus"], ["--log-level", "loud"], ["--host", "0.0.0.0"], ["--port"], ["stray"],
                      ["--server-root-key", "00"], ["--media-dirs", "relative/dir"], ["--media-max-bytes", "-1"],
                      ["--media-auto-download", "images"]])
    func badArgumentsExitWithUsage(_ arguments: [String]) {
        guard case .exit(let code, let output) = HostCommandLine.parse(arguments, environment: [:], version: "0") else {
            Issue.record("accepted \(arguments)")
            return
        }
        #expect(code == 2)
        #expect(!output.isEmpty)
    }

    @Test func aWildcardListenerWithATokenAcceptsAnyHostName() {
        let guardrail = RequestGuard(listenHost: "0.0.0.0", token: "t")
        #expect(guardrail.checkOrigin(of: HTTPRequest(method: "GET", path: "/", headers: ["Host": "192.0.2.2:8790"])) == .allowed)
        let loopbackOnly = RequestGuard(listenHost: "127.0.0.1", token: "t")
        #expect(loopbackOnly.checkOrigin(of: HTTPRequest(method: "GET", path: "/", headers: ["Host": "192.0.2.2:8790"])) != .allowed)
    }

    @Test func nonLoopbackNeedsAToken() {
        #expect(settings(["--host", "0.0.0.0", "--token", "t"])?.host == "0.0.0.0")
    }

    @Test func helpListsEveryConfigKeyAsAFlag() {
        guard case .exit(0, let help) = HostCommandLine.parse(["--help"], environment: [:], version: "0") else {
            Issue.record("no help")
            return
        }
        for key in ClientConfig.keys.map(\.name) { #expect(help.contains("--" + key.replacingUnderscores())) }
        for flag in ["--host", "--port", "--token", "--render-qr"] { #expect(help.contains(flag)) }
    }
}
