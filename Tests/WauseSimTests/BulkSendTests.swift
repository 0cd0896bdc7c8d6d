import Testing
@testable import WauseCore
@testable import WauseSim
import WauseCrypto
import WauseTestSupport
import WauseSupport

/// Bulk sends, retry and the delivery summary (issue 16) against a real wause-sim with the
/// engine's timers in virtual time: items paced at their slots, a repeated call with the same
/// key returns the same job and queues nothing, cancelling stops what has not gone.
@Suite struct BulkSendTests {
    static func failure(_ result: Result<JSONObject, WauseError>) -> WauseError? {
        if case .failure(let error) = result { return error }
        return nil
    }

    static func ourMessageCount(_ client: WauseClient) throws -> Int64 {
        try client.store.database.withConnection { (c) throws(WauseError) in try c.scalar("SELECT count(*) FROM messages WHERE from_me = 1") }
    }

    @Test func aBulkJobIsPacedIdempotentAndCancellable() async throws {
        let setup = try await OutboxRetryTests.ready()
        let client = setup.client, timers = setup.timers
        let cursor = client.events.latestCursor
        let start = timers.now
        let items: [JSONValue] = (0..<3).map { ["to": "15550003333", "message": .string("bulk \($0)")] }
        let arguments: JSONObject = ["items": .array(items), "pacing_per_minute": 6, "only_known_contacts": false, "idempotency_key": "job-1"]
        let job = try await client.call("whatsapp_send_bulk", .object(arguments)).get()
        #expect(job["accepted"] == .int(3) && job["refused"] == .int(0), "\(job)")
        let shown = job["items"]?.arrayValue ?? []
        let ids = shown.compactMap { $0["message_id"]?.stringValue }
        #expect(ids.count == 3 && Set(ids).count == 3)
        // Six a minute: slots 10 s apart, each within ±20 % of its interval; the first at once.
        let slots = shown.compactMap { $0["send_at"]?.stringValue.flatMap(ISO8601.unixMilliseconds(from:)) }
        #expect(slots.first == start.milliseconds)
        for (index, slot) in slots.enumerated().dropFirst() {
            #expect(abs(slot - start.milliseconds - Int64(index) * 10_000) <= 2_000, "slot \(index): \(slot - start.milliseconds) ms")
        }

        // The same key and arguments: the same job, nothing queued twice.
        let again = try await client.call("whatsapp_send_bulk", .object(arguments)).get()
        #expect(again == job)
        #expect(try Self.ourMessageCount(client) == 3)
        var other = arguments
        other["pacing_per_minute"] = 5
        #expect(Self.failure(await client.call("whatsapp_send_bulk", .object(other)))?.code == .idempotencyConflict)

        // The first goes now; the second at its slot, not before.
        _ = try await MessagingTests.event(client, "message.status", after: cursor) { $0["message_id"] == .string(ids[0]) && $0["status"] == "sent" }
        #expect(try client.store.message(id: ids[1])?.status == .scheduled)
        let second = UnixTime(milliseconds: slots[1])
        await timers.waitForSleeper(duration: second - timers.now)
        timers.advance(by: second - timers.now)
        _ = try await MessagingTests.event(client, "message.status", after: cursor) { $0["message_id"] == .string(ids[1]) && $0["status"] == "sent" }
        #expect(try client.store.message(id: ids[2])?.status == .scheduled)

        let cancelled = try await client.call("whatsapp_cancel_bulk", ["job_id": job["job_id"]!]).get()
        #expect(cancelled["message_ids"] == .array([.string(ids[2])]))
        let status = try await client.call("whatsapp_get_bulk_status", ["job_id": job["job_id"]!]).get()
        #expect(status["total"] == .int(3) && status["done"] == .bool(true), "\(status)")
        #expect(status["counts"]?["cancelled"] == .int(1))
        #expect((status["counts"]?["sent"]?.intValue ?? 0) + (status["counts"]?["delivered"]?.intValue ?? 0)
                    + (status["counts"]?["read"]?.intValue ?? 0) == 2, "\(status)")
        try await poll { await MessagingTests.inbox(setup.simulator, "15550003333").filter { ids.contains($0["id"]?.stringValue ?? "") }.count == 2 }
        #expect(Self.failure(await client.call("whatsapp_get_bulk_status", ["job_id": "bulk-nope"]))?.code == .notFound)
        await setup.close()
    }

    @Test func onlyKnownContactsRefusesThoseWhoNeverWroteAndTheRestGoOn() async throws {
        let setup = try await OutboxRetryTests.ready()
        let client = setup.client
        // Nobody wrote to this account yet: every item is refused, nothing is stored.
        let job = try await client.call("whatsapp_send_bulk", ["items": [["to": "15550003333", "message": "hi"], ["to": "not a number", "message": "x"]],
                                                              "idempotency_key": "job-known"]).get()
        #expect(job["accepted"] == .int(0) && job["refused"] == .int(2), "\(job)")
        #expect(job["items"]?.arrayValue?.first?["error"]?["code"] == "forbidden_recipient")
        #expect(try Self.ourMessageCount(client) == 0)
        let status = try await client.call("whatsapp_get_bulk_status", ["job_id": job["job_id"]!]).get()
        #expect(status["counts"]?["refused"] == .int(2))
        await setup.close()
    }

    @Test func aFailedMessageIsRetriedUnderItsIdAndCounted() async throws {
        let setup = try await OutboxRetryTests.ready()
        let client = setup.client, timers = setup.timers
        let id = try OutboxRetryTests.enqueue(client, to: "15550003333", "second time lucky")
        let entry = try #require(try client.store.nextOutboxEntry())
        try client.store.markFailed(entry, reason: "not sent after 6 attempts: test", now: timers.now)
        let refused = Self.failure(await client.call("whatsapp_retry_message", ["message_id": "3EB0NOPE"]))
        #expect(refused?.code == .notFound)

        let retried = try await client.call("whatsapp_retry_message", ["message_id": .string(id)]).get()
        #expect(["sent", "delivered", "read"].contains(retried["status"]?.stringValue ?? ""), "\(retried)")
        try await poll { await MessagingTests.inbox(setup.simulator, "15550003333").contains { $0["id"] == .string(id) } }
        let steps = try await client.call("whatsapp_message_status", ["message_id": .string(id)]).get()["timeline"]?.arrayValue ?? []
        #expect(Array(steps.prefix(3).map { $0["status"] }) == ["queued", "failed", "queued"], "\(steps)")
        #expect(steps.dropFirst(3).contains { $0["status"] == "sent" }, "\(steps)")
        // Not failed any more: refused, naming its status.
        let twice = Self.failure(await client.call("whatsapp_retry_message", ["message_id": .string(id)]))
        #expect(twice?.code == .invalidRequest && twice?.details?["status"] != nil, "\(String(describing: twice))")

        let summary = try await client.call("whatsapp_delivery_summary", [:]).get()
        #expect(summary["total"] == .int(1), "\(summary)")
        #expect(summary["counts"]?["failed"] == .int(0))
        let empty = try await client.call("whatsapp_delivery_summary", ["chat": "15550009999"]).get()
        #expect(empty["total"] == .int(0) && empty["delivery_rate"] == .null)
        #expect(Self.failure(await client.call("whatsapp_delivery_summary", ["since": "last week"]))?.code == .invalidRequest)
        await setup.close()
    }

    @Test func aBulkJobSendsToGroupsThisAccountIsIn() async throws {
        let setup = try await MessagingTests.Setup()
        _ = try setup.account("15550001111", "Ada")
        _ = try setup.account("15550003333", "Carol")
        let alice = try await setup.linkedClient("15550001111")
        let created = try await alice.call("whatsapp_create_group", ["name": "Crew", "participants": ["15550003333"]]).get()
        let groupID = try #require(created["group_id"]?.stringValue)
        let cursor = alice.events.latestCursor
        // Nobody in the group ever wrote to this account: with only_known_contacts (the default) a
        // group still counts as known, because this account is in it. A group it is not in does not.
        let job = try await alice.call("whatsapp_send_bulk", [
            "items": [["to": "Crew", "message": "hello crew"],
                      ["to": "120363999999999999@g.us", "message": "not ours"]],
            "idempotency_key": "groups"]).get()
        #expect(job["accepted"] == .int(1) && job["refused"] == .int(1), "\(job)")
        let items = job["items"]?.arrayValue ?? []
        #expect(items.first?["chat_id"] == .string(groupID))
        #expect(items.last?["error"]?["code"] != nil && items.last?["error"] != .null, "\(items)")
        let id = try #require(items.first?["message_id"]?.stringValue)
        _ = try await MessagingTests.event(alice, "message.status", after: cursor) { $0["message_id"] == .string(id) && $0["status"] == "sent" }
        try await poll { await MessagingTests.inbox(setup.simulator, "15550003333").contains { $0["text"] == "hello crew" } }
        #expect(try alice.store.message(id: id)?.chatJID == groupID)
        await setup.close()
    }

    @Test func aBulkJobSendsFilesAsSendFileDoes() async throws {
        let setup = try await MessagingTests.Setup()
        _ = try setup.account("15550001111", "Ada")
        _ = try setup.account("15550003333", "Carol")
        let alice = try await setup.linkedClient("15550001111")
        // A file in the system temporary directory, one of the default media directories.
        let folder = TemporaryDirectory(prefix: "wause-bulk-file")
        let file = folder.path + "/report.pdf"
        try MediaEngineTests.write(Array("%PDF-1.4\n".utf8) + SystemRandom.bytes(3000), to: file)
        let cursor = alice.events.latestCursor
        let job = try await alice.call("whatsapp_send_bulk", [
            "items": [["to": "15550003333", "file_path": .string(file), "caption": "the report"],
                      ["to": "15550003333", "message": "both", "file_path": .string(file)],
                      ["to": "15550003333", "file_path": .string(folder.path + "/missing.pdf")]],
            "only_known_contacts": false, "idempotency_key": "files"]).get()
        #expect(job["accepted"] == .int(1) && job["refused"] == .int(2), "\(job)")
        let id = try #require(job["items"]?.arrayValue?.first?["message_id"]?.stringValue)
        _ = try await MessagingTests.event(alice, "message.status", after: cursor) { $0["message_id"] == .string(id) && $0["status"] == "sent" }
        let stored = try #require(try alice.store.message(id: id))
        #expect(stored.type == "document" && stored.body == "the report", "\(stored)")
        try await poll { await MessagingTests.inbox(setup.simulator, "15550003333").contains { $0["id"] == .string(id) } }
        await setup.close()
    }
}
