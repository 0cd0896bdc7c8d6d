import Testing
import WauseCrypto
import WauseProtocol
@testable import WauseSim
import WauseSupport
import WauseTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Virtual phones send media through the admin API (encrypted, stored in the sim's media store,
/// described in the media message) and the receiving phone fetches, verifies and decrypts it: the
/// inbox row's `media.sha256` is the SHA-256 of the plaintext that passed every check, so it equals
/// that of the bytes sent only if the whole path (keys, cipher, MAC, hashes, store) is right.
@Suite struct PhoneMediaTests {
    static let ann = "15550001111", ben = "15550002222"

    static func phones(_ setup: SimSetup) async throws {
        _ = try await setup.account(ann, pushName: "Ann")
        _ = try await setup.account(ben, pushName: "Ben")
    }

    /// The row of `id` in Ben's inbox, once his phone has filed it.
    static func received(_ setup: SimSetup, _ id: String) async throws -> JSONValue {
        try await poll { await MessagingTests.inbox(setup.simulator, ben).contains { $0["id"]?.stringValue == id } }
        return try #require(await MessagingTests.inbox(setup.simulator, ben).first { $0["id"]?.stringValue == id })
    }

    /// (admin type, inbox type, extra request fields)
    static let kinds: [(String, String, JSONObject)] = [
        ("image", "image", ["caption": "the view"]),
        ("video", "video", ["caption": "a clip", "mimetype": "video/mp4"]),
        ("audio", "audio", [:]),
        ("voice", "ptt", [:]),
        ("document", "document", ["file_name": "report.pdf", "caption": "read me"]),
        ("document", "document", ["file_name": "plain.txt", "mimetype": "text/plain"]),
        ("sticker", "sticker", [:]),
    ]

    @Test func everyKindOfFileArrivesVerifiedAtTheOtherPhone() async throws {
        let setup = try await SimSetup()
        try await PhoneMediaTests.phones(setup)
        for (type, expected, extra) in PhoneMediaTests.kinds {
            try await PhoneMediaTests.sendAndCheck(setup, type: type, expected: expected, extra: extra)
        }
        await setup.close()
    }

    static func sendAndCheck(_ setup: SimSetup, type: String, expected: String, extra: JSONObject) async throws {
        // Not a multiple of the AES block, so padding is exercised too.
        let data = SystemRandom.bytes(70_001)
        var body: JSONObject = ["to": .string(PhoneMediaTests.ben), "type": .string(type), "data_base64": .string(Base64.encode(data))]
        for (key, value) in extra { body[key] = value }
        let sent = await admin(setup.simulator, "POST", "/accounts/\(PhoneMediaTests.ann)/send", .object(body))
        #expect(sent.status == 200, "\(sent.json)")
        #expect(sent.json["sha256"]?.stringValue == Hex.encode(Hash.sha256(data)))
        let id = try #require(sent.json["message_id"]?.stringValue)

        let row = try await PhoneMediaTests.received(setup, id)
        let media = try #require(row["media"])
        #expect(media["error"] == nil, "\(media)")
        #expect(media["type"]?.stringValue == expected)
        #expect(media["sha256"]?.stringValue == Hex.encode(Hash.sha256(data)))
        #expect(media["size"]?.intValue == Int64(data.count))
        #expect(media["mimetype"]?.stringValue == (extra["mimetype"]?.stringValue ?? PhoneMedia.Kind(admin: type)!.defaultMimetype))
        #expect(media["caption"] == extra["caption"])
        #expect(row["text"] == (extra["caption"] ?? .null))
        if expected == "document" { #expect(media["file_name"] == extra["file_name"]) }
        // The ciphertext is in the store under the direct path the message named, and no bigger than the file allows.
        let directPath = try #require(media["direct_path"]?.stringValue)
        guard case .found(_, let size) = setup.simulator.media.store.lookup(directPath: directPath) else {
            Issue.record("no blob at \(directPath)")
            return
        }
        #expect(size == Int64((data.count / 16 + 1) * 16 + 10))
    }

    @Test func locationsAndContactCardsArrive() async throws {
        let setup = try await SimSetup()
        try await PhoneMediaTests.phones(setup)
        let location = await admin(setup.simulator, "POST", "/accounts/\(PhoneMediaTests.ann)/send", [
            "to": .string(PhoneMediaTests.ben), "type": "location", "latitude": .double(38.7223), "longitude": .double(-9.1393),
            "name": "Lisbon",
        ])
        #expect(location.status == 200)
        let vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Cat Doe\nTEL;type=CELL;waid=15550003333:+1 555 000 3333\nEND:VCARD"
        let card = await admin(setup.simulator, "POST", "/accounts/\(PhoneMediaTests.ann)/send", [
            "to": .string(PhoneMediaTests.ben), "type": "vcard", "vcard": .string(vcard),
        ])
        #expect(card.status == 200)
        let place = try await PhoneMediaTests.received(setup, try #require(location.json["message_id"]?.stringValue))["media"]
        #expect(place?["type"] == "location" && place?["latitude"] == .double(38.7223) && place?["longitude"] == .double(-9.1393))
        #expect(place?["name"] == "Lisbon")
        let contact = try await PhoneMediaTests.received(setup, try #require(card.json["message_id"]?.stringValue))["media"]
        #expect(contact?["type"] == "vcard" && contact?["vcard"]?.stringValue == vcard && contact?["display_name"] == "Cat Doe")
        await setup.close()
    }

    @Test func badMediaRequestsAreRefusedAndNothingIsSent() async throws {
        let setup = try await SimSetup()
        try await PhoneMediaTests.phones(setup)
        let to = JSONValue.string(PhoneMediaTests.ben)
        let refused: [JSONObject] = [
            ["to": to, "type": "image"],
            ["to": to, "type": "image", "data_base64": "not base64!"],
            ["to": to, "type": "image", "data_base64": ""],
            ["to": to, "type": "hologram", "data_base64": "AAAA"],
            ["to": to, "type": "location", "latitude": 91, "longitude": 0],
            ["to": to, "type": "location", "latitude": "north", "longitude": 0],
            ["to": to, "type": "vcard", "vcard": "hello"],
            ["to": to, "type": "image", "data_base64": "AAAA", "caption": .string(String(repeating: "x", count: 1025))],
            ["to": "120363000000000001@g.us", "type": "image", "data_base64": "AAAA"],
        ]
        for body in refused {
            let answer = await admin(setup.simulator, "POST", "/accounts/\(PhoneMediaTests.ann)/send", .object(body))
            #expect(answer.status == 400 && answer.json["code"] == "invalid_request", "\(body) → \(answer.json)")
        }
        let unknown = await admin(setup.simulator, "POST", "/accounts/\(PhoneMediaTests.ann)/send",
                                  ["to": "15559999999", "type": "image", "data_base64": "AAAA"])
        #expect(unknown.status == 404)
        #expect(await MessagingTests.inbox(setup.simulator, PhoneMediaTests.ben).isEmpty)
        await setup.close()
    }
}

/// PhoneMedia.verifyFile, the receiving phone's streamed checks, on files written here: a file
/// over several chunks (the CBC chain crosses chunk edges) verifies to the plaintext's hash; a
/// changed byte fails the upload hash, and with the hash recomputed fails the MAC.
@Suite struct PhoneMediaVerifyTests {
    static func write(_ bytes: [UInt8], in directory: String, name: String) throws -> String {
        let path = directory + "/" + name
        let file = fopen(path, "wb")
        try #require(file != nil)
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
        return path
    }

    @Test func aMultiChunkFileVerifiesAndTamperingIsCaught() throws {
        let directory = TemporaryDirectory(prefix: "wause-phone-media")
        let plaintext = SystemRandom.bytes(PhoneMedia.chunkSize * 2 + 12_345)
        let mediaKey = SystemRandom.bytes(32)
        let body = try PhoneMedia.encrypt(plaintext, mediaKey: mediaKey, kind: .video)
        let path = try PhoneMediaVerifyTests.write(body, in: directory.path, name: "good.enc")
        let verified = try PhoneMedia.verifyFile(path, mediaKey: mediaKey, kind: .video, fileEncSHA256: Hash.sha256(body),
                                                 fileSHA256: Hash.sha256(plaintext))
        #expect(verified.sha256 == Hash.sha256(plaintext) && verified.size == Int64(plaintext.count))

        var tampered = body
        tampered[PhoneMedia.chunkSize + 7] ^= 1
        let bad = try PhoneMediaVerifyTests.write(tampered, in: directory.path, name: "bad.enc")
        #expect(throws: PhoneMedia.Refused.self) {
            try PhoneMedia.verifyFile(bad, mediaKey: mediaKey, kind: .video, fileEncSHA256: Hash.sha256(body), fileSHA256: Hash.sha256(plaintext))
        }
        do {
            _ = try PhoneMedia.verifyFile(bad, mediaKey: mediaKey, kind: .video, fileEncSHA256: Hash.sha256(tampered),
                                          fileSHA256: Hash.sha256(plaintext))
            Issue.record("a changed ciphertext verified")
        } catch {
            #expect(error.reason == MediaCryptoError.macMismatch.description)
        }
        // The right file under the wrong media type's keys: the MAC fails too.
        #expect(throws: PhoneMedia.Refused.self) {
            try PhoneMedia.verifyFile(path, mediaKey: mediaKey, kind: .image, fileEncSHA256: Hash.sha256(body), fileSHA256: Hash.sha256(plaintext))
        }
    }
}
