import Testing
import WauseBinary
import WauseCrypto
import WauseProto
import WauseProtocol
@testable import WauseSim
import WauseSupport

/// Expired media end to end on the simulator (whatsmeow mediaretry.go): a phone's image reaches a
/// companion, the blob is expired (410), the companion's `server-error` receipt reaches the sending
/// phone, which uploads its copy again; the `mediaretry` notification opens with the media key to
/// a new direct path whose bytes are the original ciphertext. Without the media key, or for a
/// message the phone never sent, the answer says so.
@Suite struct PhoneMediaRetryTests {
    static let ann = "15550001111", ben = "15550002222"

    /// The next stanza with this tag, skipping others (acks, receipts, notifications about keys).
    static func next(_ companion: TestCompanion, _ tag: String, type: String? = nil) async throws -> Node {
        for _ in 0..<20 {
            let node = try await companion.expectNode()
            if node.tag == tag && (type == nil || node[attribute: "type"] == type) { return node }
        }
        Issue.record("no <\(tag)> arrived")
        throw MalformedStanza(tag: tag, reason: "not received")
    }

    @Test func anExpiredImageIsUploadedAgainByTheSendingPhone() async throws {
        let setup = try await SimSetup()
        _ = try await setup.account(PhoneMediaRetryTests.ann, pushName: "Ann")
        let companion = try await setup.loggedInCompanion(phone: PhoneMediaRetryTests.ben, pushName: "Ben")
        defer { companion.close() }
        let data = SystemRandom.bytes(40_000)
        let sent = await admin(setup.simulator, "POST", "/accounts/\(PhoneMediaRetryTests.ann)/send",
                               ["to": .string(PhoneMediaRetryTests.ben), "type": "image", "data_base64": .string(Base64.encode(data))])
        #expect(sent.status == 200)
        let id = try #require(sent.json["message_id"]?.stringValue)
        let delivered = try await PhoneMediaRetryTests.next(companion, "message")
        #expect(delivered[attribute: "id"] == id && delivered[attribute: "type"] == "media")

        // The companion would know the key from the decrypted message; the test reads it from the phone's record.
        let record = try #require(try setup.simulator.state.sentByPhone(phone: PhoneMediaRetryTests.ann, messageID: id))
        let image = try WAWebProtobufsE2E_Message(serializedBytes: record.payload).imageMessage
        let mediaKey = Array(image.mediaKey)
        let store = setup.simulator.media.store
        #expect(store.expire(directPath: image.directPath))
        #expect(store.lookup(directPath: image.directPath) == .expired)

        let own = JID(user: PhoneMediaRetryTests.ben, server: .whatsApp)
        let annJID = JID(user: PhoneMediaRetryTests.ann, server: .whatsApp)
        let reference = MediaRetryStanzas.MessageReference(chat: annJID, fromMe: false)
        try companion.send(try MediaRetryStanzas.Request.sealed(messageID: id, to: own, reference: reference, mediaKey: mediaKey,
                                                                random: SystemRandom.bytes).node)
        let answer = try MediaRetryStanzas.Notification(parsing: try await PhoneMediaRetryTests.next(companion, "notification", type: "mediaretry"))
        #expect(answer.messageID == id && answer.reference == reference)
        let opened = try #require(try answer.opened(mediaKey: mediaKey))
        #expect(opened.result == .success && opened.stanzaID == id)
        #expect(opened.directPath != image.directPath)
        // Downloaded over HTTPS from the new path: the same ciphertext, so the same key and hashes still decrypt it.
        let download = try await MediaServerTests.https(port: setup.simulator.mediaPort, .GET, opened.directPath + "&mms-type=image&__wa-mms=",
                                                        caFile: setup.directory.path + "/media-ca.pem")
        #expect(download.status == 200 && Hash.sha256(download.body) == Array(image.fileEncSha256))
        let plaintext = try PhoneMedia.decrypt(download.body, mediaKey: mediaKey, kind: .image, fileEncSHA256: Array(image.fileEncSha256),
                                               fileSHA256: Array(image.fileSha256))
        #expect(plaintext == data)

        // Sealed with another key: the phone cannot open it and says so, under the real key's seal.
        try companion.send(try MediaRetryStanzas.Request.sealed(messageID: id, to: own, reference: reference, mediaKey: SystemRandom.bytes(32),
                                                                random: SystemRandom.bytes).node)
        let refused = try MediaRetryStanzas.Notification(parsing: try await PhoneMediaRetryTests.next(companion, "notification", type: "mediaretry"))
        #expect(try refused.opened(mediaKey: mediaKey)?.result == .decryptionError)

        // A message the phone never sent: not available on the phone (code 2).
        try companion.send(try MediaRetryStanzas.Request.sealed(messageID: "3EB0000000000000", to: own, reference: reference, mediaKey: mediaKey,
                                                                random: SystemRandom.bytes).node)
        let unknown = try MediaRetryStanzas.Notification(parsing: try await PhoneMediaRetryTests.next(companion, "notification", type: "mediaretry"))
        #expect(unknown.content == .error(code: MediaRetryStanzas.notAvailableOnPhone))
        await setup.close()
    }
}
