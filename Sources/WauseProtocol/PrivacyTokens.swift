import WauseBinary
import WauseCrypto

/// Trusted-contact privacy tokens, both sides of the wire (whatsmeow tctoken.go, cstoken.go,
/// notification.go handlePrivacyTokenNotification, send.go sendDM):
///
/// - after a 1:1 send, the sender *issues* a token to the recipient once per time bucket:
///   `<iq xmlns="privacy" type="set" to="s.whatsapp.net"><tokens><token jid t
///   type="trusted_contact"/></tokens></iq>` (`issue`);
/// - the server hands the token to the recipient's devices in `<notification type="privacy_token"
///   from sender_lid><tokens><token jid t type="trusted_contact">bytes</token></tokens>`
///   (`notification`, `Grant.parse`);
/// - the holder attaches it as `<tctoken>` to its 1:1 messages to the issuer, or, holding none, a
///   `<cstoken>` = HMAC-SHA256(nctSalt, recipient's LID JID as text) when it has the salt
///   (`csToken`).
///
/// Times here are Unix seconds, as on the wire.
public enum PrivacyTokens {
    /// whatsmeow tctoken.go tcTokenBucketDuration (the AB prop `tctoken_duration`): 7 days.
    public static let bucketSeconds: Int64 = 604_800
    /// whatsmeow tctoken.go tcTokenNumBuckets: a token is good for the current bucket and the three before it.
    public static let bucketCount: Int64 = 4

    /// The oldest token timestamp still in use at `now` (whatsmeow currentTCTokenCutoffTimestamp).
    public static func cutoff(now: Int64) -> Int64 {
        (now / bucketSeconds - (bucketCount - 1)) * bucketSeconds
    }

    /// Whether a token stamped `t` is too old to attach (whatsmeow isTCTokenExpired).
    public static func isExpired(t: Int64, now: Int64) -> Bool {
        t <= 0 || t < cutoff(now: now)
    }

    /// Whether to issue our token again: never issued, or issued in an earlier bucket
    /// (whatsmeow shouldSendNewTCToken).
    public static func shouldIssue(lastIssued: Int64?, now: Int64) -> Bool {
        guard let lastIssued, lastIssued > 0 else { return true }
        return now / bucketSeconds > lastIssued / bucketSeconds
    }

    /// Whether a 1:1 chat takes tokens at all: a user on `s.whatsapp.net` or `lid` (whatsmeow
    /// shouldSendTCTokenInChatAction, shouldSendCsToken; bots and the PSA account are left out).
    public static func applies(to user: JID) -> Bool {
        (user.server == .whatsApp || user.server == .lid) && user.user != "0"
    }

    /// whatsmeow cstoken.go generateCsToken: HMAC-SHA256 keyed with the account's NCT salt over the
    /// recipient's LID user JID as text (`12345@lid`). Nil without a salt or for a non-LID JID.
    public static func csToken(salt: [UInt8], recipientLID: JID) -> [UInt8]? {
        guard !salt.isEmpty, recipientLID.server == .lid else { return nil }
        return HMAC.sha256(key: salt, message: Array(JID(user: recipientLID.user, server: .lid).description.utf8))
    }

    /// The `privacy` iq that issues our token to `user` (whatsmeow tctoken.go issuePrivacyToken).
    public static func issue(id: String, to user: JID, t: Int64) -> Node {
        Node(tag: "iq", attributes: ["id": .text(id), "xmlns": "privacy", "type": "set", "to": .jid(.whatsAppServer)], children: [
            Node(tag: "tokens", children: [
                Node(tag: "token", attributes: ["jid": .jid(JID(user: user.user, server: user.server)), "t": .text(String(t)),
                                                "type": "trusted_contact"]),
            ]),
        ])
    }

    /// One token the server hands on: issued by `issuer` (its phone JID, with its LID when the
    /// server gives it), stamped `t`.
    public struct Grant: Equatable, Sendable {
        public var issuer: JID
        public var issuerLID: JID?
        public var token: [UInt8]
        public var t: Int64

        public init(issuer: JID, issuerLID: JID?, token: [UInt8], t: Int64) {
            self.issuer = issuer
            self.issuerLID = issuerLID
            self.token = token
            self.t = t
        }

        /// The grants of a `privacy_token` notification; `<token>`s of another type or without
        /// bytes are skipped, as whatsmeow does.
        public static func parse(_ node: Node) throws(MalformedStanza) -> [Grant] {
            guard node.tag == "notification", node[attribute: "type"] == "privacy_token" else {
                throw MalformedStanza(tag: node.tag, reason: "not a privacy_token notification")
            }
            guard let from = node.address("from") else { throw MalformedStanza(tag: "notification", reason: "no sender") }
            guard let tokens = node.child("tokens") else { throw MalformedStanza(tag: "notification", reason: "no <tokens>") }
            let issuer = JID(user: from.user, server: from.server)
            let lid = node.address("sender_lid").map { JID(user: $0.user, server: $0.server) } ?? (issuer.server == .lid ? issuer : nil)
            return tokens.children("token").compactMap { token in
                guard token[attribute: "type"] == "trusted_contact", let bytes = token.bytes, !bytes.isEmpty else { return nil }
                return Grant(issuer: issuer, issuerLID: lid, token: bytes, t: token[attribute: "t"].flatMap(Int64.init) ?? 0)
            }
        }
    }

    /// What the server sends the holder when `issuer` (phone JID, and its LID) issued it a token.
    public static func notification(id: String, issuer: JID, issuerLID: JID, holder: JID, token: [UInt8], tokenT: Int64, t: Int64) -> Node {
        Node(tag: "notification", attributes: [
            "from": .jid(issuer), "sender_lid": .jid(issuerLID), "id": .text(id), "type": "privacy_token", "t": .text(String(t)),
        ], children: [Node(tag: "tokens", children: [
            Node(tag: "token", attributes: ["jid": .jid(holder), "t": .text(String(tokenT)), "type": "trusted_contact"], bytes: token),
        ])])
    }
}
