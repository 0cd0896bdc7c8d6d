import WauseBinary
import WauseSupport
import WauseCrypto

/// The `privacy` iqs of a logged-in device, as whatsmeow sends them:
///
/// - `<iq xmlns="privacy" type="set"><tokens><token jid t type="trusted_contact"/></tokens></iq>`
///   (whatsmeow tctoken.go `issuePrivacyToken`, after a send): the server makes a token for the
///   pair (issuer's account, the user `jid` names), keeps the latest per pair, answers `result`,
///   and hands the token to that user's connected devices in
///   `<notification from=ISSUER type="privacy_token" sender_lid><tokens><token jid t
///   type="trusted_contact">bytes</token></tokens></notification>` (whatsmeow notification.go
///   `handlePrivacyTokenNotification` stores it per sender). Tokens of unknown users are skipped.
/// - `<iq xmlns="privacy" type="get"><privacy/></iq>` (privacysettings.go
///   `TryFetchPrivacySettings`): `<privacy>` with one `<category name value/>` per setting.
extension ChatEndpoint {
    /// The settings of an account that never changed them, by whatsmeow's category names
    /// (types/user.go PrivacySettingType) with values from their documented sets.
    static let defaultPrivacySettings: [(name: String, value: String)] = [
        ("last", "all"), ("online", "all"), ("profile", "all"), ("status", "contacts"), ("readreceipts", "all"),
        ("groupadd", "all"), ("calladd", "all"), ("messages", "all"), ("defense", "off"), ("stickers", "contacts"),
    ]

    /// Nil when it is not a privacy request the server knows (the caller answers 501).
    func privacyRequest(_ node: Node, id: String, device: SimDevice) throws -> DeviceRequests.Reply? {
        switch node[attribute: "type"] {
        case "get" where node.child("privacy") != nil:
            let categories = ChatEndpoint.defaultPrivacySettings.map {
                Node(tag: "category", attributes: ["name": .text($0.name), "value": .text($0.value)])
            }
            return .answer(ChatEndpoint.result(id, [Node(tag: "privacy", children: categories)]))
        case "set":
            guard let tokens = node.child("tokens") else { return nil }
            guard let issuer = try state.account(phone: device.phone) else { return nil }
            var issued: [(holder: SimAccount, jid: JID, token: [UInt8], t: String)] = []
            for request in tokens.children {
                guard request.tag == "token", request[attribute: "type"] == "trusted_contact",
                    let jid = MessageRouter.jid(request, "jid"), let t = request[attribute: "t"], Int64(t) != nil
                else { return .answer(ChatEndpoint.error(id, code: 400, text: "bad-request")) }
                guard let holder = try state.account(jid: JID(user: jid.user, server: jid.server)), holder.phone != issuer.phone else {
                    logger.debug("\(device.jid): privacy token for \(jid) skipped (no such user)")
                    continue
                }
                let token = environment.randomBytes(32)
                try state.storePrivacyToken(issuer: issuer.phone, holder: holder.phone, token: token, t: Int64(t)!)
                issued.append((holder, JID(user: jid.user, server: jid.server), token, t))
            }
            let connections = self.connections, environment = self.environment, grants = issued
            return .answerThen(ChatEndpoint.result(id)) {
                for grant in grants {
                    let notification = Node(tag: "notification", attributes: [
                        "from": .jid(JID(user: issuer.phone, server: .whatsApp)),
                        "sender_lid": .jid(JID(user: issuer.lid, server: .lid)),
                        "id": .text(Hex.encode(environment.randomBytes(8)).uppercased()), "type": "privacy_token",
                        "t": .text(String(environment.now().seconds)),
                    ], children: [Node(tag: "tokens", children: [
                        Node(tag: "token", attributes: ["jid": .jid(grant.jid), "t": .text(grant.t), "type": "trusted_contact"],
                             bytes: grant.token),
                    ])])
                    for link in connections.allLinks where link.phone == grant.holder.phone { link.sendNow(notification) }
                }
            }
        default:
            return nil
        }
    }
}

extension SimState {
    /// Keeps the token `issuer` issued for `holder` (the latest one per pair of users).
    func storePrivacyToken(issuer: String, holder: String, token: [UInt8], t: Int64) throws(WauseError) {
        let now = clock()
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("""
                INSERT INTO privacy_tokens (issuer, holder, token, t, issued_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (issuer, holder) DO UPDATE SET token = excluded.token, t = excluded.t, issued_at = excluded.issued_at
                """, [.text(issuer), .text(holder), .blob(token), .integer(t), .time(now)])
        }
    }

    /// The token `issuer` issued for `holder`, if any: what a message from `holder` to `issuer`
    /// may carry as its `<tctoken>`.
    func privacyToken(issuer: String, holder: String) throws(WauseError) -> (token: [UInt8], t: Int64)? {
        try database.withConnection { (c) throws(WauseError) in
            guard let row = try c.query("SELECT token, t FROM privacy_tokens WHERE issuer = ? AND holder = ?",
                                        [.text(issuer), .text(holder)]).first,
                let token = row["token"].blob, let t = row["t"].integer
            else { return nil }
            return (token, t)
        }
    }
}

extension MessageRouter {
    /// The server's reach-out rule when started with `--require-privacy-token` (whatsmeow
    /// send.go attaches `<tctoken>` to 1:1 messages, tctoken.go; an ack with error 463 is the
    /// server's refusal, Baileys messages-recv.ts handleBadAck): a 1:1 message passes when the rule
    /// is off, between an account's own devices, when the two users have exchanged a message
    /// before (either way: a reply needs no token), or when it carries as `<tctoken>` the token
    /// the recipient issued for the sender. Anything else is a first message without a token.
    func reachOutAllowed(_ node: Node, to: JID, from sender: SimEndpoint) throws -> Bool {
        guard requirePrivacyToken, let recipient = try state.account(jid: JID(user: to.user, server: to.server)),
            recipient.phone != sender.account.phone
        else { return true }
        if try state.contacts(of: sender.account).contains(recipient.phone) { return true }
        guard let carried = node.child("tctoken")?.bytes, let issued = try state.privacyToken(issuer: recipient.phone, holder: sender.account.phone)
        else { return false }
        return carried == issued.token
    }
}
