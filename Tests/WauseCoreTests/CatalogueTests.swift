import Testing
import WauseCrypto
import WauseProtocol
import WauseSupport
@testable import WauseCore

@Suite struct SchemaValidationTests {
    let schema = Schema.object([
        ("limit", Schema.integer(minimum: 1, maximum: 100, defaultValue: 20)),
        ("phone_number", Schema.string(minLength: 1)),
        ("mode", Schema.string(enumeration: ["a", "b"], nullable: true)),
        ("tags", Schema.array(of: Schema.string())),
    ], required: ["phone_number"])

    func error(_ arguments: JSONValue) -> WauseError? {
        do { try Schema.validate(arguments, against: schema); return nil } catch { return error }
    }

    @Test func acceptsValidArgumentsAndFillsDefaults() throws {
        #expect(error(["phone_number": "1", "limit": 5, "mode": .null, "tags": ["x"]]) == nil)
        #expect(Schema.applyDefaults(["phone_number": "1"], from: schema)["limit"] == .int(20))
    }

    @Test func namesTheOffendingArgument() {
        #expect(error(["limit": 5])?.message == "missing required argument 'phone_number'")
        #expect(error(["phone_number": 5])?.message == "phone_number: expected string, got integer")
        #expect(error(["phone_number": "1", "limit": 0])?.message == "limit: must be at least 1")
        #expect(error(["phone_number": "1", "limit": 101])?.message == "limit: must be at most 100")
        #expect(error(["phone_number": "1", "limit": 2.5])?.message == "limit: expected integer, got number")
        #expect(error(["phone_number": ""])?.message == "phone_number: must not be empty")
        #expect(error(["phone_number": "1", "mode": "c"]) != nil)
        #expect(error(["phone_number": "1", "tags": [1]])?.details?["path"] == .string("$.tags[0]"))
        #expect(error(["phone_number": "1", "extra": true])?.message.hasPrefix("unknown argument 'extra'") == true)
        #expect(error(.array([]))?.code == .invalidRequest)
    }

    @Test func nullableTypesAreUnions() {
        let nullable = Schema.string(nullable: true)
        #expect(nullable["type"] == ["string", "null"])
        let object = Schema.nullable(Schema.object([]))
        #expect(object["type"] == ["object", "null"])
    }
}

@Suite struct MethodCatalogueTests {
    @Test func everyMethodDeclaresObjectSchemasAndAnnotations() {
        for method in MethodCatalogue.standard.methods {
            #expect(method.name.hasPrefix("whatsapp_"))
            #expect(method.inputSchema["type"] == "object")
            #expect(method.outputSchema["type"] == "object")
            #expect(!method.description.isEmpty)
        }
        #expect(MethodCatalogue.standard.method(named: "whatsapp_status")?.annotations == .readOnlyLocal)
    }

