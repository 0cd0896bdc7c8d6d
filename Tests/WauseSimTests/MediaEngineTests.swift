import Testing
@testable import WauseCore
import WauseCrypto
import WauseProto
@testable import WauseSim
import WauseTestSupport
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// The engine sends and receives media against the real simulator: media_conn, HTTPS upload and
/// download to the sim's media host over real TLS (trusting its CA through `media_ca_file`), the
/// outbox's upload before sending, received media filed as metadata, and whatsapp_download_media
/// (verified, idempotent). The bytes that arrive are the bytes that were sent (sha256).
@Suite struct MediaEngineTests {
    static let ann = "15550007771", ben = "15550007772"

    final class Clients: @unchecked Sendable {
        let setup: MessagingTests.Setup
        let outbox = TemporaryDirectory(prefix: "wause-media-outbox")
        var directories: [TemporaryDirectory] = []
        var clients: [WauseClient] = []
        init(_ setup: MessagingTests.Setup) { self.setup = setup }

        func linked(_ phone: String, autoDownload: MediaAutoDownload = .never) async throws -> WauseClient {
            let directory = TemporaryDirectory(prefix: "wause-media-client")
            directories.append(directory)
            var config = setup.config(directory.path)
            config.mediaCAFile = setup.simulatorDirectory.path + "/media-ca.pem"
            config.configuredMediaDirectories = [outbox.path]
            config.mediaAutoDownload = autoDownload
            let client = try WauseClient(config: config, environment: .live)
            clients.append(client)
            _ = try await client.call("whatsapp_start_auth", .null).get()
            let qr = try #require(await nextEvent(client, named: "pairing.qr", after: 0)?.data["qr"]?.stringValue)
            #expect(await admin(setup.simulator, "POST", "/accounts/\(phone)/scan", ["qr": .string(qr)]).status == 200)
            try await MessagingTests.waitForLogin(client, after: 0)
            return client
        }

        func close() async {
            for client in clients { client.close() }
            await setup.close()
        }
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        #expect(bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) } == bytes.count)
    }

