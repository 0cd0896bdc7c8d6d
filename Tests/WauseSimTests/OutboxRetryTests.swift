import Testing
import WauseBinary
@testable import WauseCore
import WauseCrypto
import WauseProto
import WauseProtocol
@testable import WauseSim
import WauseTestSupport
import WauseSupport

/// The engine's outbox against a real wause-sim, with the engine's timers in virtual time: a
/// message that cannot go out is retried with backoff and finally fails, while every other chat
/// keeps flowing.
@Suite struct OutboxRetryTests {
    /// A linked, ready engine for 15550001111 (virtual timers), and Carol (15550003333), a virtual phone.
    static func ready() async throws -> QRLinkingTests.Setup {
        let setup = try await QRLinkingTests.Setup()
        _ = try setup.simulator.state.createAccount(phone: "15550001111", pushName: "Ada")
        _ = try setup.simulator.state.createAccount(phone: "15550003333", pushName: "Carol")
        let client = setup.client
        _ = try await client.call("whatsapp_start_auth", .null).get()
        let qr = try #require(await nextEvent(client, named: "pairing.qr", after: 0)?.data["qr"]?.stringValue)
        #expect(await admin(setup.simulator, "POST", "/accounts/15550001111/scan", ["qr": .string(qr)]).status == 200)
        try await MessagingTests.waitForLogin(client, after: 0)
        try await poll { client.status.versioned().0 == .ready }
        return setup
    }

    /// Queues a text to `phone` as `whatsapp_send_message` does, without kicking the outbox.
    static func enqueue(_ client: WauseClient, to phone: String, _ text: String) throws -> String {
        let now = client.environment.now()
        let id = "3EB0" + Hex.encode(client.environment.randomBytes(8)).uppercased()
        var message = WAWebProtobufsE2E_Message()
        message.conversation = text
        let record = MessageRecord(id: id, chatJID: "\(phone)@s.whatsapp.net", senderJID: nil, fromMe: true, type: "chat", body: text,
                                   quotedID: nil, timestamp: now, status: .queued)
        _ = try client.store.enqueue(record, contactID: nil, payload: try MessageFormat.encode(message), now: now)
        return id
    }

