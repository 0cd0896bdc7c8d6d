import WauseBinary
import WauseProtocol
import WauseSupport
import WauseTransport

/// Trusted-contact privacy tokens on the engine's side (whatsmeow tctoken.go, cstoken.go,
/// notification.go handlePrivacyTokenNotification; the formulas and stanzas are
/// WauseProtocol/PrivacyTokens.swift): today's server refuses a first 1:1 message to someone who
/// has not issued the sender a token (ack error 463). So:
///
/// - a `privacy_token` notification (a contact issued us a token) is stored under the issuer's
///   LID, and only then acked;
/// - a 1:1 send carries the recipient's token as `<tctoken>` while it is fresh, else a
///   `<cstoken>` when we have the NCT salt (without it — before history sync — neither, as
///   whatsmeow does);
/// - after a 1:1 send the server acked, we issue our own token to the recipient once per 7-day
///   bucket, in the background of the connection;
/// - group creates and adds carry each participant's token as `<privacy>` (whatsmeow group.go).
struct PrivacyTokenExchange: Sendable {
    let store: Store
    let environment: Environment
    let logger: Logger

    func route(_ router: inout StanzaRouter) {
        router.on(.typed(tag: "notification", type: "privacy_token")) { [self] node, session in
            // Stored, then acked (ConnectionSession leaves this type's ack to us); a store that refused gets it again.
            if receive(node), let ack = Acknowledgement.ack(for: node) { try? session.connection.send(ack) }
        }
    }

    /// Stores the tokens of a `privacy_token` notification; false when the store refused them.
    func receive(_ node: Node) -> Bool {
        let grants: [PrivacyTokens.Grant]
        do { grants = try PrivacyTokens.Grant.parse(node) } catch {
            logger.debug("privacy_token notification: \(error); ignored")
            return true
        }
        let now = environment.now()
        do {
            for grant in grants {
                // The notification names the issuer by phone and LID: one contact (whatsmeow stores the LID mapping it learns).
                if grant.issuer.server == .whatsApp, let lid = grant.issuerLID {
                    _ = try store.contact(phone: grant.issuer.user, lid: lid.user, now: now)
                }
                try store.savePrivacyToken(grant.token, from: grant.issuerLID ?? grant.issuer, t: UnixTime(seconds: grant.t), now: now)
                logger.debug("privacy token from \(grant.issuerLID ?? grant.issuer) stored")
            }
            return true
        } catch {
            logger.error("cannot store privacy tokens: \(error.message)")
            return false
        }
    }

    /// What a 1:1 send to `user` carries: the held token while fresh, else a cstoken when the
    /// salt and the recipient's LID are known (whatsmeow send.go sendDM), else nothing.
    static func attachment(for user: JID, store: Store, now: UnixTime) throws(WauseError) -> (tcToken: [UInt8]?, csToken: [UInt8]?) {
        guard PrivacyTokens.applies(to: user) else { return (nil, nil) }
        if let token = try heldToken(for: user, store: store, now: now) { return (token, nil) }
        guard let salt = try store.nctSalt(), !salt.isEmpty, let lid = JID(try store.privacyTokenKey(for: user)), lid.server == .lid else {
            return (nil, nil)
        }
        return (nil, PrivacyTokens.csToken(salt: salt, recipientLID: lid))
    }

    /// The token `user` issued us, if we hold one that has not expired (whatsmeow ensureTCToken).
    static func heldToken(for user: JID, store: Store, now: UnixTime) throws(WauseError) -> [UInt8]? {
        guard PrivacyTokens.applies(to: user), let held = try store.privacyToken(for: user), let token = held.token, !token.isEmpty,
            let t = held.tokenTime, !PrivacyTokens.isExpired(t: t.seconds, now: now.seconds)
        else { return nil }
        return token
    }

    /// After a 1:1 send the server accepted: issue our token to `user` if we have not in this
    /// bucket (whatsmeow sendDM → issuePrivacyTokenAndSave). The time is recorded only once the
    /// server answered `result`, so a failed issue is tried again after the next send.
    func issueIfDue(to user: JID, connection: ServerConnection) async {
        let now = environment.now()
        do {
            guard PrivacyTokens.applies(to: user),
                PrivacyTokens.shouldIssue(lastIssued: try store.privacyToken(for: user)?.issuedAt?.seconds, now: now.seconds)
            else { return }
            // Issued to the user's LID when we know it (whatsmeow issues to the storage JID, resolveTCTokenStorageLID).
            let target = JID(try store.privacyTokenKey(for: user)) ?? user
            let answer = try await connection.query(PrivacyTokens.issue(id: connection.nextID(), to: target, t: now.seconds),
                                                    timeout: ServerConnection.queryTimeout, environment: environment)
            guard answer[attribute: "type"] == "result" else {
                logger.warning("the server refused our privacy token for \(target) (\(answer.child("error")?[attribute: "code"] ?? "?"))")
                return
            }
            try store.notePrivacyTokenIssued(to: user, at: now)
            logger.debug("privacy token issued to \(target)")
        } catch {
            logger.warning("cannot issue our privacy token to \(user): \(error.message)")
        }
    }
}
