import Testing
@testable import WauseCore
import WauseCrypto
@testable import WauseSim
import WauseTestSupport
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// The engine's media transfers against a media host that misbehaves (wause-sim's
/// `MediaFaults`, the admin `POST /media/faults`): a 5xx or a dropped connection is tried again
/// with backoff and the file still arrives whole; a 401/403 (which revokes the auth the request
/// carried, as a stale auth would be) makes the engine ask `media_conn` again and go on with the
/// new auth (issue 13; whatsmeow upload.go, download.go, mediaconn.go).
@Suite struct MediaFaultTests {
    static let ann = "15550007781", ben = "15550007782"

    static func count(_ faults: MediaFaults, _ name: String) -> Int64 { faults.json[name]?.intValue ?? -1 }

    @Test func uploadsSurviveServerErrorsDroppedConnectionsAndAStaleAuth() async throws {
        let clients = MediaEngineTests.Clients(try await MessagingTests.Setup())
        _ = try clients.setup.account(Self.ann, "Ann")
        _ = try clients.setup.account(Self.ben, "Ben")
        let alice = try await clients.linked(Self.ann)
        let faults = clients.setup.simulator.media.store.faults

        // A 500, then a dropped connection: the third try on the host goes through.
        let first = Array("%PDF-1.4\n".utf8) + SystemRandom.bytes(200_001)
        try MediaEngineTests.write(first, to: clients.outbox.path + "/first.pdf")
        faults.add(.init(direction: .upload, action: .status(500)), count: 1)
        faults.add(.init(direction: .upload, action: .drop), count: 1)
        let begun = Self.count(faults, "uploads_begun")
        let sent = try await alice.call("whatsapp_send_file", ["to": .string(Self.ben), "file_path": .string(clients.outbox.path + "/first.pdf")]).get()
        #expect(sent["status"] == "sent" || sent["status"] == "delivered", "\(sent)")
        #expect(Self.count(faults, "uploads_begun") == begun + 3 && Self.count(faults, "pending") == 0)

        // A 401 revokes the auth in use: only a fresh media_conn gets the upload through.
        let second = Array("%PDF-1.4\n".utf8) + SystemRandom.bytes(100_003)
        try MediaEngineTests.write(second, to: clients.outbox.path + "/second.pdf")
        faults.add(.init(direction: .upload, action: .status(401)), count: 1)
        let conns = Self.count(faults, "media_conns")
        let again = try await alice.call("whatsapp_send_file", ["to": .string(Self.ben), "file_path": .string(clients.outbox.path + "/second.pdf")]).get()
        #expect(again["status"] == "sent" || again["status"] == "delivered", "\(again)")
        #expect(Self.count(faults, "media_conns") == conns + 1, "\(faults.json)")
        #expect(Self.count(faults, "uploads_begun") == begun + 5)

        // Ben's phone verified both files (sha256 of the decrypted plaintext), each once.
        for (bytes, id) in [(first, sent["message_id"]), (second, again["message_id"])] {
            let id = try #require(id?.stringValue)
            try await poll { await MessagingTests.inbox(clients.setup.simulator, Self.ben).contains { $0["id"]?.stringValue == id } }
            let rows = await MessagingTests.inbox(clients.setup.simulator, Self.ben).filter { $0["id"]?.stringValue == id }
            #expect(rows.count == 1 && rows.first?["media"]?["sha256"]?.stringValue == Hex.encode(Hash.sha256(bytes)), "\(rows)")
        }
        await clients.close()
    }

    @Test func downloadsSurviveServerErrorsDroppedConnectionsAndARefusal() async throws {
        let clients = MediaEngineTests.Clients(try await MessagingTests.Setup())
        _ = try clients.setup.account(Self.ann, "Ann")
        _ = try clients.setup.account(Self.ben, "Ben")
        let bob = try await clients.linked(Self.ben)
        let faults = clients.setup.simulator.media.store.faults
        let data = SystemRandom.bytes(150_001)
        #expect(await admin(clients.setup.simulator, "POST", "/accounts/\(Self.ann)/send", [
            "to": .string(Self.ben), "type": "image", "data_base64": .string(Base64.encode(data)),
        ]).status == 200)
        let id = try #require(try await MediaEngineTests.receivedMedia(bob, type: "image")["id"]?.stringValue)

        // A 503, then a dropped connection: the third try brings the file, and no part is left.
        faults.add(.init(direction: .download, action: .status(503)), count: 1)
        faults.add(.init(direction: .download, action: .drop), count: 1)
        let begun = Self.count(faults, "downloads_begun")
        let downloaded = try await bob.call("whatsapp_download_media", ["message_id": .string(id)]).get()
        let path = try #require(downloaded["path"]?.stringValue)
        #expect(try MediaEngineTests.read(path) == data && downloaded["sha256"]?.stringValue == Hex.encode(Hash.sha256(data)))
        #expect(Self.count(faults, "downloads_begun") == begun + 3 && Self.count(faults, "pending") == 0)
        #expect(access(path + ".part", F_OK) != 0)

        // A 403: media_conn is asked again, then the download goes through.
        #expect(unlink(path) == 0)
        faults.add(.init(direction: .download, action: .status(403)), count: 1)
        let conns = Self.count(faults, "media_conns")
        let again = try await bob.call("whatsapp_download_media", ["message_id": .string(id)]).get()
        #expect(again["sha256"]?.stringValue == Hex.encode(Hash.sha256(data)))
        #expect(try MediaEngineTests.read(path) == data)
        #expect(Self.count(faults, "media_conns") == conns + 1 && Self.count(faults, "downloads_begun") == begun + 5)

        // A host that keeps failing: a clear error after the retries, and no file under any name.
        #expect(unlink(path) == 0)
        faults.add(.init(direction: .download, action: .status(500)), count: 100)
        let failed = MediaEngineTests.failure(await bob.call("whatsapp_download_media", ["message_id": .string(id)]))
        #expect(failed?.code == .notConnected && failed?.message.contains("HTTP 500") == true, "\(String(describing: failed))")
        #expect(access(path, F_OK) != 0 && access(path + ".part", F_OK) != 0)
        _ = faults.clear()
        await clients.close()
    }
}
