import SwiftProtobuf
import WauseBinary
import WauseProto
import WauseProtocol
import WauseSupport

/// Expired media, the phone's side (whatsmeow mediaretry.go; the reference fact map's media
/// re-upload request): a device whose download of a phone's media answered 404/410 sends a
/// `server-error` receipt. The server routes it to the phone that sent the message (the chat, or
/// the group participant; the device's own phone for `from_me`), which opens the request with the
/// media key, uploads its kept copy of the file again under a new direct path, and answers the
/// device with a `mediaretry` notification sealed with the same key — or `<error code="2">` when
/// it does not have the message or file any more.
extension VirtualPhones {
    /// Handles the receipt from `device`; answers the server's ack for it.
    func mediaRetry(_ node: Node, from device: SimEndpoint) throws(WauseError) -> Node? {
        let request: MediaRetryStanzas.Request
        do { request = try MediaRetryStanzas.Request(parsing: node) } catch {
            logger.info("\(device.jid(.whatsApp)): \(error), dropped")
            return nil
        }
        let id = request.messageID
        let ack = Node(tag: "ack", attributes: ["class": "receipt", "id": .text(id), "type": "server-error", "from": .jid(request.to)])
        let reference = request.reference
        let senderJID = reference.fromMe ? JID(user: device.account.phone, server: .whatsApp) : (reference.participant ?? reference.chat)
        let own = JID(user: device.account.phone, server: .whatsApp)
        let t = environment.now().seconds

        var notification = MediaRetryStanzas.Notification(messageID: id, from: own, t: t, reference: reference,
                                                          content: .error(code: MediaRetryStanzas.notAvailableOnPhone))
        if let sender = try state.account(jid: senderJID), let sent = try state.sentByPhone(phone: sender.phone, messageID: id),
            let message = try? WAWebProtobufsE2E_Message(serializedBytes: sent.payload), let file = PhoneMedia.keyAndHash(of: message) {
            // The phone opens the request first: only a holder of the media key may have it uploaded again.
            let result: WAMmsRetry_MediaRetryNotification.ResultType
            var directPath: String?
            if (try? request.stanzaID(mediaKey: file.mediaKey)) != id {
                result = .decryptionError
            } else if let path = try media.store.reuploadSent(fileEncSHA256: file.fileEncSHA256) {
                result = .success
                directPath = path
            } else {
                result = .notFound
            }
            do {
                notification = try MediaRetryStanzas.Notification.sealed(messageID: id, from: own, t: t, reference: reference, result: result,
                                                                         directPath: directPath, mediaKey: file.mediaKey,
                                                                         random: environment.randomBytes)
            } catch {
                throw WauseError(.internal, "cannot seal the media retry answer: \(error)")
            }
            logger.info("virtual phone \(sender.phone): media retry for \(id) from \(device.jid(.whatsApp)): \(result)")
        } else {
            logger.info("media retry for \(id) from \(device.jid(.whatsApp)): \(senderJID)'s phone has no such media")
        }
        try router.deliver([QueuedStanza(phone: device.account.phone, device: device.device, kind: .notification, node: notification.node)])
        return ack
    }
}
