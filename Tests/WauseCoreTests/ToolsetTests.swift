import Testing
@testable import WauseCore
import WauseTestSupport
import WauseSupport

/// Issue 11: results checked against the output schema on every call of a debug build, toolsets,
/// compact schemas and `whatsapp_get_tool_info`.
@Suite struct ToolsetTests {
    static func method(_ name: String, toolset: String? = nil, result: JSONObject = ["ok": true]) -> MethodDefinition {
        let definition = MethodDefinition(
            name: name, title: name, description: "A test method. It has a second sentence.",
            inputSchema: Schema.object([]),
            outputSchema: Schema.object([("ok", Schema.boolean("whether it worked"))], required: ["ok"]),
            annotations: .readOnlyLocal, handler: { _, _ in result })
        return toolset.map { definition.inToolset($0) } ?? definition
    }

    static func client(_ directory: TemporaryDirectory, toolsets: Set<String>? = nil,
                       extra: [MethodDefinition] = []) throws -> WauseClient {
        var config = ClientConfig(dataDirectory: directory.path)
        config.toolsets = toolsets
        return try WauseClient(config: config, environment: testEnvironment(),
                               catalogue: MethodCatalogue(MethodCatalogue.standard.methods + extra))
    }

    @Test func aResultOutsideItsOutputSchemaIsAnInternalErrorInDebugBuilds() async throws {
        let temp = TemporaryDirectory()
        // The shape of issue 11's bug: one field the schema (additionalProperties false) does not list.
        let client = try Self.client(temp, extra: [Self.method("whatsapp_test_stray", result: ["ok": true, "identity_changed": false])])
        defer { client.close() }
        let error = try #require(await client.call("whatsapp_test_stray", .null).failure)
        #if DEBUG
        #expect(error.code == .internal)
        #expect(error.message.contains("does not match its output schema"))
        #expect(error.details?["path"] == "$.identity_changed")
        #else
        Issue.record("unexpected failure in a release build: \(error)")
        #endif
    }

    @Test func wrongTypesAndMissingFieldsAreCaughtToo() async throws {
        let temp = TemporaryDirectory()
        let client = try Self.client(temp, extra: [Self.method("whatsapp_test_type", result: ["ok": "yes"]),
                                                   Self.method("whatsapp_test_missing", result: [:])])
        defer { client.close() }
        #if DEBUG
        #expect(await client.call("whatsapp_test_type", .null).failure?.details?["path"] == "$.ok")
        #expect(await client.call("whatsapp_test_missing", .null).failure?.details?["path"] == "$.ok")
        #endif
    }

    @Test func theMessageSchemaAdmitsTheIdentityChangedFlagOfReceivedMessages() throws {
        // What Receive publishes in message.received (and wait_for_message returns).
        let record = MessageRecord(id: "3EB0", chatJID: "15550003333@s.whatsapp.net", senderJID: "15550003333@s.whatsapp.net",
                                   fromMe: false, type: "chat", body: "hi", timestamp: 1_763_000_000)
        guard case .object(var message) = History.json(record, ownJID: "15550001111:1@s.whatsapp.net", author: "Bob") else {
            Issue.record("not an object")
            return
        }
        message["author"] = "Carol"
        message["identity_changed"] = true
        try Schema.validate(.object(message), against: History.messageSchema)
        let result: JSONObject = ["ok": true, "timed_out": false, "waited_seconds": 0, "message": .object(message), "cursor": 3]
        try MethodCatalogue.checkResult(result, of: WaitForMessage.definition)
    }

    @Test func waitForMessageReturnsAReceivedMessageThatMatchesItsSchema() async throws {
        let temp = TemporaryDirectory()
        let client = try Self.client(temp)
        defer { client.close() }
        let record = MessageRecord(id: "3EB0AA", chatJID: "15550003333@s.whatsapp.net", senderJID: "15550003333@s.whatsapp.net",
                                   fromMe: false, type: "chat", body: "hi", timestamp: 1_763_000_000)
        guard case .object(var message) = History.json(record, ownJID: nil, author: nil) else { return }
        message["author"] = "Carol"
        message["identity_changed"] = false
        client.publisher.publish(.messageReceived, ["message": .object(message), "sender_phone": "15550003333", "sender_lid": .null])
        let result = try await client.call("whatsapp_wait_for_message", ["timeout": 1, "after_cursor": 0]).get()
        #expect(result["timed_out"] == .bool(false))
        #expect(result["message"]?["identity_changed"] == .bool(false))
    }

