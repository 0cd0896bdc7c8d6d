import Synchronization
import WauseBinary
import WauseProtocol
import WauseSupport
import WauseTransport

/// Expired media (whatsmeow mediaretry.go SendMediaRetryReceipt, handleMediaRetryNotification):
/// a download the host answered 404/410 asks the sender's phone, through the server, to upload
/// the file again — a `server-error` receipt sealed with the media key (MediaRetryStanzas) — and
/// waits for the `mediaretry` notification with the new direct path. Only holders of the media key
/// can ask or read the answer; an answer that does not open under our key is ignored.
final class MediaRetry: Sendable {
    /// How long a download waits for the phone's answer before saying the media expired.
    static let answerWait: Duration = .seconds(30)

    private let waiting = Mutex<[String: CheckedContinuation<Node?, Never>]>([:])
    private let link: ServerLink
    private let environment: Environment
    private let logger: Logger

    init(link: ServerLink, environment: Environment, logger: Logger) {
        self.link = link
        self.environment = environment
        self.logger = logger
    }

    /// `mediaretry` notifications: the answer goes to the download waiting for it; acked either way.
    func route(_ router: inout StanzaRouter) {
        router.on(.typed(tag: "notification", type: "mediaretry")) { [self] node, session in
            if let id = node[attribute: "id"] { resume(id, with: node) }
            if let ack = Acknowledgement.ack(for: node) { try? session.connection.send(ack) }
        }
    }

    /// Asks for a new upload of `stored`'s file; answers its new direct path, or nil when the
    /// phone cannot (it no longer has the file) or does not answer in time.
    func newDirectPath(for stored: Store.StoredMedia, ownJID: JID, sender: JID?) async throws(WauseError) -> String? {
        guard let mediaKey = stored.media.mediaKey, let chat = JID(stored.chatJID) else { return nil }
        guard let session = link.currentSession, session.loggedIn else {
            throw WauseError(.notConnected, "not connected: an expired file is asked again through the server")
        }
        let reference = MediaRetryStanzas.MessageReference(chat: chat, fromMe: stored.fromMe,
                                                           participant: chat.server == .group ? sender : nil)
        let request: MediaRetryStanzas.Request
        do {
            request = try MediaRetryStanzas.Request.sealed(messageID: stored.messageID, to: ownJID, reference: reference,
                                                           mediaKey: mediaKey, random: environment.randomBytes)
        } catch { throw .internal("cannot seal the media retry request: \(error)") }
        let id = stored.messageID
        let environment = self.environment
        let answer: Node? = await withCheckedContinuation { continuation in
            waiting.withLock { $0[id] = continuation }
            do { try session.connection.send(request.node) } catch {
                resume(id, with: nil)
                return
            }
            Task { [weak self] in
                try? await environment.sleep(MediaRetry.answerWait)
                self?.resume(id, with: nil)
            }
        }
        guard let answer else {
            logger.warning("media: no answer to the retry request for \(id)")
            return nil
        }
        do {
            let notification = try MediaRetryStanzas.Notification(parsing: answer)
            guard let opened = try notification.opened(mediaKey: mediaKey) else {
                logger.info("media: the phone cannot upload \(id) again (it no longer has it)")
                return nil
            }
            guard opened.stanzaID == id, opened.result == .success, opened.hasDirectPath, !opened.directPath.isEmpty else {
                logger.info("media: the phone's answer for \(id) carries no new file (\(opened.result))")
                return nil
            }
            return opened.directPath
        } catch {
            logger.warning("media: unusable retry answer for \(id): \(error)")
            return nil
        }
    }

    private func resume(_ id: String, with node: Node?) {
        waiting.withLock { $0.removeValue(forKey: id) }?.resume(returning: node)
    }
}
