import Testing
@testable import WauseCore
@testable import WauseSim
import WauseSupport

/// Issue 11's "open, send, close": a linked client reopened on its data directory is still
/// logging in, yet a send made at once waits for the login and the ack, and `close(flushingFor:)`
/// waits for the outbox and reports what it left queued.
@Suite struct OpenSendCloseTests {
    /// Ada (15550001111) linked to a client that is closed again, and Carol (15550003333) to write to:
    /// the data directory a reopened client starts from.
    static func linkedThenClosed() async throws -> (MessagingTests.Setup, String) {
        let setup = try await MessagingTests.Setup()
        _ = try setup.account("15550001111", "Ada")
        _ = try setup.account("15550003333", "Carol")
        let linked = try await setup.linkedClient("15550001111")
        defer { linked.close() }
        return (setup, linked.config.dataDirectory)
    }

    @Test func aSendRightAfterOpeningWaitsForTheLoginAndReachesThePhone() async throws {
        let (setup, directory) = try await Self.linkedThenClosed()
        let client = try WauseClient(config: setup.config(directory), environment: .live)
        #expect(client.status.versioned().0 != .ready)
        let sent = try await MessagingTests.send(client, to: "15550003333", "open, send, close")
        let report = await client.close(flushingFor: .seconds(5))
        #expect(report.leftQueued == 0)  // flushed may be 1: the receipt can overtake the ack
        let id = try #require(sent["message_id"])
        try await poll { await MessagingTests.inbox(setup.simulator, "15550003333").contains { $0["id"] == id } }
        await setup.close()
    }

    @Test func closeWithTheServerGoneLeavesTheMessageQueuedAndSaysSo() async throws {
        let (setup, directory) = try await Self.linkedThenClosed()
        await setup.simulator.stop()

        let client = try WauseClient(config: setup.config(directory), environment: .live)
        let send = Task { await client.call("whatsapp_send_message", ["phone_number": "15550003333", "message": "left queued"]) }
        // Nothing announces the enqueue: read the outbox until the message is in.
        try await poll { try client.store.outboxCount() == 1 }
        let started = ContinuousClock.now
        let report = await client.close(flushingFor: .milliseconds(300))
        #expect(report == WauseClient.CloseReport(flushed: 0, leftQueued: 1))
        #expect(ContinuousClock.now - started >= .milliseconds(250))
        _ = await send.value  // ends with the client (the store is closed under it)
    }
}
