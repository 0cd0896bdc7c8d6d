import Glibc
import Testing
@testable import WauseCore
@testable import WauseSim
import WauseCrypto
import WauseTestSupport
import WauseSupport
import WauseTransport

/// Scheduled sends (issue 16: `send_at`, `whatsapp_cancel_scheduled`, `whatsapp_list_scheduled`)
/// against a real wause-sim, with the engine's timers in virtual time: a scheduled message goes
/// when its time comes and not before, holds up nothing meanwhile, can be cancelled, and one whose
/// time passed while the engine was closed goes at the next start with its lateness recorded, and
/// one that falls due while the minute's rate-limit slots are taken waits for the next one.
@Suite struct ScheduledSendTests {
    static func schedule(_ client: WauseClient, _ text: String, at instant: UnixTime) async throws -> String {
        let result = try await client.call("whatsapp_send_message",
                                           ["to": "15550003333", "message": .string(text), "send_at": .string(instant.iso8601)]).get()
        #expect(result["status"] == "scheduled", "\(result)")
        return try #require(result["message_id"]?.stringValue)
    }

    static func timeline(_ client: WauseClient, _ id: String) async throws -> [JSONValue] {
        try await client.call("whatsapp_message_status", ["message_id": .string(id)]).get()["timeline"]?.arrayValue ?? []
    }

    @Test func aScheduledMessageGoesAtItsTimeAndHoldsUpNothingBefore() async throws {
        let setup = try await OutboxRetryTests.ready()
        let client = setup.client, timers = setup.timers
        let cursor = client.events.latestCursor
        let sendAt = timers.now + .seconds(90)
        let id = try await Self.schedule(client, "see you later", at: sendAt)
        // A message sent now to the same chat goes now: the scheduled one is not first in line yet.
        let now = try await MessagingTests.send(client, to: "15550003333", "right now")
        let listed = try await client.call("whatsapp_list_scheduled", [:]).get()["scheduled"]?.arrayValue ?? []
        #expect(listed.map { $0["message_id"] } == [.string(id)])
        #expect(listed.first?["send_at"] == .string(sendAt.iso8601))
        #expect(listed.first?["text"] == "see you later")
        try await poll { await MessagingTests.inbox(setup.simulator, "15550003333").contains { $0["id"] == now["message_id"] } }
        #expect(!(await MessagingTests.inbox(setup.simulator, "15550003333").contains { $0["id"] == .string(id) }))
        #expect(try client.store.message(id: id)?.status == .scheduled)

        // The outbox's timer waits exactly until send_at; at that instant the message goes.
        await timers.waitForSleeper(duration: sendAt - timers.now)
        timers.advance(by: sendAt - timers.now)
        _ = try await MessagingTests.event(client, "message.status", after: cursor) { $0["message_id"] == .string(id) && $0["status"] == "sent" }
        try await poll { await MessagingTests.inbox(setup.simulator, "15550003333").contains { $0["id"] == .string(id) } }
        let steps = try await Self.timeline(client, id)
        // The phone's receipt may overtake the server's ack: `sent` is there, not necessarily third.
        #expect(Array(steps.prefix(2).map { $0["status"] }) == ["scheduled", "queued"], "\(steps)")
        #expect(steps.contains { $0["status"] == "sent" }, "\(steps)")
        #expect(steps.dropFirst().first?["late_ms"] == .int(0))
        #expect(steps.dropFirst().first?["at"] == .string(sendAt.iso8601))
        #expect(try await client.call("whatsapp_list_scheduled", [:]).get()["scheduled"] == .array([]))
        await setup.close()
    }

    @Test func aCancelledScheduledMessageNeverGoes() async throws {
        let setup = try await OutboxRetryTests.ready()
        let client = setup.client, timers = setup.timers
        let id = try await Self.schedule(client, "never mind", at: timers.now + .seconds(30))
        let cancelled = try await client.call("whatsapp_cancel_scheduled", ["message_id": .string(id)]).get()
        #expect(cancelled["status"] == "cancelled")
        #expect(try client.store.message(id: id)?.status == .cancelled)
        #expect(try await Self.timeline(client, id).map { $0["status"] } == ["scheduled", "cancelled"])
        // Twice: it is no longer scheduled, and the error says what it is.
        let again = await client.call("whatsapp_cancel_scheduled", ["message_id": .string(id)])
        guard case .failure(let error) = again else { Issue.record("cancelled twice"); return }
        #expect(error.code == .invalidRequest && error.details?["status"] == "cancelled", "\(error)")
        if case .failure(let missing) = await client.call("whatsapp_cancel_scheduled", ["message_id": "3EB0NOPE"]) {
            #expect(missing.code == .notFound)
        } else { Issue.record("an unknown id was cancelled") }
        // Past its time, a later message to the same chat goes — the cancelled one, which would have gone first, does not.
        timers.advance(by: .seconds(60))
        let later = try await MessagingTests.send(client, to: "15550003333", "after the cancelled one")
        try await poll { await MessagingTests.inbox(setup.simulator, "15550003333").contains { $0["id"] == later["message_id"] } }
        #expect(!(await MessagingTests.inbox(setup.simulator, "15550003333").contains { $0["id"] == .string(id) }))
        await setup.close()
    }