    @Test func toolsetsParseFromTextAndJSONAndRefuseUnknownNames() throws {
        #expect(try Toolsets.parse("core") == ["core"])
        #expect(try Toolsets.parse(" core , groups") == ["core", "groups"])
        #expect(try Toolsets.parse("all") == ["all"])
        for bad in ["", "core,", "nope", "core,Groups"] {
            #expect(throws: WauseError.self) { try Toolsets.parse(bad) }
        }
        do {
            _ = try Toolsets.parse("core,nope")
            Issue.record("accepted nope")
        } catch {
            #expect(error.message == "unknown toolset 'nope'; known toolsets: core, groups, media, approvals, contacts, chats, accounts, delivery, all")
        }
        let fromText = try ClientConfig(json: ["data_dir": "/tmp/x", "toolsets": "core,media"])
        #expect(fromText.toolsets == ["core", "media"])
        let fromArray = try ClientConfig(json: ["data_dir": "/tmp/x", "toolsets": ["all"]])
        #expect(fromArray.toolsets == ["all"])
        #expect(try ClientConfig(json: ["data_dir": "/tmp/x"]).toolsets == nil)
        #expect(throws: WauseError.self) { try ClientConfig(json: ["data_dir": "/tmp/x", "toolsets": [1]]) }
        #expect(throws: WauseError.self) { try ClientConfig(json: ["data_dir": "/tmp/x", "toolsets": "everything"]) }
    }

    @Test func aMethodOutsideTheEnabledToolsetsIsRefusedWithTheToolsetToEnable() async throws {
        let temp = TemporaryDirectory()
        let client = try Self.client(temp, toolsets: ["core"], extra: [Self.method("whatsapp_test_group_thing", toolset: "groups")])
        defer { client.close() }
        let error = try #require(await client.call("whatsapp_test_group_thing", .null).failure)
        #expect(error.code == .invalidRequest)
        #expect(error.message.contains("toolset 'groups'") && error.message.contains("--toolsets core,groups"))
        #expect(error.details?["toolset"] == "groups")
        // Core methods are served; get_tool_info still describes the refused one.
        #expect(try await client.call("whatsapp_status", .null).get()["state"] == "stopped")
        let info = try await client.call("whatsapp_get_tool_info", ["tool": "whatsapp_test_group_thing"]).get()
        #expect(info["toolset"] == "groups" && info["enabled"] == .bool(false))

        let temp2 = TemporaryDirectory()
        let everything = try Self.client(temp2, toolsets: ["all"], extra: [Self.method("whatsapp_test_group_thing", toolset: "groups")])
        defer { everything.close() }
        #expect(try await everything.call("whatsapp_test_group_thing", .null).get()["ok"] == .bool(true))
    }

