import Synchronization
import WauseBinary
import WauseProtocol
import WauseSupport
import WauseTransport

/// The pairing stanzas of one linking connection: the server's `pair-device` iq (QR refs, or the
/// moment to ask for a pairing code), the phone's `link_code_companion_reg` notifications, and
/// `pair-success` (whatsmeow pair.go handlePairDevice/handlePairSuccess, pair-code.go
/// handleCodePairNotification). Holds what those steps share on this connection.
final class LinkingHandlers: Sendable {
    private let store: Store
    private let config: ClientConfig
    private let status: ConnectionStatus
    private let keys: DeviceKeys
    private let environment: Environment
    private let logger: Logger
    private let publisher: EventPublisher
    private let qr: QRRotation
    private let pairingCode: PairingCodeHandshake
    private struct State {
        var sawPairDevice = false
        var pairedNow = false
    }
    private let state = Mutex(State())

    init(store: Store, config: ClientConfig, status: ConnectionStatus, keys: DeviceKeys, environment: Environment,
         logger: Logger, publisher: EventPublisher) {
        self.store = store
        self.config = config
        self.status = status
        self.keys = keys
        self.environment = environment
        self.logger = logger
        self.publisher = publisher
        self.qr = QRRotation(keys: keys, status: status, environment: environment, logger: logger, publisher: publisher)
        self.pairingCode = PairingCodeHandshake(keys: keys, environment: environment)
    }