    /// The outbox row of a message: attempts made and when the next one is due.
    static func row(_ client: WauseClient, _ id: String) throws -> (attempts: Int64, due: Int64)? {
        try client.store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT attempts, next_attempt_at FROM outbox WHERE message_id = ?", [.text(id)]).first.map {
                ($0["attempts"].integer ?? -1, $0["next_attempt_at"].integer ?? -1)
            }
        }
    }

    @Test func aRecipientWithNoReachableDeviceDoesNotHoldUpAnotherChat() async throws {
        let setup = try await OutboxRetryTests.ready()
        let client = setup.client, timers = setup.timers
        // The engine believes 15550009999 has a phone (a fresh cached device list), but the
        // server has no keys for it: no session can be made, the message cannot go out.
        let nobody = JID(user: "15550009999", server: .whatsApp)
        try client.store.saveDeviceList(DeviceList.Entry(user: nobody, lid: nil, devices: [JID(user: nobody.user, device: 0, server: .whatsApp)]),
                                        now: timers.now)
        let cursor = client.events.latestCursor
        let stuck = try OutboxRetryTests.enqueue(client, to: nobody.user, "nobody can read this")
        let other = try OutboxRetryTests.enqueue(client, to: "15550003333", "hello Carol")
        client.outbox.kick()

        // Carol's message goes out after one attempt of the older one, which waits 2 s ± 20 %.
        _ = try await MessagingTests.event(client, "message.status", after: cursor) {
            $0["message_id"] == .string(other) && $0["status"] == "sent"
        }
        let first = try #require(try OutboxRetryTests.row(client, stuck))
        #expect(first.attempts == 1)
        #expect((1600...2400).contains(first.due - timers.now.milliseconds), "\(first.due - timers.now.milliseconds) ms")
        #expect(try client.store.message(id: stuck)?.status == .queued)

        // Each retry waits 2^n s ± 20 % after the n-th attempt; the 6th attempt fails it.
        var previous = first
        for attempt in 2...6 {
            await timers.waitForSleeper(duration: .milliseconds(previous.due - timers.now.milliseconds))
            timers.advance(by: .milliseconds(previous.due - timers.now.milliseconds))
            guard attempt < 6 else { break }
            try await poll { (try OutboxRetryTests.row(client, stuck)?.attempts ?? 0) == Int64(attempt) }
            let next = try #require(try OutboxRetryTests.row(client, stuck))
            let base = Int64(1000) << attempt
            #expect((base * 4 / 5...base * 6 / 5).contains(next.due - timers.now.milliseconds), "attempt \(attempt): \(next.due - timers.now.milliseconds) ms")
            previous = next
        }
        let failed = try await MessagingTests.event(client, "message.status", after: cursor) {
            $0["message_id"] == .string(stuck) && $0["status"] == "failed"
        }
        #expect(failed.data["reason"]?.stringValue?.contains("6 attempts") == true, "\(failed.data)")
        #expect(try OutboxRetryTests.row(client, stuck) == nil)
        #expect(try client.store.message(id: stuck)?.status == .failed)
        await setup.close()
    }

    @Test func laterMessagesOfAChatWaitForItsFirstAndANumberNotOnWhatsAppFailsAtOnce() async throws {
        let setup = try await OutboxRetryTests.ready()
        let client = setup.client
        let cursor = client.events.latestCursor
        // 15550008888 has no account: usync lists no devices, so it fails without a retry.
        let unknown = try OutboxRetryTests.enqueue(client, to: "15550008888", "are you there?")
        let one = try OutboxRetryTests.enqueue(client, to: "15550003333", "one")
        let two = try OutboxRetryTests.enqueue(client, to: "15550003333", "two")
        client.outbox.kick()
        let failed = try await MessagingTests.event(client, "message.status", after: cursor) {
            $0["message_id"] == .string(unknown) && $0["status"] == "failed"
        }
        #expect(failed.data["reason"]?.stringValue?.contains("not on WhatsApp") == true, "\(failed.data)")
        let sentOne = try await MessagingTests.event(client, "message.status", after: cursor) { $0["message_id"] == .string(one) && $0["status"] == "sent" }
        let sentTwo = try await MessagingTests.event(client, "message.status", after: cursor) { $0["message_id"] == .string(two) && $0["status"] == "sent" }
        #expect(sentOne.cursor < sentTwo.cursor)
        await setup.close()
    }

    /// Issue 11, item 3: a send to a number not on WhatsApp is the error `not_on_whatsapp` naming
    /// the stored message, which is `failed` with its reason — not `ok: true` with `failed`.
    @Test func sendingToANumberNotOnWhatsAppAnswersNotOnWhatsApp() async throws {
        let setup = try await OutboxRetryTests.ready()
        let client = setup.client
        let arguments: JSONValue = ["phone_number": "15550008888", "message": "are you there?", "idempotency_key": "k1"]
        let answer = await client.call("whatsapp_send_message", arguments)
        guard case .failure(let error) = answer else { Issue.record("expected an error, got \(answer)"); await setup.close(); return }
        #expect(error.code == .notOnWhatsApp, "\(error)")
        let id = try #require(error.details?["message_id"]?.stringValue)
        let stored = try #require(try client.store.message(id: id))
        #expect(stored.status == .failed)
        #expect(stored.statusReason?.contains("not on WhatsApp") == true)
        // The same key and arguments again give the same answer.
        guard case .failure(let again) = await client.call("whatsapp_send_message", arguments) else { Issue.record("expected an error"); await setup.close(); return }
        #expect(again.code == .notOnWhatsApp && again.details?["message_id"]?.stringValue == id, "\(again)")
        await setup.close()
    }

    /// Issue 11, item 5: the same idempotency key with the same arguments gives the first result;
    /// with other arguments it is `idempotency_conflict`, and nothing more is sent.
    @Test func anIdempotencyKeyReusedWithOtherArgumentsIsAConflict() async throws {
        let setup = try await OutboxRetryTests.ready()
        let client = setup.client
        let first = try await client.call("whatsapp_send_message", ["phone_number": "15550003333", "message": "lunch?", "idempotency_key": "k2"]).get()
        let same = try await client.call("whatsapp_send_message", ["message": "lunch?", "idempotency_key": "k2", "phone_number": "15550003333"]).get()
        #expect(same["message_id"] == first["message_id"])
        #expect(same[SendMessage.requestKey] == nil)
        let other = await client.call("whatsapp_send_message", ["phone_number": "15550003333", "message": "dinner?", "idempotency_key": "k2"])
        guard case .failure(let error) = other else { Issue.record("expected a conflict, got \(other)"); await setup.close(); return }
        #expect(error.code == .idempotencyConflict, "\(error)")
        #expect(error.details?["message_id"] == first["message_id"])
        let count = try client.store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT count(*) AS n FROM messages WHERE from_me = 1").first?["n"].integer
        }
        #expect(count == 1)
        await setup.close()
    }
}
