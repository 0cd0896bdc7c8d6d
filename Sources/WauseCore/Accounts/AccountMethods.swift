import WauseSupport
/// The account methods (issue 16, DESIGN.md account methods; toolset `accounts`). They live in
/// the catalogue, so every surface lists and validates them, but only `Accounts` answers them: a
/// single-account client (`data_dir`) answers `invalid_request`, since it has no other account.
enum AccountMethods {
    static let names: Set<String> = Set(all.map(\.name))

    static let accountSchema = Schema.object([
        ("account", Schema.string("the account id")),
        ("state", Schema.string("connection state (whatsapp_status states), or failed when its store did not open")),
        ("linked", Schema.boolean("linked to a phone")),
        ("phone", Schema.nullable(Schema.string("the linked phone number"))),
        ("jid", Schema.nullable(Schema.string("the linked device's JID"))),
        ("last_error", Schema.nullable(Schema.string("why the last attempt failed"))),
    ], required: ["account", "state", "linked", "phone", "jid", "last_error"])

    static let accountArgument = Schema.string("account id, phone number or name")

    static let all: [MethodDefinition] = [
        definition("whatsapp_list_accounts", "List accounts",
                   "Every account this process serves (accounts_dir mode), with its state and linked phone.",
                   input: Schema.object([]),
                   output: Schema.object([("accounts", Schema.array(of: accountSchema))], required: ["accounts"]),
                   annotations: .readOnlyLocal),
        definition("whatsapp_add_account", "Add an account",
                   """
                   Add an account (accounts_dir mode): its own store under accounts_dir. The id is name, or a generated \
                   one. Link it with whatsapp_start_auth or whatsapp_pairing_code passing account.
                   """,
                   input: Schema.object([("name", Schema.string("id for the account: 1–32 of a-z, 0-9, -"))]),
                   output: accountSchema,
                   annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: false, openWorld: false)),
        definition("whatsapp_get_account", "Get an account", "One account: its id, state and linked phone.",
                   input: Schema.object([("account", accountArgument)]), output: accountSchema, annotations: .readOnlyLocal),
        definition("whatsapp_get_account_status", "An account's status",
                   "One account's whatsapp_status object (state, linked account, store counts).",
                   input: Schema.object([("account", accountArgument)]),
                   output: Schema.object([("account", Schema.string("the account id")), ("status", StatusMethod.outputSchema)],
                                         required: ["account", "status"]),
                   annotations: .readOnlyLocal),
        definition("whatsapp_reconnect_account", "Reconnect an account",
                   "whatsapp_reconnect for one account: drop its connection and dial again now; answers once logged in.",
                   input: Schema.object([("account", accountArgument),
                                         ("timeout", Schema.integer("seconds to wait for the login (5–120)", minimum: 5, maximum: 120,
                                                                    defaultValue: 30))]),
                   output: Schema.object([("account", Schema.string("the account id")), ("status", StatusMethod.outputSchema)],
                                         required: ["account", "status"]),
                   annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: true, openWorld: true)),
        definition("whatsapp_logout_account", "Log an account out",
                   "whatsapp_logout for one account: unlink its device, keep its history and the account.",
                   input: Schema.object([("account", accountArgument)], required: ["account"]),
                   output: Schema.object([("account", Schema.string("the account id")), ("logout", Logout.logoutDefinition.outputSchema)],
                                         required: ["account", "logout"]),
                   annotations: MethodAnnotations(readOnly: false, destructive: true, idempotent: true, openWorld: true)),
        definition("whatsapp_delete_account", "Delete an account",
                   """
                   Close an account and delete its store (history, keys, media) for good. Needs confirm: true. Log it out \
                   first (whatsapp_logout_account) if the phone should forget the device too.
                   """,
                   input: Schema.object([("account", accountArgument), ("confirm", Schema.boolean("must be true"))],
                                        required: ["account", "confirm"]),
                   output: Schema.object([("account", Schema.string("the deleted account id")), ("deleted", Schema.boolean("true"))],
                                         required: ["account", "deleted"]),
                   annotations: MethodAnnotations(readOnly: false, destructive: true, idempotent: false, openWorld: false)),
    ]

    private static func definition(_ name: String, _ title: String, _ description: String, input: JSONValue, output: JSONValue,
                                   annotations: MethodAnnotations) -> MethodDefinition {
        MethodDefinition(name: name, title: title, description: description, inputSchema: input, outputSchema: output,
                         annotations: annotations,
                         handler: { _, _ throws(WauseError) in
                             throw .invalidRequest("\(name) needs several accounts in one process: start with accounts_dir "
                                                   + "(wause-mcp --accounts-dir) instead of data_dir")
                         })
            .inToolset("accounts").raising(.notFound)
            .summarized(description.count <= 200 ? description : String(description.prefix { $0 != "." }) + ".")
            // The bindings take every argument a method requires positionally (scripts/gen-bindings.py).
            .bindings(positional: Array(Set(input["required"]?.arrayValue?.compactMap(\.stringValue) ?? []))
                .sorted { $0 == "account" || $1 != "account" && $0 < $1 })
    }

    /// Answers an account method (arguments already validated) in accounts mode.
    static func answer(_ name: String, _ arguments: JSONObject, accounts: Accounts) async throws(WauseError) -> JSONObject {
        let selector = arguments["account"]?.stringValue
        switch name {
        case "whatsapp_list_accounts":
            return ["accounts": .array(accounts.ids.map { .object(summary($0, accounts: accounts)) })]
        case "whatsapp_add_account":
            let (id, _) = try accounts.add(name: arguments["name"]?.stringValue)
            return summary(id, accounts: accounts)
        case "whatsapp_get_account":
            return summary(try accounts.resolve(selector), accounts: accounts)
        case "whatsapp_get_account_status":
            let (id, client) = try accounts.client(for: selector)
            return ["account": .string(id), "status": .object(try await client.call("whatsapp_status", .null).get())]
        case "whatsapp_reconnect_account":
            let (id, client) = try accounts.client(for: selector)
            let timeout = arguments["timeout"] ?? .int(30)
            return ["account": .string(id), "status": .object(try await client.call("whatsapp_reconnect", ["timeout": timeout]).get())]
        case "whatsapp_logout_account":
            let (id, client) = try accounts.client(for: selector)
            return ["account": .string(id), "logout": .object(try await client.call("whatsapp_logout", .null).get())]
        case "whatsapp_delete_account":
            guard arguments["confirm"]?.boolValue == true else {
                throw .invalidRequest("deleting an account erases its store for good: pass confirm: true")
            }
            let id = try accounts.resolve(selector)
            try accounts.delete(id)
            return ["account": .string(id), "deleted": true]
        default:
            throw .internal("\(name) is not an account method")
        }
    }

    /// An account's line in `whatsapp_list_accounts`.
    static func summary(_ id: String, accounts: Accounts) -> JSONObject {
        guard let (_, client) = try? accounts.client(for: id) else {
            return ["account": .string(id), "state": "failed", "linked": false, "phone": .null, "jid": .null,
                    "last_error": JSONValue(accounts.failure(id))]
        }
        let (state, lastError) = client.connectionSnapshot()
        let linked = try? client.store.linkedAccount()
        let phone = linked.map { "+" + $0.jid.prefix(while: { $0 != ":" && $0 != "@" }) }
        return ["account": .string(id), "state": .string(state.rawValue), "linked": .bool(linked != nil),
                "phone": JSONValue(phone), "jid": JSONValue(linked?.jid), "last_error": JSONValue(lastError)]
    }
}