    static func route(_ router: inout StanzaRouter) {
        router.on(.iqChild("pair-device")) { node, session in
            guard node[attribute: "type"] == "set", node.attributes["from"]?.jid == .whatsAppServer,
                  let id = node[attribute: "id"], let pairDevice = node.child("pair-device") else { return }
            // Ack first, as whatsmeow does: `<iq to=from type=result id=same/>`.
            try? session.connection.send(Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "result", "id": .text(id)]))
            session.pairing?.pairDevice(QRRotation.refs(of: pairDevice), session: session)
        }
        router.on(.iqChild("pair-success")) { node, session in
            guard node[attribute: "type"] == "set", node.attributes["from"]?.jid == .whatsAppServer,
                  PairSuccess.isPairSuccess(node), let id = node[attribute: "id"] else { return }
            session.pairing?.pairSuccess(node, id: id, session: session)
        }
        router.on(.typed(tag: "notification", type: "link_code_companion_reg")) { node, session in
            session.pairing?.companionRegistration(node, session: session)
        }
    }

    /// Whether this connection took a pair-success and stored the link.
    var paired: Bool { state.withLock { $0.pairedNow } }

    func canIssueCode(ended: Bool) -> Bool { state.withLock { $0.sawPairDevice && !$0.pairedNow && !ended } }

    /// Why the linking connection that ended must not be redialled, if it must not: a pairing code
    /// belongs to its connection, and a QR rotation on its last ref has nothing left to show.
    var endedWithoutReconnect: String? {
        if state.withLock({ $0.pairedNow }) { return nil }
        if pairingCode.current != nil {
            return "the pairing code was not entered before WhatsApp closed the linking connection"
        }
        if qr.isShowingLastRef { return "the QR code was not scanned in time (WhatsApp closed the linking connection)" }
        return nil
    }

    func stop() { qr.stop() }

    private func pairDevice(_ refs: [String], session: ConnectionSession) {
        guard !refs.isEmpty else {
            session.finish(.failed("the server sent a pair-device request without refs"))
            session.connection.close()
            return
        }
        state.withLock { $0.sawPairDevice = true }
        switch session.loop.linkMode {
        case .qr:
            qr.show(refs) { [logger] in
                logger.info("QR code expired: all \(refs.count) codes were shown without a scan")
                session.finish(.failed("the QR code was not scanned in time (all \(refs.count) codes expired)"))
                session.connection.close()
            }
        case .code(let phone):
            // whatsmeow asks for a code once the server is ready for us (after pair-device).
            session.spawn { [self] in
                do throws(WauseError) {
                    session.loop.codeRequests.resolveAll(with: try await issueCode(phone: phone, session: session))
                } catch {
                    session.loop.failCodeRequests(error)
                }
            }
        }
    }

    /// The first stage of the code flow on this connection (whatsmeow pair-code.go PairPhone): the
    /// QR rotation (if any) stops, the state becomes `pairing_code` and a `pairing.code` event goes out.
    func issueCode(phone: String, session: ConnectionSession) async throws(WauseError) -> PairingCodeHandshake.Issued {
        qr.stop()
        let issued: PairingCodeHandshake.Issued
        do {
            issued = try await pairingCode.issue(phone: phone, connection: session.connection)
        } catch {
            if error.code == .notOnWhatsApp {
                // Nothing to link on this connection: linking fails with the reason (auth_failure).
                logger.info("pairing code refused: \(Logger.redact("+" + phone)) is not on WhatsApp")
                session.finish(.failed(error.message))
                session.connection.close()
            }
            throw error
        }
        let shown = LinkCodeCrypto.display(issued.code)
        logger.info("pairing code issued for \(Logger.redact("+" + issued.phone))")
        status.setPairingCode(shown)
        status.transition(to: .pairingCode, lastError: .some(nil))
        publisher.publish(.pairingCode, ["code": .string(shown), "phone_number": .string(issued.phone)])
        return issued
    }

    /// The phone entered the code (whatsmeow pair-code.go handleCodePairNotification): answer with
    /// `companion_finish`.
    private func companionRegistration(_ node: Node, session: ConnectionSession) {
        do throws(WauseError) {
            let finish = try pairingCode.companionFinish(for: node, id: session.connection.nextID())
            session.spawn { [environment, logger] in
                do throws(WauseError) {
                    let answer = try await session.connection.query(finish, timeout: ServerConnection.queryTimeout,
                                                                    environment: environment)
                    if answer[attribute: "type"] == "error" {
                        logger.warning("the server refused companion_finish: \(answer.child("error")?[attribute: "text"] ?? "?")")
                    }
                } catch {
                    logger.warning("companion_finish: \(error.message)")
                }
            }
        } catch {
            logger.warning("pairing code: \(error.message)")
        }
    }

    /// whatsmeow pair.go handlePairSuccess: verify, store, countersign. Pure checks first, then one
    /// transaction, then the reply — so a rejected or failed pairing leaves nothing behind.
    private func pairSuccess(_ node: Node, id: String, session: ConnectionSession) {
        qr.stop()
        let connection = session.connection
        let identity = keys.current
        let advSecret = pairingCode.advSecret ?? identity.advSecret
        let link: PairSuccess.Link
        do {
            link = try PairSuccess.verify(node.child("pair-success")!, identity: identity, advSecret: advSecret,
                                          random: environment.randomBytes)
        } catch {
            try? connection.send(PairSuccess.errorReply(id: id, error))
            session.finish(.failed(error.message))
            connection.close()
            return
        }
        do {
            try store.savePairing(link, advSecret: advSecret, pushName: config.pushName,
                                         server: config.dialTarget(for: nil), now: environment.now())
        } catch {
            try? connection.send(PairSuccess.errorReply(id: id, .malformed("cannot store the link")))
            session.finish(.failed("cannot store the link: \(error.message)"))
            connection.close()
            return
        }
        if let t = node[attribute: "t"], let seconds = Int64(t) { status.setServerTimeOffset(UnixTime(seconds: seconds) - environment.now()) }
        keys.update { $0.advSecret = advSecret }
        state.withLock { $0.pairedNow = true }
        status.setPairingQR(nil)
        status.setPairingCode(nil)
        try? connection.send(PairSuccess.signReply(id: id, link: link))
        status.transition(to: .authenticated, lastError: .some(nil))
        logger.info("paired as \(Logger.redact(link.jid.description))" + (link.platform.map { " (phone platform \($0))" } ?? ""))
        publisher.publish(.accountPaired, [
            "jid": .string(link.jid.description), "wid": .string(LinkedAccount.userJID(link.jid.description)),
            "lid": JSONValue(link.lid.map { LinkedAccount.userJID($0.description) }),
            "platform": JSONValue(link.platform), "business_name": JSONValue(link.businessName),
        ])
    }
}