    @Test func aCancelledScheduledFileLeavesNoCopyBehind() async throws {
        let setup = try await OutboxRetryTests.ready()
        let client = setup.client, timers = setup.timers
        // A file in the system temporary directory, one of the default media directories.
        let folder = TemporaryDirectory(prefix: "wause-scheduled-file")
        let file = folder.path + "/later.pdf"
        try MediaEngineTests.write(Array("%PDF-1.4\n".utf8) + SystemRandom.bytes(3000), to: file)
        let result = try await client.call("whatsapp_send_file", ["to": "15550003333", "file_path": .string(file),
                                                                  "send_at": .string((timers.now + .seconds(30)).iso8601)]).get()
        #expect(result["status"] == "scheduled", "\(result)")
        let id = try #require(result["message_id"]?.stringValue)
        // The engine's copy and its encrypted twin wait under <data_dir>/media/outgoing/.
        let copy = try #require(try client.store.media(messageID: id)?.path)
        #expect(copy.hasPrefix(client.config.dataDirectory + "/media/outgoing/"), "\(copy)")
        #expect(access(copy, F_OK) == 0 && access(MediaTransfers.encryptedPath(plaintext: copy), F_OK) == 0)

        _ = try await client.call("whatsapp_cancel_scheduled", ["message_id": .string(id)]).get()
        #expect(access(copy, F_OK) != 0 && access(MediaTransfers.encryptedPath(plaintext: copy), F_OK) != 0)
        #expect(try client.store.media(messageID: id)?.path == nil)
        // The file the caller gave is theirs, and stays.
        #expect(access(file, F_OK) == 0)
        await setup.close()
    }

    @Test func sendAtInThePastIsRefusedUnlessItIsAboutNow() async throws {
        let setup = try await OutboxRetryTests.ready()
        let client = setup.client, timers = setup.timers
        let past = await client.call("whatsapp_send_message", ["to": "15550003333", "message": "yesterday",
                                                               "send_at": .string((timers.now - .seconds(3600)).iso8601)])
        guard case .failure(let error) = past else { Issue.record("a send_at an hour ago was accepted"); return }
        #expect(error.code == .invalidRequest)
        #expect(try client.store.outboxCount() == 0)
        if case .failure(let bad) = await client.call("whatsapp_send_message", ["to": "15550003333", "message": "x", "send_at": "tomorrow"]) {
            #expect(bad.code == .invalidRequest)
        } else { Issue.record("send_at 'tomorrow' was accepted") }
        // A few seconds behind ours is "now": an ordinary send.
        let result = try await client.call("whatsapp_send_message", ["to": "15550003333", "message": "about now",
                                                                     "send_at": .string((timers.now - .seconds(5)).iso8601)]).get()
        #expect(result["status"] == "sent" || result["status"] == "delivered", "\(result)")
        await setup.close()
    }

    @Test func aSendWhoseTimePassedWhileClosedGoesAtStartWithItsLateness() async throws {
        let setup = try await OutboxRetryTests.ready()
        let timers = setup.timers
        let sendAt = timers.now + .seconds(60)
        let id = try await Self.schedule(setup.client, "while you were out", at: sendAt)
        let config = setup.client.config
        setup.client.close()
        // The engine is down through send_at: five minutes pass.
        timers.advance(by: .seconds(300))
        let environment = Environment(now: { timers.now }, randomBytes: Environment.live.randomBytes,
                                      sleep: { try await timers.sleep($0) }, dial: Environment.live.dial)
        let client = try WauseClient(config: config, environment: environment)
        _ = try await MessagingTests.event(client, "message.status", after: 0) { $0["message_id"] == .string(id) && $0["status"] == "sent" }
        try await poll { await MessagingTests.inbox(setup.simulator, "15550003333").contains { $0["id"] == .string(id) } }
        let queued = try #require(try await Self.timeline(client, id).first { $0["status"] == "queued" })
        #expect(queued["late_ms"] == .int(240_000), "\(queued)")
        client.close()
        await setup.simulator.stop()
    }

    @Test func aScheduledSendTakesItsRateLimitSlotWhenItFallsDue() async throws {
        let setup = try await OutboxRetryTests.ready()
        let timers = setup.timers
        var config = setup.client.config
        setup.client.close()
        // One message a minute.
        config.sendRatePerMinute = 1
        let environment = Environment(now: { timers.now }, randomBytes: Environment.live.randomBytes,
                                      sleep: { try await timers.sleep($0) }, dial: Environment.live.dial)
        let client = try WauseClient(config: config, environment: environment)
        defer { client.close() }
        try await MessagingTests.waitForLogin(client, after: 0)
        try await poll { client.status.versioned().0 == .ready }
        // Scheduling takes no slot: the send right after it still gets the minute's one.
        let sendAt = timers.now + .seconds(10)
        let id = try await Self.schedule(client, "when a slot is free", at: sendAt)
        _ = try await MessagingTests.send(client, to: "15550003333", "takes the slot")
        let slotFrees = timers.now + .seconds(60)

        // Due at 10 s, but the minute's slot is taken: it stays scheduled until the slot frees at 60 s.
        let cursor = client.events.latestCursor
        await timers.waitForSleeper(duration: sendAt - timers.now)
        timers.advance(by: sendAt - timers.now)
        try await poll { (try OutboxRetryTests.row(client, id)?.due ?? 0) > sendAt.milliseconds }
        #expect(try client.store.message(id: id)?.status == .scheduled)
        let held = try #require(try OutboxRetryTests.row(client, id)).due
        #expect(held == slotFrees.milliseconds, "held until \(held - timers.now.milliseconds) ms from now")

        await timers.waitForSleeper(duration: .milliseconds(held - timers.now.milliseconds))
        timers.advance(by: .milliseconds(held - timers.now.milliseconds))
        _ = try await MessagingTests.event(client, "message.status", after: cursor) { $0["message_id"] == .string(id) && $0["status"] == "sent" }
        let queued = try #require(try await Self.timeline(client, id).first { $0["status"] == "queued" })
        #expect(queued["late_ms"] == .int(50_000), "\(queued)")
        await setup.simulator.stop()
    }
}