    @Test func catalogueJSONListsTheTable() {
        let json = MethodCatalogue.standard.json
        let names = json["methods"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(names == MethodCatalogue.standard.methods.map(\.name))
        #expect(json["methods"]?.arrayValue?.first?["annotations"]?["read_only"] == .bool(true))
    }

    @Test func catalogueJSONCarriesBindingSignaturesAndTheErrorTable() {
        let json = MethodCatalogue.standard.json
        let send = json["methods"]?.arrayValue?.first { $0["name"] == "whatsapp_send_message" }
        #expect(send?["positional"] == ["to", "message"])
        #expect(send?["bindings_omit"] == ["phone_number"])
        #expect(send?["errors"]?.arrayValue?.contains("whatsapp_not_paired") == true)
        for method in MethodCatalogue.standard.methods {
            let arguments = method.inputSchema["properties"]?.objectValue?.keys ?? []
            #expect(Set(method.positional + method.bindingsOmit).isSubset(of: arguments), "\(method.name)")
            let required = method.inputSchema["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(Set(required).isSubset(of: method.positional), "\(method.name): required arguments are positional")
        }
        let errors = json["errors"]?.arrayValue ?? []
        #expect(errors.count == WauseError.Code.allCases.count)
        #expect(errors.first?["code"] == "invalid_request")
        #expect(errors.first?["value"] == .int(1))
        #expect(errors.allSatisfy { $0["summary"]?.stringValue?.isEmpty == false })
    }

    /// Issue 11: integers given as numeric strings are accepted everywhere, the contract tools
    /// included; other strings, out-of-range numbers and booleans-as-strings are still refused.
    @Test func integersGivenAsNumericStringsAreAccepted() throws {
        let (_, listed) = try MethodCatalogue.standard.prepare("whatsapp_list_chats", ["limit": "5"])
        #expect(listed["limit"] == .int(5))
        let (_, read) = try MethodCatalogue.standard.prepare("whatsapp_read_messages", ["phone_number": "15551234567", "limit": "10"])
        #expect(read["limit"] == .int(10))
        #expect(read["phone_number"] == "15551234567")
        for bad: JSONValue in [["limit": "0"], ["limit": "-1"], ["limit": "101"], ["limit": "5.5"], ["limit": " 5"], ["limit": "five"],
                               ["limit": "true"], ["limit": true], ["limit": ""]] {
            #expect(throws: WauseError.self, "\(bad)") { try MethodCatalogue.standard.prepare("whatsapp_list_chats", bad) }
        }
    }

    /// Issue 11: `to` on tools that send, `chat` on tools that read or act on a chat, each
    /// accepting the other; both given and different is `invalid_request`. The contract tools'
    /// schemas stay as they are.
    @Test func toAndChatNameTheSameChatEverywhere() throws {
        let catalogue = MethodCatalogue.standard
        for name in ["whatsapp_list_messages", "whatsapp_search_messages", "whatsapp_wait_for_message", "whatsapp_mark_read"] {
            var arguments: JSONObject = ["to": "15551234567"]
            if name == "whatsapp_search_messages" { arguments["query"] = "lunch" }
            let (_, prepared) = try catalogue.prepare(name, .object(arguments))
            #expect(prepared["chat"] == "15551234567" && prepared["to"] == nil, "\(name)")
            arguments["chat"] = "15550000000"
            #expect(throws: WauseError.self, "\(name)") { try catalogue.prepare(name, .object(arguments)) }
            arguments["chat"] = "15551234567"
            #expect(try catalogue.prepare(name, .object(arguments)).1["chat"] == "15551234567")
        }
        let (_, send) = try catalogue.prepare("whatsapp_send_message", ["chat": "15551234567", "message": "hi"])
        #expect(send["to"] == "15551234567" && send["chat"] == nil)
        #expect(throws: WauseError.self) { try catalogue.prepare("whatsapp_send_message", ["chat": "1555", "to": "1666", "message": "hi"]) }
        let sendSchema = try #require(catalogue.method(named: "whatsapp_send_message")?.inputSchema["properties"]?.objectValue)
        #expect(sendSchema.keys == ["phone_number", "to", "message", "quoted_message_id", "idempotency_key", "send_at"])
    }

    @Test func unknownMethodsAndNonObjectArgumentsAreInvalidRequests() {
        #expect(throws: WauseError.self) { try MethodCatalogue.standard.prepare("whatsapp_nope", .null) }
        #expect(throws: WauseError.self) { try MethodCatalogue.standard.prepare("whatsapp_status", [1]) }
        #expect(throws: WauseError.self) { try MethodCatalogue.standard.prepare("whatsapp_status", "x") }
        #expect(throws: Never.self) { try MethodCatalogue.standard.prepare("whatsapp_status", .null) }
    }
}

@Suite struct ClientConfigTests {
    @Test func parsesEveryKey() throws {
        let config = try ClientConfig(json: [
            "data_dir": "/tmp/x", "log_level": "debug", "server_url": "ws://127.0.0.1:8791/ws/chat",
            "server_root_key": .string(String(repeating: "ab", count: 32)), "client_version": "2.3000.1",
            "push_name": "Bot",
        ])
        #expect(config.dataDirectory == "/tmp/x")
        #expect(config.logLevel == .debug)
        #expect(config.serverURL == "ws://127.0.0.1:8791/ws/chat")
        #expect(config.serverRootKey == [UInt8](repeating: 0xAB, count: 32))
        #expect(config.clientVersion == "2.3000.1")
        #expect(config.pushName == "Bot")
    }

    @Test func defaultsPointAtWhatsApp() throws {
        let config = try ClientConfig(json: ["data_dir": "/tmp/x"])
        #expect(config.serverURL == "wss://web.whatsapp.com/ws/chat")
        #expect(Hex.encode(config.serverRootKey) == "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b")
        #expect(config.clientVersion == "2.3000.1045649367")
    }

    @Test(arguments: [
        JSONValue.array([]), ["log_level": "info"], ["data_dir": 5], ["data_dir": ""], ["data_dir": "/x", "colour": "red"],
        ["data_dir": "/x", "log_level": "loud"], ["data_dir": "/x", "server_url": "http://x"],
        ["data_dir": "/x", "server_root_key": "abcd"], ["data_dir": "/x", "client_version": "2.x.1"],
        ["data_dir": "/x", "push_name": .string(String(repeating: "n", count: 101))],
    ])
    func rejectsBadConfiguration(_ json: JSONValue) {
        do {
            _ = try ClientConfig(json: json)
            Issue.record("accepted \(json.serialized)")
        } catch {
            #expect(error.code == .invalidRequest)
        }
    }
}

@Suite struct PhoneNumberTests {
    @Test(arguments: [("+1 (555) 123-4567", "15551234567"), ("4915123456789", "4915123456789"), ("+44.20.7946.0958", "442079460958")])
    func normalises(_ input: String, _ expected: String) throws {
        #expect(try PhoneNumber.normalize(input) == expected)
    }

    @Test(arguments: ["", "+", "1234567", "0123456789", "1234567890123456", "++15551234567", "1555123456a", "15551234567+", "phone"])
    func rejects(_ input: String) {
        #expect(throws: WauseError.self) { try PhoneNumber.normalize(input) }
    }
}
