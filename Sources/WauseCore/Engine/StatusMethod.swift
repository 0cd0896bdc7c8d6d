import WauseSupport
/// `whatsapp_status`: the seven-tool contract's status object (DESIGN.md), built from the
/// engine's connection state and the store. `whatsapp_start_auth` and `whatsapp_pairing_code`
/// return the same object, so its schema lives here.
public enum StatusMethod {
    public static let accountSchema = Schema.nullable(Schema.object([
        ("wid", Schema.string("own JID, user@s.whatsapp.net")),
        ("lid", Schema.string("own LID JID, user@lid", nullable: true)),
        ("pushname", Schema.string("own push name", nullable: true)),
        ("platform", Schema.string("the linked phone's platform", nullable: true)),
    ], required: ["wid", "lid", "pushname", "platform"]))

    static let properties: [(String, JSONValue)] = [
        ("state", Schema.string("connection state", enumeration: ConnectionState.allCases.map(\.rawValue))),
        ("ready", Schema.boolean("logged in, sending and receiving")),
        ("authenticated", Schema.boolean("this device is linked to an account")),
        ("has_qr", Schema.boolean("a pairing QR is waiting to be scanned (see /qr)")),
        ("last_error", Schema.string("why the last link or login failed", nullable: true)),
        ("account", accountSchema),
        ("data_dir", Schema.string("the directory holding this client's store")),
        ("store", Schema.object([
            ("chats", Schema.integer(minimum: 0)),
            ("messages", Schema.integer(minimum: 0)),
            ("unread", Schema.integer(minimum: 0)),
            ("pending_approvals", Schema.integer(minimum: 0)),
        ], required: ["chats", "messages", "unread", "pending_approvals"])),
    ]
    static let required = ["state", "ready", "authenticated", "has_qr", "last_error", "account", "data_dir", "store"]
    public static let outputSchema = Schema.object(properties, required: required)

    public static let definition = MethodDefinition(
        name: "whatsapp_status",
        title: "WhatsApp status",
        description: """
            Report the WhatsApp connection state (stopped, starting, qr, pairing_code, authenticated, ready, \
            disconnected, auth_failure, logged_out, client_outdated), whether this device is linked and ready, \
            the linked account, and counts from the local store. Reads local state only; never dials.
            """,
        inputSchema: Schema.object([]),
        outputSchema: outputSchema,
        annotations: .readOnlyLocal,
        handler: { context, _ throws(WauseError) in try context.statusObject() }
    )
}

extension MethodContext {
    /// The status object, with truthful values from the store.
    func statusObject() throws(WauseError) -> JSONObject {
        let account = try store.linkedAccount()
        let summary = try store.summary()
        let (state, lastError) = status.snapshot()
        let accountJSON: JSONValue = account.map { account in
            [
                "wid": .string(LinkedAccount.userJID(account.jid)), "lid": JSONValue(account.lid.map(LinkedAccount.userJID)),
                // The configured push_name is the one each login sends (Login.swift), so it wins over
                // what the store kept at linking (nothing, when it was configured later; issue 11).
                "pushname": JSONValue(config.pushName ?? account.pushName), "platform": JSONValue(account.platform),
            ]
        } ?? .null
        return [
            "state": .string(state.rawValue),
            "ready": .bool(state.isReady),
            "authenticated": .bool(state.isAuthenticated(linked: account != nil)),
            "has_qr": .bool(state.hasQR),
            "last_error": JSONValue(lastError),
            "account": accountJSON,
            "data_dir": .string(store.directory),
            "store": [
                "chats": .int(summary.chats), "messages": .int(summary.messages),
                "unread": .int(summary.unread), "pending_approvals": .int(summary.pendingApprovals),
            ],
        ]
    }
}

extension LinkedAccount {
    /// `user:device@server` → `user@server`: the status reports the account, not this device.
    static func userJID(_ jid: String) -> String {
        guard let at = jid.firstIndex(of: "@") else { return jid }
        let user = jid[..<at]
        let bare = user.firstIndex(of: ":").map { user[..<$0] } ?? user
        return String(bare + jid[at...])
    }
}
