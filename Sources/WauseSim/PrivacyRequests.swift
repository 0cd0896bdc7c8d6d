import WauseBinary
import WauseSupport
import WauseCrypto
import WauseProtocol

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
            var requests: [(jid: JID, t: Int64)] = []
            for request in tokens.children {
                guard request.tag == "token", request[attribute: "type"] == "trusted_contact",
                    let jid = MessageRouter.jid(request, "jid"), let t = request[attribute: "t"].flatMap(Int64.init)
                else { return .answer(ChatEndpoint.error(id, code: 400, text: "bad-request")) }
                requests.append((JID(user: jid.user, server: jid.server), t))
            }
            var issued: [MessageRouter.IssuedToken] = []
            for request in requests {
                if let grant = try router.storePrivacyToken(issuer: issuer, holder: request.jid, t: request.t) { issued.append(grant) }
            }
            let router = self.router, grants = issued
            return .answerThen(ChatEndpoint.result(id)) { router.announce(grants) }
        default:
            return nil
        }
    }
}

extension MessageRouter {
    /// A token made for `holder` (the user JID the issuer named), to be announced to its devices.
    struct IssuedToken: Sendable {
        let issuer: SimAccount
        let holder: SimAccount
        let holderJID: JID
        let token: [UInt8]
        let t: Int64
    }

    /// Makes and keeps a token `issuer` issues to the user `holder` names (either addressing
    /// form); nil for an unknown user or the issuer itself (skipped, as the server does).
    func storePrivacyToken(issuer: SimAccount, holder jid: JID, t: Int64) throws(WauseError) -> IssuedToken? {
        guard let holder = try state.account(jid: JID(user: jid.user, server: jid.server)), holder.phone != issuer.phone else {
            logger.debug("\(issuer.phone): privacy token for \(jid) skipped (no such user)")
            return nil
        }
        let token = environment.randomBytes(32)
        try state.storePrivacyToken(issuer: issuer.phone, holder: holder.phone, token: token, t: t)
        return IssuedToken(issuer: issuer, holder: holder, holderJID: JID(user: jid.user, server: jid.server), token: token, t: t)
    }

    /// Hands each token to its holder's connected devices (PrivacyTokens.notification: `from` the
    /// issuer's phone JID with its `sender_lid`).
    func announce(_ grants: [IssuedToken]) {
        for grant in grants {
            let notification = PrivacyTokens.notification(
                id: Hex.encode(environment.randomBytes(8)).uppercased(), issuer: JID(user: grant.issuer.phone, server: .whatsApp),
                issuerLID: JID(user: grant.issuer.lid, server: .lid), holder: grant.holderJID, token: grant.token, tokenT: grant.t,
                t: environment.now().seconds)
            for link in connections.allLinks where link.phone == grant.holder.phone { link.sendNow(notification) }
        }
    }

    /// A virtual phone issues its token to `holder` now, as a phone does after a 1:1 send or on a
    /// chat action (whatsmeow tctoken.go shouldSendTCTokenInChatAction, issuePrivacyToken).
    @discardableResult
    func issuePrivacyToken(from issuer: SimAccount, to holder: JID) throws(WauseError) -> IssuedToken? {
        guard let grant = try storePrivacyToken(issuer: issuer, holder: holder, t: environment.now().seconds) else { return nil }
        announce([grant])
        return grant
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
        guard let carried = try? MessageEnvelope(parsing: node).privacyToken,
            let issued = try state.privacyToken(issuer: recipient.phone, holder: sender.account.phone)
        else { return false }
        return carried == issued.token
    }
}