    @Test func theContractToolsAreInEveryToolset() {
        let contract = MethodCatalogue.standard.methods.filter { Toolsets.contractTools.contains($0.name) }
        #expect(contract.count == 7)
        for toolset in Toolsets.known {
            for method in contract { #expect(Toolsets.enables([toolset], method), "\(method.name) not in \(toolset)") }
        }
        // Even one that an area put in another toolset.
        let moved = Self.method("whatsapp_status", toolset: "groups")
        #expect(Toolsets.enables(["core"], moved))
    }

    @Test func coreIsTodaysToolsPlusCancelAuthAndGetToolInfo() {
        // Issue 11: core = the 15 tools of milestone 1 + whatsapp_cancel_auth (Pairing; listed
        // when it exists) + whatsapp_get_tool_info. A new method joins core only on purpose.
        let core: Set<String> = [
            "whatsapp_status", "whatsapp_start_auth", "whatsapp_pairing_code", "whatsapp_pair_status", "whatsapp_logout",
            "whatsapp_unlink", "whatsapp_send_message", "whatsapp_message_status", "whatsapp_mark_read", "whatsapp_list_chats",
            "whatsapp_read_messages", "whatsapp_list_messages", "whatsapp_search_messages", "whatsapp_sync",
            "whatsapp_wait_for_message", "whatsapp_cancel_auth", "whatsapp_get_tool_info",
        ]
        let inCore = Set(MethodCatalogue.standard.methods.filter { Toolsets.enables(["core"], $0) }.map(\.name))
        #expect(inCore.isSubset(of: core), "\(inCore.subtracting(core)) joined core")
        #expect(core.subtracting(inCore).isSubset(of: ["whatsapp_cancel_auth"]), "\(core.subtracting(inCore)) missing")
    }

    @Test func summariesAreShortAndKeepTheUntrustedNote() {
        for method in MethodCatalogue.standard.methods {
            #expect(method.summary != nil, "\(method.name) has no summary")
            #expect(method.shortDescription.count <= 200, "\(method.name): \(method.shortDescription.count) characters")
            if method.description.contains(History.untrustedNote) {
                #expect(method.shortDescription.contains("untrusted"), "\(method.name) lost the untrusted-data note")
            }
            // The start_auth description must not name a fixed address: wause-mcp runs on any port.
            #expect(!method.description.contains("8790") && !method.shortDescription.contains("8790"), "\(method.name)")
        }
    }

    @Test func compactSchemasKeepTheTopLevelAndAcceptEveryValidResult() throws {
        let full = Schema.object([
            ("description", Schema.string("a property named description stays", enumeration: ["d", "e"])),
            ("count", Schema.integer("how many", minimum: 0)),
            ("items", Schema.array(of: Schema.object([("x", Schema.integer("x", minimum: 1))], required: ["x"]), "list")),
            ("inner", Schema.nullable(Schema.object([("y", Schema.boolean())], required: ["y"]))),
        ], required: ["description", "count", "items", "inner"], description: "top")
        let compact = Schema.compact(full)
        #expect(compact == [
            "type": "object",
            "properties": [
                "description": ["type": "string", "enum": ["d", "e"]], "count": ["type": "integer", "minimum": 0],
                "items": ["type": "array", "items": ["type": "object"]], "inner": ["type": ["object", "null"]],
            ],
            "required": ["description", "count", "items", "inner"],
        ])
        // Whatever the full schema accepts, the compact one accepts; its top level still checks types and required fields.
        let valid: JSONValue = ["description": "d", "count": 2, "items": [["x": 2]], "inner": ["y": true]]
        try Schema.validate(valid, against: full)
        try Schema.validate(valid, against: compact)
        try Schema.validate(["description": "e", "count": 0, "items": [], "inner": .null], against: compact)
        #expect(throws: WauseError.self) { try Schema.validate(["description": "d", "count": -1, "items": [], "inner": .null], against: compact) }
        #expect(throws: WauseError.self) { try Schema.validate(["description": "d", "count": 1, "items": []], against: compact) }
        // Open at the top (additionalProperties left out): a field the engine adds later does not
        // break a client holding an older list; the full schema still refuses it.
        try Schema.validate(["description": "d", "count": 1, "items": [], "inner": .null, "stray": 1], against: compact)
        #expect(throws: WauseError.self) {
            try Schema.validate(["description": "d", "count": 1, "items": [], "inner": .null, "stray": 1], against: full)
        }
        // No catalogue method's compact schema is larger than its full one.
        for method in MethodCatalogue.standard.methods {
            #expect(Schema.compact(method.outputSchema).serialized.utf8.count <= method.outputSchema.serialized.utf8.count)
        }
    }

    @Test func getToolInfoGivesTheLongForm() async throws {
        let temp = TemporaryDirectory()
        let client = try Self.client(temp, toolsets: ["core"])
        defer { client.close() }
        let info = try await client.call("whatsapp_get_tool_info", ["tool": "whatsapp_send_message"]).get()
        let send = try #require(MethodCatalogue.standard.method(named: "whatsapp_send_message"))
        #expect(info["description"] == .string(send.description))
        #expect(info["summary"] == .string(send.shortDescription))
        #expect(info["input_schema"] == send.inputSchema)
        #expect(info["output_schema"] == send.outputSchema)
        #expect(info["toolset"] == "core" && info["enabled"] == .bool(true))
        #expect(info["errors"] == ["whatsapp_not_paired", "not_found", "ambiguous_recipient", "forbidden_recipient", "rate_limited"])
        #expect(info["annotations"]?["read_only"] == .bool(false))
        let missing = try #require(await client.call("whatsapp_get_tool_info", ["tool": "whatsapp_nope"]).failure)
        #expect(missing.code == .notFound && missing.message.contains("whatsapp_status"))
        #expect(await client.call("whatsapp_get_tool_info", .null).failure?.code == .invalidRequest)
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