    static func read(_ path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var out: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            out += buffer[0..<count]
        }
        return out
    }

    static func receivedMedia(_ client: WauseClient, type: String, after cursor: Int64 = 0) async throws -> JSONValue {
        let event = try await MessagingTests.event(client, "message.received", after: cursor) { $0["message"]?["type"] == .string(type) }
        return try #require(event.data["message"])
    }

    @Test func aDocumentGoesFromOneClientToAnotherAndToThePhoneByteForByte() async throws {
        let clients = Clients(try await MessagingTests.Setup())
        _ = try clients.setup.account(Self.ann, "Ann")
        _ = try clients.setup.account(Self.ben, "Ben")
        let alice = try await clients.linked(Self.ann)
        let bob = try await clients.linked(Self.ben)

        // A PDF that is not a multiple of the AES block.
        let bytes = Array("%PDF-1.4\n".utf8) + SystemRandom.bytes(100_003)
        let path = clients.outbox.path + "/report.pdf"
        try Self.write(bytes, to: path)
        let sent = try await alice.call("whatsapp_send_file", ["to": .string(Self.ben), "file_path": .string(path),
                                                               "caption": "the figures"]).get()
        #expect(sent["status"] == "sent" || sent["status"] == "delivered", "\(sent)")
        #expect(sent["media_type"] == "document" && sent["size"]?.intValue == Int64(bytes.count))
        #expect(sent["sha256"]?.stringValue == Hex.encode(Hash.sha256(bytes)))

        let message = try await Self.receivedMedia(bob, type: "document")
        #expect(message["has_media"] == true && message["body"] == "the figures", "\(message)")
        #expect(message["media"]?["sha256"]?.stringValue == Hex.encode(Hash.sha256(bytes)))
        #expect(message["media"]?["file_name"] == "report.pdf" && message["media"]?["mimetype"] == "application/pdf")
        let id = try #require(message["id"]?.stringValue)

        let first = try await bob.call("whatsapp_download_media", ["message_id": .string(id)]).get()
        let file = try #require(first["path"]?.stringValue)
        #expect(try Self.read(file) == bytes)
        #expect(first["sha256"]?.stringValue == Hex.encode(Hash.sha256(bytes)))
        var status = stat()
        #expect(stat(file, &status) == 0 && status.st_mode & 0o777 == 0o600)
        // A second call answers the same file without downloading: the ciphertext is gone from the
        // media host, and the answer is still the file.
        let directPath = try #require(try bob.store.media(messageID: id)?.media.directPath)
        #expect(clients.setup.simulator.media.store.expire(directPath: directPath))
        let second = try await bob.call("whatsapp_download_media", ["message_id": .string(id)]).get()
        #expect(second["path"]?.stringValue == file && second["sha256"] == first["sha256"])
        // With the local file gone, the expired blob (HTTP 410) is said as such, and no file is left behind.
        #expect(unlink(file) == 0)
        let expired = Self.failure(await bob.call("whatsapp_download_media", ["message_id": .string(id)]))
        #expect(expired?.code == .notFound && expired?.details?["reason"] == "media_expired", "\(String(describing: expired))")
        #expect(access(file, F_OK) != 0 && access(file + ".part", F_OK) != 0)

        // Ben's phone got it too, decrypted and verified by the phone.
        try await poll { await MessagingTests.inbox(clients.setup.simulator, Self.ben).contains { $0["id"]?.stringValue == id } }
        let row = try #require(await MessagingTests.inbox(clients.setup.simulator, Self.ben).first { $0["id"]?.stringValue == id })
        #expect(row["media"]?["sha256"]?.stringValue == Hex.encode(Hash.sha256(bytes)), "\(row)")

        // read_messages shows the media with its path once downloaded.
        let read = try await bob.call("whatsapp_read_messages", ["phone_number": .string(Self.ann)]).get()
        let listed = try #require(read["messages"]?.arrayValue?.first { $0["id"]?.stringValue == id })
        #expect(listed["type"] == "document" && listed["media"]?["path"]?.stringValue == file, "\(listed)")

        // The same idempotency key answers the first send (no second copy, no second upload); other arguments conflict.
        let keyed: JSONValue = ["to": .string(Self.ben), "file_path": .string(path), "idempotency_key": "doc-1"]
        let once = try await alice.call("whatsapp_send_file", keyed).get()
        let twice = try await alice.call("whatsapp_send_file", keyed).get()
        #expect(once["message_id"] == twice["message_id"] && once["sha256"] == twice["sha256"])
        let conflict = Self.failure(await alice.call("whatsapp_send_file", ["to": .string(Self.ben), "file_path": .string(path),
                                                                            "caption": "other", "idempotency_key": "doc-1"]))
        #expect(conflict?.code == .idempotencyConflict)

        // Refusals reach the caller with their codes, and nothing is queued.
        let outside = await alice.call("whatsapp_send_file", ["to": .string(Self.ben), "file_path": "/etc/passwd"])
        #expect(Self.failure(outside)?.code == .forbiddenPath)
        try Self.write(Array("MZ".utf8) + SystemRandom.bytes(200), to: clients.outbox.path + "/tool.pdf")
        let disguised = await alice.call("whatsapp_send_file", ["to": .string(Self.ben), "file_path": .string(clients.outbox.path + "/tool.pdf")])
        #expect(Self.failure(disguised)?.code == .invalidRequest || Self.failure(disguised)?.code == .forbiddenPath, "\(String(describing: Self.failure(disguised)))")
        #expect(try alice.store.outboxCount() == 0)
        await clients.close()
    }

    @Test func aPhonesImageLocationAndContactCardArrive() async throws {
        let clients = Clients(try await MessagingTests.Setup())
        _ = try clients.setup.account(Self.ann, "Ann")
        _ = try clients.setup.account(Self.ben, "Ben")
        let bob = try await clients.linked(Self.ben)
        let data = SystemRandom.bytes(70_001)
        let sent = await admin(clients.setup.simulator, "POST", "/accounts/\(Self.ann)/send", [
            "to": .string(Self.ben), "type": "image", "data_base64": .string(Base64.encode(data)), "caption": "the view",
        ])
        #expect(sent.status == 200, "\(sent.json)")
        let image = try await Self.receivedMedia(bob, type: "image")
        #expect(image["body"] == "the view" && image["media"]?["size"]?.intValue == Int64(data.count))
        let id = try #require(image["id"]?.stringValue)
        let downloaded = try await bob.call("whatsapp_download_media", ["message_id": .string(id)]).get()
        #expect(downloaded["sha256"]?.stringValue == Hex.encode(Hash.sha256(data)))
        #expect(try Self.read(try #require(downloaded["path"]?.stringValue)) == data)
        // Expired on the host: the engine asks Ann's phone (server-error receipt), which uploads it
        // again and answers with a new direct path (mediaretry); the download then succeeds.
        let oldPath = try #require(try bob.store.media(messageID: id)?.media.directPath)
        #expect(clients.setup.simulator.media.store.expire(directPath: oldPath))
        #expect(unlink(try #require(downloaded["path"]?.stringValue)) == 0)
        let again = try await bob.call("whatsapp_download_media", ["message_id": .string(id)]).get()
        #expect(again["sha256"]?.stringValue == Hex.encode(Hash.sha256(data)))
        #expect(try bob.store.media(messageID: id)?.media.directPath != oldPath)

        let alice = try await clients.linked(Self.ann)
        let location = try await alice.call("whatsapp_send_location", ["to": .string(Self.ben), "latitude": 38.7223, "longitude": -9.1393,
                                                                      "name": "Lisbon"]).get()
        #expect(location["status"] == "sent" || location["status"] == "delivered", "\(location)")
        let place = try await Self.receivedMedia(bob, type: "location")
        #expect(place["body"] == "Lisbon" && place["has_media"] == false)
        let card = try await alice.call("whatsapp_send_contact_card", ["to": .string(Self.ben),
                                                                       "contacts": [["name": "Cleo", "phone": "+1 555 000 3333"]]]).get()
        #expect(card["status"] == "sent" || card["status"] == "delivered", "\(card)")
        let vcard = try await Self.receivedMedia(bob, type: "vcard")
        #expect(vcard["body"] == "Cleo")
        await clients.close()
    }

    /// An image (thumbnail and size made at send), a voice note (waveform and seconds from the
    /// Ogg/Opus fixture) and a document to a group: each arrives whole, with what the sender's
    /// intake worked out in the message.
    @Test func anImageAVoiceNoteAndAGroupFileCarryTheirDetails() async throws {
        let clients = Clients(try await MessagingTests.Setup())
        _ = try clients.setup.account(Self.ann, "Ann")
        _ = try clients.setup.account(Self.ben, "Ben")
        let alice = try await clients.linked(Self.ann)
        let bob = try await clients.linked(Self.ben)

        var rgb: [UInt8] = []
        for y in 0..<150 { for x in 0..<200 { rgb += [UInt8(x), UInt8(y), UInt8((x + y) / 2)] } }
        let jpeg = try ImageThumbnail.encodeJPEG(rgb: rgb, width: 200, height: 150, quality: 90)
        let photo = clients.outbox.path + "/photo.jpg"
        try Self.write(jpeg, to: photo)
        let sentImage = try await alice.call("whatsapp_send_file", ["to": .string(Self.ben), "file_path": .string(photo), "caption": "gradient"]).get()
        #expect(sentImage["media_type"] == "image", "\(sentImage)")
        let image = try await Self.receivedMedia(bob, type: "image")
        #expect(image["media"]?["width"]?.intValue == 200 && image["media"]?["height"]?.intValue == 150, "\(image)")
        let imageID = try #require(image["id"]?.stringValue)
        let raw = try #require(try bob.store.message(id: imageID)?.raw)
        let thumbnail = try WAWebProtobufsE2E_Message(serializedBytes: raw).imageMessage.jpegthumbnail
        #expect(thumbnail.count > 100 && Array(thumbnail.prefix(2)) == [0xFF, 0xD8])
        let gotImage = try await bob.call("whatsapp_download_media", ["message_id": .string(imageID)]).get()
        #expect(try Self.read(try #require(gotImage["path"]?.stringValue)) == jpeg)

        let fixture = String(#filePath).split(separator: "/").dropLast(2).joined(separator: "/")
        let opus = try Self.read("/" + fixture + "/WauseCoreTests/Fixtures/silence-then-tone.opus")
        let voicePath = clients.outbox.path + "/note.ogg"
        try Self.write(opus, to: voicePath)
        let sentVoice = try await alice.call("whatsapp_send_file", ["to": .string(Self.ben), "file_path": .string(voicePath),
                                                                    "media_type": "voice"]).get()
        #expect(sentVoice["media_type"] == "voice", "\(sentVoice)")
        let voice = try await Self.receivedMedia(bob, type: "ptt")
        #expect(voice["media"]?["seconds"]?.intValue != nil && voice["media"]?["mimetype"] == "audio/ogg; codecs=opus", "\(voice)")
        let voiceID = try #require(voice["id"]?.stringValue)
        let audio = try WAWebProtobufsE2E_Message(serializedBytes: try #require(try bob.store.message(id: voiceID)?.raw)).audioMessage
        #expect(audio.ptt && audio.waveform.count == 64)
        let gotVoice = try await bob.call("whatsapp_download_media", ["message_id": .string(voiceID)]).get()
        #expect(gotVoice["sha256"]?.stringValue == Hex.encode(Hash.sha256(opus)))

        let group = try #require(try await alice.call("whatsapp_create_group", ["name": "Files", "participants": [.string(Self.ben)]]).get()["group_id"]?.stringValue)
        _ = try await MessagingTests.event(bob, "group.created") { $0["group_id"] == .string(group) }
        let bytes = Array("%PDF-1.7\n".utf8) + SystemRandom.bytes(33_333)
        try Self.write(bytes, to: clients.outbox.path + "/minutes.pdf")
        let sentDocument = try await alice.call("whatsapp_send_file", ["to": .string(group), "file_path": .string(clients.outbox.path + "/minutes.pdf")]).get()
        #expect(sentDocument["chat_id"] == .string(group), "\(sentDocument)")
        let document = try await Self.receivedMedia(bob, type: "document")
        #expect(document["chat_id"] == .string(group))
        let gotDocument = try await bob.call("whatsapp_download_media", ["message_id": .string(try #require(document["id"]?.stringValue))]).get()
        #expect(try Self.read(try #require(gotDocument["path"]?.stringValue)) == bytes)
        await clients.close()
    }

    /// `media_auto_download` by type: a received image is downloaded as it arrives (its row gets
    /// the file's path), a document waits for whatsapp_download_media.
    @Test func autoDownloadFetchesTheTypesItNames() async throws {
        let clients = Clients(try await MessagingTests.Setup())
        _ = try clients.setup.account(Self.ann, "Ann")
        _ = try clients.setup.account(Self.ben, "Ben")
        let bob = try await clients.linked(Self.ben, autoDownload: .only([.image]))
        let data = SystemRandom.bytes(20_000)
        #expect(await admin(clients.setup.simulator, "POST", "/accounts/\(Self.ann)/send", [
            "to": .string(Self.ben), "type": "document", "data_base64": .string(Base64.encode(SystemRandom.bytes(5000))),
            "file_name": "later.pdf",
        ]).status == 200)
        let document = try #require(try await Self.receivedMedia(bob, type: "document")["id"]?.stringValue)
        #expect(await admin(clients.setup.simulator, "POST", "/accounts/\(Self.ann)/send", [
            "to": .string(Self.ben), "type": "image", "data_base64": .string(Base64.encode(data)),
        ]).status == 200)
        let image = try #require(try await Self.receivedMedia(bob, type: "image")["id"]?.stringValue)
        try await poll { (try? bob.store.media(messageID: image)?.path) != nil }
        let path = try #require(try bob.store.media(messageID: image)?.path)
        #expect(try Self.read(path) == data)
        #expect(try bob.store.media(messageID: document)?.path == nil)
        await clients.close()
    }

    static func failure(_ result: Result<JSONObject, WauseError>) -> WauseError? {
        if case .failure(let error) = result { return error }
        return nil
    }
}
